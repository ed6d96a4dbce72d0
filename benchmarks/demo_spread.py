"""The demo's targets over seeds: ``pcut demo`` run once per training seed, and the spread.

One demo run proves little: a new user's run on a busy machine missed targets that the
README's run met. This script runs the whole demo (``pcut demo --seed S``: reconstruction
training, the PriorityCut fine-tune, evaluation, the diagnosis of held-out figures of the
seed-1 world) for each seed, one after another, each in ``<runs>/seed-S``, and reads each run's
``demo.json``. With ``--fresh-data`` every run makes its own training world first (in its own
folder), so its minutes are those of the demo from an empty folder; otherwise the runs share
``--data`` (made by the first run if missing) and the worlds' making is not timed.

Writes ``<out>/demo_spread.json`` (every run's figures and verdicts), ``seed-S-animation_keypoints.png``
(each run's keypoints and result, from its fine-tune folder) and ``demo_spread.md``: per
target, the figures' minimum, median and maximum over the runs and in how many runs it was met,
and in how many runs every target was met. Run it alone (2 cores: a second heavy job slows each
torch step 5-60x, and the wall-time target counts).

    python benchmarks/demo_spread.py [--seeds 0 1 2 3 4] [--fresh-data] [--runs runs/demo-spread]
                                     [--out results/demo-spread] [--readme README.md] [--quick]
                                     [--set KEY=VALUE ...]
    python benchmarks/demo_spread.py --from-json results/demo-spread/demo_spread.json [--readme README.md]
    python benchmarks/demo_spread.py --compare A/demo_spread.json B/demo_spread.json ... [--readme README.md]
    python benchmarks/demo_spread.py --paired REFERENCE/demo_spread.json CANDIDATE/demo_spread.json
                                     [--sessions-differ] [--readme PAGE --marker NAME]

``--readme``: also write the spread table between its markers in that page (``--marker NAME``:
the ``NAME`` block instead of ``demo-spread``); ``--from-json``: train nothing, rewrite the table
(and ``--readme``'s block) from a stored run; given several, one spread merged from them (a spread
run in parts over other seeds: a seed in two parts, or parts of other overrides, are refused).

``--compare``: train nothing; score several stored spreads (earlier recipes of the demo) against
today's targets of ``configs/recipes/demo.yaml``, one row per spread (``--readme``: between the
demo-recipes markers).

``--set KEY=VALUE``: passed to every run's ``pcut demo --set`` (a recipe of the demo not yet
in ``configs/recipes/demo.yaml``); each run's ``demo.json`` records the overrides it trained with.

``--paired``: train nothing; two stored spreads of the same seeds, a candidate recipe against the
reference, paired by training seed: per target, each seed's difference (candidate minus reference),
the paired 95% t-interval, and the smallest difference those seeds detect with 80% power.
Silhouette IoU is the primary figure (the target no demo recipe has met), tested at 5%; the
others form one Holm family (their detectable differences at 5% / m); wall time joins it only
when both spreads record one machine and ``--sessions-differ`` is not given (the two spreads ran in
other sessions of that machine kind, whose step time drifts). ``--readme PAGE --marker NAME``: the
table between that page's ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers.

``--quick``: the smoke model on a tiny world for a couple of epochs (for tests).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
from pathlib import Path

from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.evaluation.metrics import percent_below
from pcutlib.experiments.demo import TARGET_KEYS, add_demo_arguments, demo_recipe, run_demo, targets_met
from pcutlib.experiments.recipes import parse_assignment
from pcutlib.experiments.seed_statistics import ALPHA, holm, minimum_detectable_difference, paired_t
from pcutlib.paths import replace_between_markers

QUICK_WORLD = {"videos": 8, "frames": 6, "size": 32, "identities": 4, "test_fraction": 0.5}
LABELS = {"l1_below_copy_percent": "held-out L1 below copying (%)",
          "animation_l1_below_copy_percent": "animation L1 below copying (%)", "moving_distinct_keypoints":
          "moving distinct keypoints", "silhouette_iou": "silhouette IoU", "minutes": "wall time (min)"}
MARKERS = ("<!-- demo-spread:start -->", "<!-- demo-spread:end -->")
RECIPE_MARKERS = ("<!-- demo-recipes:start -->", "<!-- demo-recipes:end -->")


def demo_arguments(seed: int, runs: Path, data: Path, quick: bool, assignments=()) -> argparse.Namespace:
    """``pcut demo``'s arguments for one seed's run (``--quick``: smoke config, 1 + 1 epochs;
    ``assignments``: ``--set`` texts "key=value" passed on)."""
    argv = ["--seed", str(seed), "--runs", str(runs), "--data", str(data), "--no-progress"]
    argv += [part for text in assignments for part in ("--set", text)]
    if quick:
        argv += ["--config", "smoke", "--reconstruction-epochs", "1", "--finetune-epochs", "1",
                 "--check-data", str(data.parent / "check")]
    return add_demo_arguments(argparse.ArgumentParser()).parse_args(argv)


def spread(summaries: list[dict]) -> str:
    """Markdown: per target, min / median / max over the runs and how many met it; then all-met runs.
    The targets are the runs' own (a run stored before a target existed shows the ones it had)."""
    targets = summaries[0]["targets"]
    lines = ["| target | required | min | median | max | runs that met it |", "|---|---|---|---|---|---|"]
    for key in (key for key in TARGET_KEYS if key in targets):
        values = [s["figures"][key] for s in summaries if s["figures"][key] is not None]
        met = sum(s["met"][key] for s in summaries)
        required = f"{'<=' if key == 'minutes' else '>='} {targets[key]}"
        cells = [f"{v:.3g}" for v in (min(values), statistics.median(values), max(values))] if values else ["-"] * 3
        lines.append(f"| {LABELS[key]} | {required} | " + " | ".join(cells) + f" | {met} of {len(summaries)} |")
    every = sum(all(s["met"].values()) for s in summaries)
    lines += ["", f"Every target met in {every} of {len(summaries)} runs (seeds "
              f"{', '.join(str(s['seed']) for s in summaries)})."]
    return "\n".join(lines)


def rescored(run: dict, targets: dict) -> dict:
    """A stored run's figure for every target key and whether each meets ``targets``. A run stored
    before the animation target existed gets that figure from its PriorityCut model's diagnosis."""
    figures = dict(run["figures"])
    if "animation_l1_below_copy_percent" not in figures:
        diagnosis = run["diagnoses"]["demo pcut"]
        figures["animation_l1_below_copy_percent"] = percent_below(diagnosis["animation_l1"], diagnosis["copy_animation_l1"])
    return {"seed": run["seed"], "figures": figures, "met": targets_met(figures, targets)}


def recipes_table(spreads: dict[str, list[dict]], targets: dict) -> str:
    """Markdown, one row per stored spread ({name: runs}): per target of ``targets``, in how many runs
    it was met (the figure's range), then in how many runs every target was."""
    lines = ["| stored spread | " + " | ".join(f"{LABELS[key]} {'<=' if key == 'minutes' else '>='} {targets[key]}"
                                             for key in TARGET_KEYS) + " | every target |",
             "|---|" + "---|" * (len(TARGET_KEYS) + 1)]
    for name, runs in spreads.items():
        scored = [rescored(run, targets) for run in runs]
        cells = []
        for key in TARGET_KEYS:
            values = [run["figures"][key] for run in scored]
            cells.append(f"{sum(run['met'][key] for run in scored)} of {len(scored)} "
                         f"({min(values):.3g}-{max(values):.3g})")
        every = sum(all(run["met"].values()) for run in scored)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {every} of {len(scored)} |")
    return "\n".join(lines)


PRIMARY_KEY = "silhouette_iou"


def paired_rows(reference: list[dict], candidate: list[dict], sessions_differ: bool = False) -> list[dict]:
    """Per target key: the training seeds both spreads ran, each seed's difference candidate minus
    reference, ``paired_t`` of them and the smallest difference detectable at that spread with 80%
    power. The primary figure (``PRIMARY_KEY``) is tested at 5%; the secondary ones form one Holm
    family of m tests, each detectable difference at 5% / m. Wall time joins that family only where
    ``same_machine`` (every run of both records the same ``machine``) and not ``sessions_differ`` (the
    spreads ran in other sessions on that machine kind, whose step time drifts between sessions); else
    its p is NaN (descriptive: the minutes differ by machine or session too). A seed that only one
    spread ran is left out; none in common is an error naming both lists. (Figures a run stored before its target existed are read from its
    diagnosis, as ``rescored``.)"""
    machines = [run.get("machine") for run in reference + candidate]
    same_machine = None not in machines and all(machine == machines[0] for machine in machines)
    minutes_note = ("machines differ or unrecorded" if not same_machine
                    else "other sessions of one machine kind" if sessions_differ else None)
    today = demo_recipe()["targets"]
    reference = [rescored(run, today) for run in reference]      # figures an older run lacks
    candidate = [rescored(run, today) for run in candidate]
    by_seed = {run["seed"]: run for run in reference}
    seeds = [run["seed"] for run in candidate if run["seed"] in by_seed]
    if not seeds:
        raise ValueError(f"no training seed in common: reference {sorted(by_seed)}, "
                         f"candidate {[run['seed'] for run in candidate]}")
    mine = {run["seed"]: run for run in candidate}
    tested = [key for key in TARGET_KEYS if key != PRIMARY_KEY and (key != "minutes" or minutes_note is None)]
    rows = []
    for key in TARGET_KEYS:
        differences = [mine[s]["figures"][key] - by_seed[s]["figures"][key] for s in seeds
                       if mine[s]["figures"].get(key) is not None and by_seed[s]["figures"].get(key) is not None]
        result = paired_t(differences)
        if key != PRIMARY_KEY and key not in tested:
            result["p"] = math.nan
        alpha = ALPHA if key == PRIMARY_KEY else ALPHA / len(tested)
        rows.append({"key": key, "seeds": seeds, "differences": differences, "minutes_note": minutes_note, **result,
                     "detectable": minimum_detectable_difference(result["sd"], result["n"], alpha=alpha)})
    secondary = holm({row["key"]: row["p"] for row in rows if row["key"] in tested})
    for row in rows:
        row["p_adjusted"] = row["p"] if row["key"] == PRIMARY_KEY else secondary.get(row["key"], math.nan)
    return rows


def paired_table(rows: list[dict]) -> str:
    """Markdown of ``paired_rows``: one row per target, the primary first."""
    lines = ["| figure (candidate - reference) | per seed | mean | 95% interval | p | p (Holm, secondary) "
             "| detectable (80% power) |", "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r["key"] != PRIMARY_KEY):
        label = LABELS[row["key"]] + (" (primary)" if row["key"] == PRIMARY_KEY else "")
        if row["key"] == "minutes" and row["minutes_note"]:
            label += f", {row['minutes_note']}: not the recipe's alone"
        per_seed = ", ".join(f"{s}: {d:+.3g}" for s, d in zip(row["seeds"], row["differences"]))
        untested = row["key"] != PRIMARY_KEY and math.isnan(row["p_adjusted"])
        holm_cell = "-" if row["key"] == PRIMARY_KEY or untested else f"{row['p_adjusted']:.3g}"
        p_cell = "not tested" if untested else f"{row['p']:.3g}"
        detectable = "-" if untested else f"{row['detectable']:.3g}"
        lines.append(f"| {label} | {per_seed} | {row['mean']:+.3g} | [{row['low']:+.3g}, {row['high']:+.3g}] "
                     f"| {p_cell} | {holm_cell} | {detectable} |")
    return "\n".join(lines)


def keep_picture(runs: Path, seed: int, out: Path) -> None:
    """Copies the run's ``animation_keypoints.png`` (source, driving and result with the keypoints, written
    by ``pcut demo`` into its ``*-prioritycut`` folder) to ``<out>/seed-S-animation_keypoints.png``, so a
    stored spread shows what each run learned; says so in one line when the run wrote none."""
    pictures = sorted(runs.glob("*-prioritycut/animation_keypoints.png"))
    if not pictures:
        print(f"no */animation_keypoints.png under {runs}: seed {seed}'s picture not kept")
        return
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pictures[0], out / f"seed-{seed}-animation_keypoints.png")


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds, one run each")
    parser.add_argument("--fresh-data", action="store_true", help="each run makes its own training world (timed)")
    parser.add_argument("--data", type=Path, default=Path(demo_recipe()["data"]), help="the shared training world")
    parser.add_argument("--runs", type=Path, default=Path("runs/demo-spread"))
    parser.add_argument("--out", type=Path, default=Path("results/demo-spread"))
    parser.add_argument("--quick", action="store_true", help="the smoke model on a tiny world, for tests")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="pcut demo --set for every run: a config key after the demo recipe's overrides")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also write the spread table between the demo-spread markers of this page")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="train nothing: write the table (and --readme) from a stored demo_spread.json "
                             "(several: merged)")
    parser.add_argument("--compare", type=Path, nargs="+", default=None, metavar="JSON",
                        help="train nothing: score these stored demo_spread.json files against today's targets")
    parser.add_argument("--paired", type=Path, nargs=2, default=None, metavar=("REFERENCE", "CANDIDATE"),
                        help="train nothing: the candidate spread against the reference, paired by training seed")
    parser.add_argument("--sessions-differ", action="store_true",
                        help="with --paired: the spreads ran in other sessions of one machine kind; wall time "
                             "is described, not tested (the step time drifts between sessions)")
    parser.add_argument("--marker", default=None,
                        help="with --readme: the page's block NAME (a spread's default: demo-spread; "
                             "--paired needs one)")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    if args.sessions_differ and args.paired is None:
        parser.error("--sessions-differ describes two spreads of --paired; give --paired REFERENCE CANDIDATE")
    if args.paired is not None and args.readme is not None and args.marker is None:
        parser.error("--paired with --readme needs --marker NAME (the page's block to write)")
    for text in args.set:               # a malformed one fails here, before the first run
        try:
            parse_assignment(text)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    return args


def merged(documents: list[dict], command: str) -> dict:
    """One spread from several stored ones (a spread run in parts, each over other seeds): their
    runs in the order given, the command that merged them with each part's command after it.
    Refused: a seed in two parts, or parts whose runs trained with other overrides."""
    runs = [run for document in documents for run in document["runs"]]
    seeds = [run["seed"] for run in runs]
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} are in more than one of the spreads to merge; each seed once")
    overrides = [run.get("overrides") for run in runs]
    if any(o != overrides[0] for o in overrides):
        raise ValueError(f"the spreads' runs trained with other overrides: {overrides}; merge runs of one recipe only")
    return {"command": command + "; the parts: " + "; ".join(document["command"] for document in documents),
            "runs": runs}


def markers(name: str | None, default: tuple[str, str] = MARKERS) -> tuple[str, str]:
    """A page's block markers: ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, or ``default``."""
    return default if name is None else (f"<!-- {name}:start -->", f"<!-- {name}:end -->")


def write_outputs(document: dict, out: Path, readme: Path | None, marker: str | None = None) -> str:
    """demo_spread.{json,md} in ``out`` from ``{"command", "runs"}``, and the README block; the table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_spread.json").write_text(json.dumps(document, indent=1) + "\n")
    text = spread(document["runs"])
    (out / "demo_spread.md").write_text(f"# The demo over seeds\n\nWritten by `{document['command']}`.\n\n{text}\n")
    if readme is not None:
        replace_between_markers(readme, text, *markers(marker))
        print(f"rewrote the demo-spread table of {readme}")
    return text


def command_line(argv) -> str:
    """This script's command line as typed (``argv`` given: as a test called it), for the records."""
    return "python benchmarks/demo_spread.py " + " ".join(sys.argv[1:] if argv is None else argv)


def main(argv=None) -> int:
    args = parse_arguments(argv)
    if args.from_json is not None:
        documents = [json.loads(path.read_text()) for path in args.from_json]
        if len(documents) > 1:
            documents = [merged(documents, command_line(argv))]
        print(write_outputs(documents[0], args.out, args.readme, args.marker))
        return 0
    if args.paired is not None:
        reference, candidate = (json.loads(path.read_text())["runs"] for path in args.paired)
        text = paired_table(paired_rows(reference, candidate, args.sessions_differ))
        if args.readme is not None:
            replace_between_markers(args.readme, text, *markers(args.marker))
        print(text)
        return 0
    if args.compare is not None:
        spreads = {path.parent.name: json.loads(path.read_text())["runs"] for path in args.compare}
        text = recipes_table(spreads, demo_recipe()["targets"])
        if args.readme is not None:
            replace_between_markers(args.readme, text, *RECIPE_MARKERS)
        print(text)
        return 0
    summaries = []
    for seed in args.seeds:
        runs = args.runs / f"seed-{seed}"
        data = runs / "data" if args.fresh_data else args.data
        if args.quick:
            data = args.runs / "world" / "train"
            if not (data / "synthetic.json").is_file():
                make_synthetic_dataset(data, progress=False, overwrite=True, seed=0, **QUICK_WORLD)
                make_synthetic_dataset(data.parent / "check", progress=False, overwrite=True, seed=1, **QUICK_WORLD)
        print(f"demo, seed {seed} -> {runs}" + (" (its own world)" if args.fresh_data else ""), flush=True)
        run_demo(demo_arguments(seed, runs, data, args.quick, args.set))
        summaries.append(json.loads((runs / "demo.json").read_text()))
        keep_picture(runs, seed, args.out)
    print(write_outputs({"command": command_line(argv), "runs": summaries}, args.out, args.readme))
    print(f"wrote {args.out}/demo_spread.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
