"""The shipped PriorityCut fine-tunes, and the kept model they were fine-tuned from, on a test world:
held-out figures of a world that no setting was chosen on.

Every calibration row, recipe and shipped model of this repository was chosen by its figures on
the held-out videos of data/synthetic-64-check (seed 1): for those models that world is a
validation set. This script makes a second world of the same kind with TEST_WORLD_SEED, which
nothing else in the repository reads (keep it so: a setting chosen on it would make it a
validation set too), runs ``pcut diagnose`` on the shipped models of MODELS there, and sets
each one's targets beside its figures on the validation world (results/diagnosis-*.json):

    python tools/test_world.py                      # world (if missing), diagnoses, table, README
    python tools/test_world.py --models kept        # diagnose these only; the others' stored JSON stays
    python tools/test_world.py --from-json          # the table and README block from the stored JSON

Writes results/test-world/<model>.json (``Diagnosis.to_dict``), results/test-world/test_world.md
and the README's block between <!-- test-world:start/end -->. tests/test_test_world.py checks the
README against the stored files.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_WORLD_SEED = 20261207          # read by nothing else in the repository
TEST_WORLD = REPO / "data" / "synthetic-64-test"
VALIDATION_WORLD = REPO / "data" / "synthetic-64-check"
TEST_WORLD_VIDEOS = 100            # as data/synthetic-64-check (pcut make-synthetic --videos 100 --seed 1)
OUT = REPO / "results" / "test-world"
# short name: (checkpoint, its diagnosis on the validation world, data/synthetic-64-check)
MODELS = {
    "first": ("pretrained/synthetic-64-prioritycut.pt", "results/diagnosis-prioritycut.json"),
    "revealed": ("pretrained/synthetic-64-revealed-prioritycut.pt", "results/diagnosis-revealed-prioritycut.json"),
    "kept (no fine-tune)": ("pretrained/synthetic-64-revealed-kept.pt", "results/diagnosis-revealed-kept.json"),
    "kept": ("pretrained/synthetic-64-revealed-kept-prioritycut.pt", "results/diagnosis-revealed-kept-prioritycut.json"),
}
# (measure, TARGETS name, digits): one row per target of pcut diagnose (pcutlib.evaluation.targets)
ROWS = [("moving distinct keypoints (of 10)", "moving_distinct_keypoints", 2),
        ("keypoint->joint probe px (silhouette-statistics probe)", "probe_px", 2),
        ("silhouette IoU", "silhouette_iou", 3),
        ("mean O on figure pixels at rest", "occlusion_at_rest", 3),
        ("AUC of 1 - O inside PriorityCut's foreground", "occlusion_auc_foreground", 3),
        ("AUC of 1 - O on figure pixels", "occlusion_auc_figure", 3),
        ("mask lift over random foreground pixels", "mask_lift", 2),
        ("discriminator pixel AUC against the true dis-occlusion", "d_pixel_auc_true_disocclusion", 3),
        ("animation L1 / copying the source", "animation_l1", 3)]


def json_path(model: str) -> Path:
    """results/test-world/<checkpoint's name without .pt>.json"""
    return OUT / f"{Path(MODELS[model][0]).stem}.json"


def check_world_kind(root: Path) -> None:
    """The test world must be the validation world's kind: its synthetic.json equal but for the seed."""
    if not (VALIDATION_WORLD / "synthetic.json").exists():
        print(f"note: {VALIDATION_WORLD} is missing, so the test world's kind is not compared with it")
        return
    test, validation = (json.loads((world / "synthetic.json").read_text()) for world in (root, VALIDATION_WORLD))
    differ = sorted(key for key in set(test) | set(validation) if key != "seed" and test.get(key) != validation.get(key))
    if differ:
        raise SystemExit(f"{root} differs from {VALIDATION_WORLD} in {differ}, not only in the seed: remove it and "
                         f"run again")


def make_test_world(root: Path = TEST_WORLD, progress: bool = True) -> Path:
    """``root`` (data/synthetic-64-test) made as data/synthetic-64-check but with TEST_WORLD_SEED; kept if
    present and made with that seed, refused if made with another."""
    from pcutlib.data.make_synthetic import make_synthetic_dataset
    if (root / "synthetic.json").exists():
        recorded = json.loads((root / "synthetic.json").read_text()).get("seed")
        if recorded != TEST_WORLD_SEED:
            raise SystemExit(f"{root} was made with seed {recorded}, expected the test world's: remove it and run again")
        print(f"test world: {root} (present)")
    else:
        make_synthetic_dataset(root, videos=TEST_WORLD_VIDEOS, seed=TEST_WORLD_SEED, progress=progress)
    check_world_kind(root)
    return root


def diagnose_on_test_world(checkpoint: Path, progress: bool = True) -> dict:
    """pcut diagnose of ``checkpoint`` on the test world's held-out videos -> Diagnosis.to_dict()."""
    from pcutlib.evaluation.diagnose_command import diagnose_checkpoint
    return diagnose_checkpoint(checkpoint, TEST_WORLD, progress=progress)[0].to_dict()


def cell(fields: dict, name: str, digits: int) -> str:
    """One target's figure from a stored diagnosis: the probe with its baseline, the animation L1 as a
    share of copying the source's."""
    from pcutlib.evaluation.diagnose import number_text
    if name == "probe_px":
        return f"{number_text(fields['probe_px'], digits)} ({number_text(fields['silhouette_probe_px'], digits)})"
    if name == "animation_l1":
        return number_text(fields["animation_l1"] / fields["copy_animation_l1"], digits)
    return number_text(fields[name], digits)


def targets_met(fields: dict) -> str:
    """'9 of 10' from a stored diagnosis (targets.target_verdicts)."""
    from pcutlib.evaluation.diagnose import Diagnosis
    from pcutlib.evaluation.targets import count_met
    return "{} of {}".format(*count_met(Diagnosis(**fields)))


def table(diagnoses: dict) -> str:
    """{model: {"validation": fields, "test": fields}} -> markdown: one row per target, a column per model
    and world, then the target (pcutlib.evaluation.targets.TARGETS' text)."""
    from pcutlib.evaluation.targets import TARGETS
    columns = [(model, world) for model in diagnoses for world in ("validation", "test")]
    lines = ["| measure | " + " | ".join(f"{model}, {world}" for model, world in columns) + " | target |",
             "|---|" + "---|" * (len(columns) + 1)]
    for measure, name, digits in ROWS:
        target = TARGETS[name].text + ("; below the silhouette probe" if name == "probe_px" else "")
        lines.append(f"| {measure} | " + " | ".join(cell(diagnoses[m][w], name, digits) for m, w in columns)
                     + f" | {target} |")
    lines.append("| targets met | " + " | ".join(targets_met(diagnoses[m][w]) for m, w in columns) + " | |")
    return "\n".join(lines)


def stored_diagnoses() -> dict:
    """Both worlds' stored diagnoses of every model in MODELS."""
    missing = [str(json_path(model)) for model in MODELS if not json_path(model).exists()]
    if missing:
        raise SystemExit(f"no stored test-world diagnosis: {', '.join(missing)} (run without --from-json)")
    return {model: {"validation": json.loads((REPO / validation).read_text()),
                    "test": json.loads(json_path(model).read_text())}
            for model, (_, validation) in MODELS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-json", action="store_true", help="diagnose nothing: the table from the stored JSON")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), metavar="MODEL",
                        help=f"which models to diagnose (default: all of {', '.join(map(repr, MODELS))}); the "
                             f"others' stored diagnoses are kept")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md", help="the page with the test-world block")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.from_json:
        make_test_world(progress=not args.no_progress)
        diagnosed = {}
        for model in args.models:
            checkpoint = MODELS[model][0]
            print(f"diagnosing {checkpoint} on {TEST_WORLD}/test")
            diagnosed[model] = diagnose_on_test_world(REPO / checkpoint, progress=not args.no_progress)
        OUT.mkdir(parents=True, exist_ok=True)                  # written only once every model asked for ran
        for model, fields in diagnosed.items():
            json_path(model).write_text(json.dumps(fields, indent=2) + "\n")
    stored = stored_diagnoses()
    text = table(stored)
    held_out = sorted({worlds["test"]["videos"] for worlds in stored.values()})
    (OUT / "test_world.md").write_text(f"# The shipped models on the test world\n\nWritten by "
                                       f"`python tools/test_world.py` (test world: seed {TEST_WORLD_SEED}, "
                                       f"{TEST_WORLD_VIDEOS} videos, of which the {' / '.join(map(str, held_out))} "
                                       f"of held-out figures are diagnosed; `--from-json` writes the "
                                       f"same table from the stored diagnoses). The models: "
                                       + ", ".join(f"{name} = `{Path(checkpoint).name}`" for name, (checkpoint, _)
                                                   in MODELS.items()) + f".\n\n{text}\n")
    from pcutlib.paths import marker_pair, replace_between_markers
    replace_between_markers(args.readme, text, *marker_pair("test-world"))
    print(text)
    print(f"wrote {OUT / 'test_world.md'} and the test-world block of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
