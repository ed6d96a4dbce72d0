"""The shipped PriorityCut fine-tunes on a test world: held-out figures of a world that no setting was
chosen on.

Every calibration row, recipe and shipped model of this repository was chosen by its figures on
the held-out videos of data/synthetic-64-check (seed 1): for those models that world is a
validation set. This script makes a second world of the same kind with TEST_WORLD_SEED, which
nothing else in the repository reads (keep it so: a setting chosen on it would make it a
validation set too), runs ``pcut diagnose`` on the shipped PriorityCut fine-tunes there, and sets
each one's targets beside its figures on the validation world (results/diagnosis-*.json):

    python tools/test_world.py                      # world (if missing), diagnoses, table, README
    python tools/test_world.py --from-json          # the table and README block from the stored JSON

Writes results/test-world/<model>.json (``Diagnosis.to_dict``), results/test-world/test_world.md
and the README's block between <!-- test-world:start/end -->. tests/test_test_world.py checks the
README against the stored files.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_WORLD_SEED = 20261207          # read by nothing else in the repository
TEST_WORLD = REPO / "data" / "synthetic-64-test"
TEST_WORLD_VIDEOS = 100            # as data/synthetic-64-check (pcut make-synthetic --videos 100 --seed 1)
OUT = REPO / "results" / "test-world"
# model name: (checkpoint, its diagnosis on the validation world, data/synthetic-64-check)
MODELS = {
    "synthetic-64-prioritycut.pt": ("pretrained/synthetic-64-prioritycut.pt", "results/diagnosis-prioritycut.json"),
    "synthetic-64-revealed-prioritycut.pt": ("pretrained/synthetic-64-revealed-prioritycut.pt",
                                             "results/diagnosis-revealed-prioritycut.json"),
    "synthetic-64-revealed-kept-prioritycut.pt": ("pretrained/synthetic-64-revealed-kept-prioritycut.pt",
                                                  "results/diagnosis-revealed-kept-prioritycut.json"),
}
# (column title, Diagnosis field, digits): the figures of pcut diagnose's ten targets
COLUMNS = [("moving keypoints", "moving_distinct_keypoints", 2), ("probe px", "probe_px", 2),
           ("silhouette probe px", "silhouette_probe_px", 2), ("IoU", "silhouette_iou", 3),
           ("O at rest", "occlusion_at_rest", 3), ("O in F", "occlusion_auc_foreground", 3),
           ("O on figure pixels", "occlusion_auc_figure", 3), ("mask lift", "mask_lift", 2),
           ("D pixel AUC", "d_pixel_auc_true_disocclusion", 3), ("animation L1 / copy", None, 3)]


def json_path(model: str) -> Path:
    """results/test-world/<model without .pt>.json"""
    return OUT / f"{model.removesuffix('.pt')}.json"


def make_test_world(progress: bool = True) -> Path:
    """data/synthetic-64-test, made as data/synthetic-64-check but with TEST_WORLD_SEED (kept if present)."""
    from pcutlib.data.make_synthetic import make_synthetic_dataset
    if (TEST_WORLD / "synthetic.json").exists():
        recorded = json.loads((TEST_WORLD / "synthetic.json").read_text()).get("seed")
        if recorded != TEST_WORLD_SEED:
            raise SystemExit(f"{TEST_WORLD} was made with seed {recorded}, expected {TEST_WORLD_SEED}: "
                             f"remove it and run again")
        print(f"test world: {TEST_WORLD} (present, seed {TEST_WORLD_SEED})")
        return TEST_WORLD
    return make_synthetic_dataset(TEST_WORLD, videos=TEST_WORLD_VIDEOS, seed=TEST_WORLD_SEED, progress=progress)


def diagnose_on_test_world(checkpoint: Path, progress: bool = True) -> dict:
    """pcut diagnose of ``checkpoint`` on the test world's held-out videos -> Diagnosis.to_dict()."""
    from pcutlib.checkpoints.files import load_models
    from pcutlib.evaluation.diagnose import diagnose
    from pcutlib.prioritycut import RegularizerConfig
    models, stored = load_models(checkpoint, device="cpu")
    diagnosis = diagnose(models, TEST_WORLD, stored["config"]["dataset_params"]["frame_shape"], progress=progress,
                         regularizer=RegularizerConfig.from_dict(stored["config"].get("regularizer")))
    return diagnosis.to_dict()


def figure(fields: dict, name: str | None, digits: int) -> str:
    value = fields["animation_l1"] / fields["copy_animation_l1"] if name is None else fields[name]
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def targets_met(fields: dict) -> str:
    """'9 of 10' from a stored diagnosis (targets.target_verdicts)."""
    from pcutlib.evaluation.diagnose import Diagnosis
    from pcutlib.evaluation.targets import target_verdicts
    verdicts = [met for met in target_verdicts(Diagnosis(**fields)).values() if met is not None]
    return f"{sum(verdicts)} of {len(verdicts)}"


def table(diagnoses: dict) -> str:
    """{model: {"validation": fields, "test": fields}} -> a markdown table, two rows per model."""
    lines = ["| model | world | " + " | ".join(title for title, _, _ in COLUMNS) + " | targets met |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for model, worlds in diagnoses.items():
        for world, label in (("validation", "validation (seed 1)"), ("test", "test")):
            cells = [figure(worlds[world], name, digits) for _, name, digits in COLUMNS]
            lines.append(f"| {model if world == 'validation' else ''} | {label} | " + " | ".join(cells)
                         + f" | {targets_met(worlds[world])} |")
    lines.append("| target | | >= 8 | <= 2.5 | > probe px | >= 0.85 | >= 0.95 | >= 0.8 | >= 0.75 | >= 2.5 "
                 "| >= 0.75 | <= 0.6 | |")
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
    parser.add_argument("--readme", type=Path, default=REPO / "README.md", help="the page with the test-world block")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.from_json:
        make_test_world(progress=not args.no_progress)
        OUT.mkdir(parents=True, exist_ok=True)
        for model, (checkpoint, _) in MODELS.items():
            print(f"diagnosing {checkpoint} on {TEST_WORLD}/test")
            fields = diagnose_on_test_world(REPO / checkpoint, progress=not args.no_progress)
            json_path(model).write_text(json.dumps(fields, indent=2) + "\n")
    text = table(stored_diagnoses())
    (OUT / "test_world.md").write_text(f"# The shipped PriorityCut fine-tunes on the test world\n\nWritten by "
                                       f"`python tools/test_world.py` (test world: seed {TEST_WORLD_SEED}, "
                                       f"{TEST_WORLD_VIDEOS} videos, its held-out figures; `--from-json` writes the "
                                       f"same table from the stored diagnoses).\n\n{text}\n")
    from pcutlib.paths import marker_pair, replace_between_markers
    replace_between_markers(args.readme, text, *marker_pair("test-world"))
    print(text)
    print(f"wrote {OUT / 'test_world.md'} and the test-world block of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
