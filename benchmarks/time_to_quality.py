"""Time to a model that works: train recipes, diagnose held-out figures at fixed wall-clock marks.

Each recipe of ``configs/recipes/time_to_quality.yaml`` (synthetic-64's reconstruction training
with config overrides) trains on the training world; after every epoch the benchmark adds the
epoch's wall time (training and the run's own checkpoints, as a user's run pays them) to its
clock, and when the clock passes a mark (every ``--every`` minutes up to ``--minutes``, and the
recipe's end) it keeps a copy of the checkpoint. After training, every kept checkpoint is
diagnosed (``pcut diagnose``: distinct moving keypoints, pose probe, silhouette IoU, the occlusion
figures) on held-out figures of a world made with another seed (``check_seed``); diagnosing is
not timed. Recipes run one after another in one invocation, so their minutes compare on this
machine; run it alone (a second heavy job slows each torch step 5-60x on 2 cores).

Writes ``<out>/time_to_quality.json`` (every mark of every recipe), ``time_to_quality.md`` (the
table, and the minutes each recipe needed to reach silhouette IoU 0.80 and 0.85 and 8 distinct
keypoints) and ``time_to_quality.png`` (each diagnose figure against minutes, one line per
recipe, the targets dashed; the silhouette IoU panel also draws, dotted and dash-dotted, the IoU
of the warped source alone and of the generator at rest, where the marks measured them).
Prints the CPU's bf16 capability (AMX or AVX512-BF16: native), which decides what a recipe with
``mixed_precision: auto`` computes in (the trainer prints its choice).

    python benchmarks/time_to_quality.py [--recipes demo shipped ...] [--minutes 60] [--every 2.5]
                                         [--out results/time-to-quality] [--runs runs/time-to-quality]
                                         [--data data/synthetic-64] [--seeds 0 2 4] [--readme README.md]
                                         [--quick]
    python benchmarks/time_to_quality.py --from-json results/time-to-quality/time_to_quality.json
                                         [--readme README.md]

    python benchmarks/time_to_quality.py --seed-rows 0 A.json B.json ... [--readme PAGE --marker NAME]

``--readme``: also write the minutes-to-threshold table between its markers in that page
(``<!-- NAME:start/end -->``, NAME ``--marker``, default time-to-quality).
``--from-json``: train nothing; write the table, the plot (and the README block) from a stored run.
``--seed-rows S``: train nothing; print (and with ``--readme`` write) the minutes-to-threshold table
of training seed S's rows from several stored runs, which must share CPU kind, threads, device and
check world.

``--seeds``: train every recipe once per training seed (``train_params.seed``), each a row
named ``<recipe> seed <S>``; without it, each recipe trains once with its config's seed.

``--quick``: a tiny world and the smoke model, marks every few seconds (for tests).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from pcutlib.checkpoints.files import load_models
from pcutlib.config import load_config, resolve_config
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.evaluation.diagnose import TABLE_ROWS, diagnose
from pcutlib.experiments.demo import ensure_check_data
from pcutlib.experiments.recipes import apply_overrides, read_recipe
from pcutlib.experiments.shipped_model import ensure_synthetic_data
from pcutlib.paths import marker_pair, replace_between_markers
from pcutlib.training.device import choose_device, native_bf16
from pcutlib.training.loop import cpu_settings, end_epoch, setup_run, train_epoch

FIGURES = [("silhouette_iou", "silhouette IoU", True, 0.85), ("moving_distinct_keypoints", "distinct moving keypoints",
           True, 8), ("probe_px", "pose probe (px)", False, 2.5), ("occlusion_auc_foreground",
           "O AUC in the foreground", True, 0.8)]
THRESHOLDS = [("silhouette_iou", 0.80), ("silhouette_iou", 0.85), ("moving_distinct_keypoints", 8)]
# drawn in the silhouette IoU panel where the marks have them: where the IoU is lost (pcut diagnose's
# rows, with its labels)
IOU_SPLIT = [(key, style, next(label.strip() for label, field, *_ in TABLE_ROWS if field == key))
             for key, style in (("warped_source_silhouette_iou", ":"), ("silhouette_iou_at_rest", "-."))]


MARKERS = marker_pair("time-to-quality")
QUICK_WORLD = {"videos": 8, "frames": 6, "size": 32, "identities": 4, "test_fraction": 0.5}


def cpu_bf16() -> str:
    """One line: whether this CPU computes bf16 natively (what ``mixed_precision: auto`` decides on)."""
    return native_bf16(torch.device("cpu"))[1]


def run_name(recipe: str, seed: int | None) -> str:
    """A row's name: the recipe's, with `` seed S`` when ``--seeds`` chose the training seed."""
    return recipe if seed is None else f"{recipe} seed {seed}"


def recipe_config(base: str, data: Path, overrides: dict) -> dict:
    """``base`` config reading ``data``, with a recipe's dotted-key overrides, resolved."""
    config = load_config(base)
    config["dataset_params"]["root_dir"] = str(data)
    return resolve_config(apply_overrides(config, overrides))


def training_marks(minutes: float, every: float) -> list[float]:
    """The wall-clock marks (minutes): every ``every`` minutes, and ``minutes`` itself last, so a
    budget that is not a multiple of ``every`` is trained to its end (6, 2.5 -> [2.5, 5.0, 6.0])."""
    if not (minutes > 0 and every > 0):
        raise ValueError(f"--minutes {minutes} and --every {every} must both be positive")
    marks = [every * i for i in range(1, int(minutes / every + 1e-9) + 1)]
    return marks if marks and marks[-1] >= minutes - 1e-9 else [*marks, minutes]


def train_with_marks(config: dict, run_dir: Path, marks: list[float], device, say=print) -> list[dict]:
    """Train ``config`` epoch by epoch, keeping a copy of the checkpoint whenever the training
    clock passes a mark (minutes) and at the end (the last mark or the recipe's last epoch).
    Returns [{"minutes", "mark", "epoch", "step", "checkpoint"}]."""
    with cpu_settings(device):                 # as `pcut train` runs: denormals flushed on the CPU
        return _train_with_marks(config, run_dir, marks, device, say)


def _train_with_marks(config: dict, run_dir: Path, marks: list[float], device, say) -> list[dict]:
    run = setup_run(config, run_dir, device, progress=False, overwrite=True)
    trainer, epochs = run.trainer, config["train_params"]["num_epochs"]
    trainer.models.train()
    clock, kept, pending = 0.0, [], list(marks)
    while trainer.epoch < epochs and pending:
        started = time.perf_counter()
        end_epoch(run, train_epoch(run))
        clock += time.perf_counter() - started
        passed = [mark for mark in pending if clock >= mark * 60]
        if passed or trainer.epoch == epochs:
            pending = [mark for mark in pending if mark not in passed]
            mark = max(passed) if passed else clock / 60
            copy = run_dir / "marks" / f"minute-{clock / 60:07.2f}.pt"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(run.checkpoint_dir / "last.pt", copy)
            samples_per_s = trainer.step * config["train_params"]["batch_size"] / clock
            kept.append({"minutes": clock / 60, "mark": mark, "epoch": trainer.epoch, "step": trainer.step,
                         "samples_per_s": samples_per_s, "checkpoint": str(copy)})
            say(f"  {run_dir.name}: {clock / 60:.2f} min, epoch {trainer.epoch}/{epochs}, step {trainer.step}, "
                f"{samples_per_s:.1f} samples/s")
    if trainer.epoch < epochs:
        say(f"  {run_dir.name}: the {marks[-1]:g}-minute budget ended the run at epoch {trainer.epoch} of {epochs} "
            f"({trainer.step} steps at {clock / max(trainer.step, 1):.3f} s a step)")
    return kept


def diagnosed(kept: list[dict], check: Path, progress: bool, device="cpu") -> list[dict]:
    """Each kept checkpoint's diagnosis on the check world (``pcut diagnose``'s figures), its
    networks on ``device`` (the training device: a GPU diagnoses in seconds)."""
    rows = []
    for entry in kept:
        models, checkpoint = load_models(entry["checkpoint"], device=device, with_discriminator=False)
        diagnosis = diagnose(models, check, checkpoint["config"]["dataset_params"]["frame_shape"], progress=progress)
        figures = {key: value for key, value in diagnosis.to_dict().items() if isinstance(value, (int, float))}
        rows.append({**{k: v for k, v in entry.items() if k != "checkpoint"}, **figures})
    return rows


def first_reaching(rows: list[dict], key: str, threshold: float) -> float:
    """The training minutes at the first mark where ``key`` reached ``threshold`` (NaN: never)."""
    return next((row["minutes"] for row in rows if _number(row.get(key)) >= threshold), math.nan)


def _number(value) -> float:
    return math.nan if value is None else float(value)


def threshold_table(results: dict) -> str:
    """Markdown: each recipe's minutes to each threshold, and its last mark's minutes and figures."""
    lines = ["| recipe | " + " | ".join(f"min to {key.replace('_', ' ')} {t:g}" for key, t in THRESHOLDS)
             + " | trained (min) | at the end: IoU / moving keypoints |", "|---|" + "---|" * (len(THRESHOLDS) + 2)]
    for name, rows in results.items():
        cells = [first_reaching(rows, key, t) for key, t in THRESHOLDS]
        last = rows[-1]
        lines.append(f"| {name} | " + " | ".join("not reached" if math.isnan(c) else f"{c:.1f}" for c in cells)
                     + f" | {last['minutes']:.1f} | {_number(last.get('silhouette_iou')):.3f} / "
                     f"{_number(last.get('moving_distinct_keypoints')):.2f} |")
    return "\n".join(lines)


END_FIGURES = (("silhouette_iou", "IoU", 3), ("warped_source_silhouette_iou", "the warped source", 3),
               ("silhouette_iou_at_rest", "at rest", 3), ("probe_px", "probe px", 2),
               ("moving_distinct_keypoints", "moving keypoints", 2))


def against_table(results: dict, reference: dict, reference_recipe: str) -> str:
    """Markdown: the last mark of every seeded row of ``results`` beside the last mark of
    ``reference_recipe`` on the same seed in ``reference`` (another stored run's results), each
    figure as "value (change)", the reference rows first. A seed the reference lacks is refused."""
    def cells(last: dict, base: dict | None) -> str:
        shown = []
        for key, _, digits in END_FIGURES:
            value = _number(last.get(key))
            change = "" if base is None else f" ({round(value - _number(base.get(key)), digits) + 0.0:+.{digits}f})"
            shown.append(f"{value:.{digits}f}{change}")
        return f"{last['epoch']} | {last['minutes']:.1f} | " + " | ".join(shown)

    lines = ["| row | epochs | trained (min) | " + " | ".join(label for _, label, _ in END_FIGURES) + " |",
             "|---|" + "---|" * (len(END_FIGURES) + 2)]
    seeds = sorted({name.split(" seed ")[1] for name in results if " seed " in name}, key=int)
    for seed in seeds:
        if f"{reference_recipe} seed {seed}" not in reference:
            raise ValueError(f"the reference run has no row '{reference_recipe} seed {seed}'; it has "
                             f"{', '.join(reference)}")
        lines.append(f"| {reference_recipe} seed {seed} (reference) | "
                     f"{cells(reference[f'{reference_recipe} seed {seed}'][-1], None)} |")
    for name, rows in results.items():
        if " seed " in name:
            base = reference[f"{reference_recipe} seed {name.split(' seed ')[1]}"][-1]
            lines.append(f"| {name} | {cells(rows[-1], base)} |")
    return "\n".join(lines)


def recipe_of(row_name: str) -> str:
    """A row's recipe: ``demo seed 3`` -> ``demo``."""
    return row_name.split(" seed ")[0]


def seed_spread_table(results: dict, goals: list[tuple[str, float, float]]) -> str:
    """Markdown, for rows trained with ``--seeds``: per recipe, the last mark's figures over its
    seeds (mean and range) and, per goal (label, silhouette IoU, moving keypoints), how many
    seeds reached both. Empty when no row names a seed."""
    recipes: dict[str, list[dict]] = {}
    for name, rows in results.items():
        if " seed " in name:
            recipes.setdefault(recipe_of(name), []).append(rows[-1])
    if not recipes:
        return ""
    columns = [("silhouette_iou", "IoU", 3), ("moving_distinct_keypoints", "moving keypoints", 2),
               ("probe_px", "probe px", 2), ("epoch", "epochs", 0)]
    lines = ["| recipe | seeds | " + " | ".join(f"{label} mean (min-max)" for _, label, _ in columns) + " | "
             + " | ".join(f"seeds with IoU >= {iou:g} and >= {kp:g} keypoints ({label})" for label, iou, kp in goals)
             + " |", "|---|---|" + "---|" * (len(columns) + len(goals))]
    for recipe, ends in recipes.items():
        cells = []
        for key, _, digits in columns:
            values = [_number(end.get(key)) for end in ends]
            cells.append(f"{sum(values) / len(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})")
        met = [sum(_number(end.get("silhouette_iou")) >= iou and _number(end.get("moving_distinct_keypoints")) >= kp
                   for end in ends) for _, iou, kp in goals]
        lines.append(f"| {recipe} | {len(ends)} | " + " | ".join(cells) + " | "
                     + " | ".join(f"{m} of {len(ends)}" for m in met) + " |")
    return "\n".join(lines)


def goals() -> list[tuple[str, float, float]]:
    """The IoU and keypoint pairs the seed spread counts: the demo's first targets (until its targets
    became the shipped model's figures) and its targets since."""
    return [("the demo's first targets", 0.75, 6), ("the demo's targets, the shipped model's", 0.85, 8)]


def table(results: dict) -> str:
    """Markdown: the threshold table, the spread over seeds (rows with ``--seeds``), then every mark's figures
    (with the IOU_SPLIT columns where any mark measured them)."""
    lines = [threshold_table(results)]
    spread = seed_spread_table(results, goals())
    if spread:
        lines += ["", "The last mark of each recipe over its training seeds (the reconstruction model, "
                  "diagnosed on the check world):", "", spread]
    measured = {key for rows in results.values() for row in rows for key in row}
    columns = [(key, label) for key, label, _, _ in FIGURES] + [
        (key, f"IoU: {label}") for key, _, label in IOU_SPLIT if key in measured]
    lines += ["", "| recipe | minutes | epoch | step | " + " | ".join(label for _, label in columns) + " |",
              "|---|---|---|---|" + "---|" * len(columns)]
    for name, rows in results.items():
        for row in rows:
            cells = [_number(row.get(key)) for key, _ in columns]
            lines.append(f"| {name} | {row['minutes']:.1f} | {row['epoch']} | {row['step']} | "
                         + " | ".join("–" if math.isnan(c) else f"{c:.3g}" for c in cells) + " |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> Figure:
    """Each FIGURES entry against training minutes, one line per recipe, its target dashed; the
    silhouette IoU panel also draws the IoU_SPLIT figures of the marks that have them."""
    fig = Figure(figsize=(9, 6.4))
    axes = fig.subplots(2, 2).ravel()
    colours = {recipe: f"C{i}" for i, recipe in enumerate(dict.fromkeys(map(recipe_of, results)))}
    for ax, (key, label, higher, target) in zip(axes, FIGURES):
        labelled = set()
        for name, rows in results.items():       # one colour a recipe; its seeds' lines share it
            recipe = recipe_of(name)
            ax.plot([row["minutes"] for row in rows], [_number(row.get(key)) for row in rows], marker="o",
                    markersize=3, color=colours[recipe], linewidth=1, label=None if recipe in labelled else recipe)
            labelled.add(recipe)
            for split, style, what in IOU_SPLIT if key == "silhouette_iou" else ():
                if any(split in row for row in rows):
                    ax.plot([row["minutes"] for row in rows], [_number(row.get(split)) for row in rows], style,
                            color=colours[recipe], linewidth=1, label=None if what in labelled else what)
                    labelled.add(what)
        ax.axhline(target, color="gray", linestyle="--", linewidth=0.8)
        ax.set_title(f"{label} ({'higher' if higher else 'lower'} is better; target {target:g})", fontsize=9)
        ax.set_xlabel("training minutes on this machine", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    recipes = read_recipe("time_to_quality")["recipes"]
    parser.add_argument("--recipes", nargs="+", default=["demo", "shipped"], choices=list(recipes),
                        help="recipes to run, in order (default: demo shipped)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training minutes per recipe at most")
    parser.add_argument("--every", type=float, default=2.5, help="minutes between two marks")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"), help="training world (made if missing)")
    parser.add_argument("--runs", type=Path, default=Path("runs/time-to-quality"))
    parser.add_argument("--out", type=Path, default=Path("results/time-to-quality"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train each recipe once per training seed (default: the config's seed, once)")
    parser.add_argument("--quick", action="store_true", help="a tiny world and the smoke model, for tests")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also write the minutes-to-threshold table between its markers in this page (README.md)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows of <out>/time_to_quality.json (written after every row) and train only "
                             "the missing ones; refused when that file was measured with another CPU or thread count")
    parser.add_argument("--retrain", nargs="+", default=[], metavar="ROW",
                        help="with --resume: train these stored rows again (e.g. 'demo seed 3', one that a "
                             "busy machine cut short); the JSON's command then names both runs")
    parser.add_argument("--marker", default="time-to-quality", help="the --readme page's marker pair's name")
    parser.add_argument("--seed-rows", nargs="+", default=None, metavar="S JSON",
                        help="train nothing: seed S's rows of these stored time_to_quality.json files, one table")
    parser.add_argument("--from-json", type=Path, default=None, metavar="JSON",
                        help="train nothing: write the table, plot (and --readme) from a stored time_to_quality.json")
    parser.add_argument("--against", nargs=2, default=None, metavar=("JSON", "RECIPE"),
                        help="with --from-json: only a table of each seeded row's last mark beside RECIPE's on the "
                             "same seed in another stored time_to_quality.json (and --readme's block at --marker)")
    args = parser.parse_args(argv)
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    if args.seed_rows is not None and (len(args.seed_rows) < 2 or not args.seed_rows[0].isdigit()):
        parser.error(f"--seed-rows takes a training seed, then stored time_to_quality.json files; got {args.seed_rows}")
    if args.against is not None and args.from_json is None:
        parser.error(f"--against {' '.join(args.against)} compares a stored run: give it with --from-json")
    if args.retrain and not args.resume:
        parser.error(f"--retrain {args.retrain} needs --resume")
    if args.minutes <= 0 or args.every <= 0:
        parser.error(f"--minutes and --every must be > 0, got {args.minutes} and {args.every}")
    return args


def seed_rows(documents: list[dict], seed: int) -> dict:
    """The rows ``<recipe> seed <seed>`` of several stored runs, in their order: {row name: marks}.
    Runs measured on another CPU kind, thread count, device or check world are refused (their
    minutes would not compare), as is a row name stored twice."""
    keys = ("cpu_bf16", "threads", "device", "check_seed")
    first = {key: documents[0].get(key) for key in keys}
    rows: dict[str, list[dict]] = {}
    for document in documents:
        other = {key: document.get(key) for key in keys}
        if other != first:
            raise ValueError(f"stored runs differ in {', '.join(k for k in keys if other[k] != first[k])}: "
                             f"{first} against {other} ({document['command']})")
        for name, marks in document["results"].items():
            if name.endswith(f" seed {seed}"):
                if name in rows:
                    raise ValueError(f"row {name!r} is stored in two of the runs")
                rows[name] = marks
    if not rows:
        raise ValueError(f"no row of training seed {seed} in the stored runs")
    return rows


def write_outputs(document: dict, out: Path, readme: Path | None, marker: str = "time-to-quality") -> str:
    """time_to_quality.{json,md,png} in ``out`` from ``document``, and the README block; returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "time_to_quality.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    text = table(document["results"])
    machine = f"CPU bf16: {document['cpu_bf16']}" + (f"; GPU: {document['gpu']}" if document.get("gpu") else "")
    (out / "time_to_quality.md").write_text(f"# Time to quality\n\nWritten by `{document['command']}` "
                                            f"({machine}).\n\n{text}\n")
    plot(document["results"], out / "time_to_quality.png")
    if readme is not None:
        replace_between_markers(readme, threshold_table(document["results"]), *marker_pair(marker))
        print(f"rewrote the time-to-quality table of {readme}")
    return text


def resumed_rows(path: Path, document: dict, retrain: list[str] = (), say=print) -> dict:
    """The rows of a stored time_to_quality.json that ``--resume`` keeps, less ``retrain`` (each
    must be stored); none when the file is missing (said); an error when it was measured on
    another CPU kind, thread count, device, GPU or check world, whose minutes would not compare with
    this run's. ``document["command"]`` then names the stored run's command too."""
    if not path.is_file():
        if retrain:
            raise ValueError(f"--retrain {list(retrain)}: there is no {path} to retrain rows of")
        say(f"--resume: no {path} yet; every row trains")
        return {}
    stored = json.loads(path.read_text())
    differing = {key: (stored.get(key), document.get(key)) for key in ("cpu_bf16", "threads", "device", "gpu",
                                                                        "check_seed")
                 if stored.get(key) != document.get(key)}
    if differing:
        raise ValueError(f"--resume: {path} was measured with {differing} (stored, now): its minutes do not "
                         f"compare with this run's; choose another --out or drop --resume")
    missing = [row for row in retrain if row not in stored["results"]]
    if missing:
        raise ValueError(f"--retrain {missing}: no such row in {path}; stored: {', '.join(stored['results'])}")
    kept = {name: rows for name, rows in stored["results"].items() if name not in retrain}
    say(f"--resume: keeping {len(kept)} rows of {path}: {', '.join(kept) or 'none'}"
        + (f"; training again: {', '.join(retrain)}" if retrain else ""))
    document["command"] = f"{stored['command']}; resumed by {document['command']}"
    return kept


def main(argv=None) -> int:
    args = parse_arguments(argv)
    if args.against is not None:
        reference = json.loads(Path(args.against[0]).read_text())["results"]
        text = against_table(json.loads(args.from_json.read_text())["results"], reference, args.against[1])
        if args.readme is not None:
            replace_between_markers(args.readme, text, *marker_pair(args.marker))
        print(text)
        return 0
    if args.from_json is not None:
        print(write_outputs(json.loads(args.from_json.read_text()), args.out, args.readme, args.marker))
        return 0
    if args.seed_rows is not None:
        seed, *paths = args.seed_rows
        text = threshold_table(seed_rows([json.loads(Path(path).read_text()) for path in paths], int(seed)))
        if args.readme is not None:
            replace_between_markers(args.readme, text, *marker_pair(args.marker))
        print(text)
        return 0
    recipe = read_recipe("time_to_quality")
    device = choose_device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"CPU bf16: {cpu_bf16()}; torch threads: {torch.get_num_threads()}; device: {device}"
          + (f" ({gpu})" if gpu else ""))
    if args.quick:
        data = make_synthetic_dataset(args.runs / "world", progress=False, overwrite=True, seed=0, **QUICK_WORLD)
        check = make_synthetic_dataset(args.runs / "check", progress=False, overwrite=True, seed=recipe["check_seed"],
                                       **QUICK_WORLD)
        base = "smoke"
    else:
        data = ensure_synthetic_data(args.data)
        check = ensure_check_data(Path(f"{args.data}-check"), data, recipe["check_seed"], progress=True)
        base = "synthetic-64"
    marks = training_marks(args.minutes, args.every)
    document = {"command": "python benchmarks/time_to_quality.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "cpu_bf16": cpu_bf16(), "threads": torch.get_num_threads(), "device": str(device),
                "check_seed": recipe["check_seed"], "results": {}, **({"gpu": gpu} if gpu else {})}
    if args.resume:
        document["results"] = resumed_rows(args.out / "time_to_quality.json", document, args.retrain)
    results = document["results"]
    for name in args.recipes:
        for seed in args.seeds or [None]:
            row = run_name(name, seed)
            if row in results:
                continue
            seed_override = {} if seed is None else {"train_params.seed": seed}
            config = recipe_config(base, data, {**recipe["recipes"][name]["overrides"], **seed_override})
            if args.quick:
                config["train_params"]["num_epochs"] = 3
            print(f"{row}: {recipe['recipes'][name]['note']}")
            kept = train_with_marks(config, args.runs / row.replace(" ", "-"), marks, device)
            results[row] = diagnosed(kept, check, progress=False, device=device)
            write_outputs(document, args.out, None)          # a later --resume keeps the rows so far
    print(write_outputs(document, args.out, args.readme))
    print(f"wrote {args.out}/time_to_quality.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
