"""How the shipped model departs from FOMM's recipe, and what each departure measured.

Notebooks 2, 3 and 5 teach FOMM's keypoints, occlusion map and PriorityCut with the shipped
model, which is not FOMM's recipe. ``departures_table`` writes the box they show: each
departure with FOMM's value (``configs/vox-256.yaml``), the shipped value
(``configs/synthetic-64.yaml``), why, and the calibration rows that measured it, with their
figures read from ``results/calibration.jsonl`` (what ``pcut calibrate`` recorded), so the
box cannot drift from the measurements. ``tools/write_departures.py`` puts it into the
notebooks between DEPARTURES_MARKERS; a test checks that it is the same text.
"""
from __future__ import annotations

import json
from pathlib import Path

from pcutlib.config import load_config
from pcutlib.paths import between_markers
from pcutlib.teaching.common import config_file, repository_root

DEPARTURES_MARKERS = ("<!-- departures:start -->", "<!-- departures:end -->")

def _reconstruction(config: dict) -> str:
    weights = config["train_params"]["loss_weights"]
    if sum(weights["perceptual"]) != 0:
        return f"VGG19 perceptual pyramid, weights {weights['perceptual']}"
    moving = f", moving pixels + {weights['pixel_pyramid_moving']} x |driving - source|" if weights["pixel_pyramid_moving"] else ""
    return f"pixel L1 pyramid, weight {weights['pixel_pyramid']}{moving}"


def _region_dropout(config: dict) -> str:
    schedule = config["train_params"]["region_dropout"]
    if schedule["max"] == 0:
        return "none"
    return f"p {schedule['start']} -> {schedule['max']}, off from epoch {schedule['until_epoch']}"


def _schedule(config: dict) -> str:
    train = config["train_params"]
    return f"{train['num_epochs']} epochs, lr {train['lr_generator']:g}, drops at {train['epoch_milestones']}"


# (what, the value in a config, why, calibration rows (without, with) that measure it, or None)
DEPARTURES = [
    ("reconstruction loss", _reconstruction,
     "VGG19's forward and backward is most of a step on 2 CPU cores; the pixel pyramid is not the paper's loss",
     None),
    ("warping resolution", lambda c: f"{c['model_params']['generator_params']['num_down_blocks']} down blocks",
     "0 down blocks: the generator warps at 64x64 (FOMM: a quarter of the image); limbs are 2-4 px wide",
     ("small-motion", "small-motion+full-res")),
    ("equivariance weights", lambda c: str(c["train_params"]["loss_weights"]["equivariance_value"]),
     "with FOMM's 10 the keypoints collapsed onto the torso (the comment in configs/synthetic-64.yaml)", None),
    ("region dropout", _region_dropout,
     "TPSMM's dropout of whole regions keeps every region in use (the rows without it predate the records); "
     "the shipped config turns it off for the last third, the demo's recipe from epoch 40 of 120 (every one of "
     "five seeds rose in silhouette IoU; docs/benchmarks.md)", None),
    ("joint motion", lambda c: "real videos" if "vox" in c["dataset_params"]["root_dir"] else "World.limb_motion 0.6",
     "the synthetic world's joint angles at 0.6 of its first amplitude", ("region-dropout+eq1", "small-motion")),
    ("schedule", _schedule,
     "the demo's length; the shipped model trained this schedule stretched to 500 epochs (10,000 steps; the "
     "learning-rate drops and the end of region dropout at the same fractions of the run; docs/usage.md); every "
     "calibration row starts from 90 epochs, the schedule before the demo moved to 120",
     ("small-motion+full-res", "small-motion+full-res-long")),
    ("network widths", lambda c: f"block_expansion {c['model_params']['generator_params']['block_expansion']}",
     "sized for 64x64 frames on 2 CPU cores", None),
]


def _rows(root: Path) -> dict:
    """The latest recorded row of each calibration variant with training seed 0: {variant: row}."""
    path = root / "results" / "calibration.jsonl"
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("seed", 0) == 0:
                rows[row["variant"]] = row
    return rows


def _measured(rows: dict, pair) -> str:
    if pair is None:
        return "not recorded in results/calibration.jsonl"
    without, with_it = (rows.get(name) for name in pair)
    if without is None or with_it is None:
        missing = [name for name, row in zip(pair, (without, with_it)) if row is None]
        raise KeyError(f"results/calibration.jsonl has no row {missing}: run pcut calibrate {' '.join(missing)}")
    figure = lambda row: (f"{row['distinct_keypoints']:.1f} distinct keypoints, IoU {row['silhouette_iou']:.3f}, "  # noqa: E731
                          f"O AUC {row['occlusion_auc']:.3f}")
    return f"`{pair[0]}`: {figure(without)} -> `{pair[1]}`: {figure(with_it)}"


def write_departures(notebook: str | Path, root: str | Path | None = None) -> bool:
    """Put ``departures_table`` between the DEPARTURES_MARKERS of the notebook's markdown cell that
    holds them; returns whether the text changed. A notebook without the markers is an error."""
    path = Path(notebook)
    start, end = DEPARTURES_MARKERS
    notebook_json = json.loads(path.read_text())
    cells = [c for c in notebook_json["cells"] if c["cell_type"] == "markdown" and start in "".join(c["source"])]
    if len(cells) != 1:
        raise ValueError(f"{path}: expected one markdown cell with {start} ... {end}, found {len(cells)}")
    source = "".join(cells[0]["source"])
    new = between_markers(source, departures_table(root), start, end, str(path))
    if new == source:
        return False
    cells[0]["source"] = new.splitlines(keepends=True)
    path.write_text(json.dumps(notebook_json, indent=1, ensure_ascii=False) + "\n")
    return True


def departures_table(root: str | Path | None = None) -> str:
    """The markdown box of the shipped model's departures from FOMM's recipe (module doc)."""
    root = repository_root(root)
    fomm, shipped = load_config(config_file("vox-256", root)), load_config(config_file("synthetic-64", root))
    rows = _rows(root)
    lines = ["| departure | FOMM (configs/vox-256.yaml) | pcut (configs/synthetic-64.yaml) | why "
             "| measured (calibration rows, results/calibration.md) |",
             "| --- | --- | --- | --- | --- |"]
    for what, value, why, pair in DEPARTURES:
        lines.append(f"| {what} | {value(fomm)} | {value(shipped)} | {why} | {_measured(rows, pair)} |")
    return "\n".join(lines)
