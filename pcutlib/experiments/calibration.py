"""``pcut calibrate``: what makes the CPU model learn motion? Named training variants, each
trained on its synthetic world and diagnosed on a world made with another seed.

A variant is a world (``pcutlib.data.synthetic.World``) plus config overrides of ``synthetic-64``.
``pcut calibrate VARIANT...`` trains each (``runs/calibration/<variant>``; a finished run is
diagnosed again, not retrained), appends its figures to ``results/calibration.jsonl`` and
rewrites ``results/calibration.md`` from all recorded rows.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pcutlib.evaluation.diagnose import Diagnosis, diagnose
from pcutlib.data.synthetic import World

TRAIN_SEED, CHECK_SEED = 0, 1      # the training world and the world the diagnosis sees
CHECK_VIDEOS = 100

EQUIVARIANCE_1 = {"train_params.loss_weights.equivariance_value": 1,
                  "train_params.loss_weights.equivariance_jacobian": 1}
REGION_DROPOUT = {"train_params.region_dropout": {"start": 0.1, "max": 0.3, "ramp_epochs": 10, "until_epoch": 60}}

REGION_DROPOUT_ALWAYS = {"train_params.region_dropout": {"start": 0.1, "max": 0.3, "ramp_epochs": 10, "until_epoch": 90}}
NO_REGION_DROPOUT = {"train_params.region_dropout": {"start": 0.0, "max": 0.0, "ramp_epochs": 0, "until_epoch": 0}}
EQUIVARIANCE_10 = {"train_params.loss_weights.equivariance_value": 10,
                   "train_params.loss_weights.equivariance_jacobian": 10}
BEFORE_CALIBRATION = {**NO_REGION_DROPOUT, **EQUIVARIANCE_10}   # synthetic-64's recipe before this table
FULL_MOTION = World(limb_motion=1.0)     # the world before the calibration (joint angles at full amplitude)
# The calibration's 90-epoch schedule (synthetic-64's until the demo moved to 120 epochs):
# every variant starts from it, so that its row keeps meaning what was run.
CALIBRATION_SCHEDULE = {"train_params.num_epochs": 90, "train_params.epoch_milestones": [54, 76]}
HALF_RES_WARP = {"model_params.generator_params.num_down_blocks": 1}   # synthetic-64 before small-motion+full-res
FULL_RES_WARP = {"model_params.generator_params.num_down_blocks": 0}   # synthetic-64 since
SMALL_MOTION = World(limb_motion=0.6)    # joint angles at 0.6 of the old amplitude (synthetic-64's world)

def long_schedule(epochs: int) -> dict:
    """synthetic-64's schedule stretched to ``epochs``: the learning-rate drops and the end of region
    dropout at the same fractions of the run (drops at 60% and 85%, dropout off at two thirds)."""
    return {"train_params.num_epochs": epochs,
            "train_params.epoch_milestones": [round(0.6 * epochs), round(0.85 * epochs)],
            "train_params.checkpoint_freq": max(10, epochs // 12),
            "train_params.region_dropout": {"start": 0.1, "max": 0.3, "ramp_epochs": 10,
                                            "until_epoch": round(2 * epochs / 3)}}


VARIANTS = {
    "baseline": dict(world=FULL_MOTION, note="synthetic-64 as shipped before calibration: flat world, FOMM's equivariance 10, "
                          "no region dropout, 90 epochs", overrides={**HALF_RES_WARP, **BEFORE_CALIBRATION}),
    "no-jacobian": dict(world=FULL_MOTION, note="the baseline without jacobians (translation-only local motion)",
                        overrides={**HALF_RES_WARP, **BEFORE_CALIBRATION, "model_params.common_params.estimate_jacobian": False}),
    "region-dropout": dict(world=FULL_MOTION, note="TPSMM's region dropout, p 0.1 -> 0.3 over 10 epochs, off at epoch 60",
                           overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_10}),
    "region-dropout+eq1": dict(world=FULL_MOTION, note="region dropout, equivariance weights 10 -> 1",
                               overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1}),
    "textured+region-dropout+eq1": dict(note="figure height 0.75, striped parts, region dropout, equivariance 1",
                                        world=World(figure_height=0.75, texture=True, limb_motion=1.0),
                                        overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1}),
    "occlusion-warmup": dict(world=FULL_MOTION, note="region dropout, equivariance 1, generator ignores the occlusion map for the "
                                  "first 30 epochs", overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1,
                                                                 "train_params.occlusion_warmup_epochs": 30}),
    "region-dropout-always": dict(world=FULL_MOTION, note="region dropout kept on to the last epoch (off at 60 before), equivariance 1",
                                  overrides={**HALF_RES_WARP, **REGION_DROPOUT_ALWAYS, **EQUIVARIANCE_1}),
    "easy-world": dict(note="figure height 0.7, limbs 1.3x wider, joint angles at 0.6x amplitude; region "
                            "dropout, equivariance 1", world=World(figure_height=0.7, limb_width=1.3, limb_motion=0.6),
                       overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1}),
    "small-motion": dict(note="joint angles at 0.6x amplitude (the world before otherwise); region dropout, "
                              "equivariance 1", world=SMALL_MOTION,
                         overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1}),
    "equivariance-warmup": dict(world=FULL_MOTION, note="region dropout; equivariance weights rise 0 -> 1 over the first 20 epochs",
                                overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1,
                                           "train_params.equivariance_warmup_epochs": 20}),
    "full-res-warp": dict(world=FULL_MOTION, note="generator warps at 64x64 (num_down_blocks 0; same cost), region dropout to the "
                               "last epoch, equivariance 1",
                          overrides={**REGION_DROPOUT_ALWAYS, **EQUIVARIANCE_1, **FULL_RES_WARP}),
    "small-motion+always": dict(note="joint angles at 0.6x amplitude; region dropout to the last epoch, "
                                     "equivariance 1", world=SMALL_MOTION,
                                overrides={**HALF_RES_WARP, **REGION_DROPOUT_ALWAYS, **EQUIVARIANCE_1}),
    "small-motion+always+full-res": dict(note="joint angles at 0.6x amplitude; region dropout to the last epoch, "
                                              "equivariance 1, generator warps at 64x64",
                                         world=SMALL_MOTION,
                                         overrides={**REGION_DROPOUT_ALWAYS, **EQUIVARIANCE_1, **FULL_RES_WARP}),
    "small-motion+equivariance-warmup": dict(note="joint angles at 0.6x amplitude; region dropout; equivariance "
                                                  "weights rise 0 -> 1 over the first 20 epochs",
                                             world=SMALL_MOTION,
                                             overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1,
                                                        "train_params.equivariance_warmup_epochs": 20}),
    "small-motion+full-res": dict(note="joint angles at 0.6x amplitude; region dropout, equivariance 1, generator warps "
                                       "at 64x64 (num_down_blocks 0; the same convolution cost)",
                                  world=SMALL_MOTION,
                                  overrides={**REGION_DROPOUT, **EQUIVARIANCE_1, **FULL_RES_WARP}),
    "small-motion+full-res-long": dict(note="small-motion+full-res trained 5.6x longer: 500 epochs, learning-rate "
                                            "drops at 300 and 425, region dropout to epoch 333",
                                       world=SMALL_MOTION,
                                       overrides={**EQUIVARIANCE_1, **long_schedule(500), **FULL_RES_WARP}),
    "pyramid-4": dict(world=FULL_MOTION, note="region dropout, equivariance 1, pixel pyramid down to 1/8 (FOMM's 4 scales)",
                      overrides={**HALF_RES_WARP, **REGION_DROPOUT, **EQUIVARIANCE_1, "train_params.scales": [1, 0.5, 0.25, 0.125]}),
}


def world_name(world: World) -> str:
    """e.g. h62, h75-textured, h70-w130-m60 (height, limb width and limb motion in percent)."""
    name = f"h{round(100 * world.figure_height)}"
    if world.limb_width != 1.0:
        name += f"-w{round(100 * world.limb_width)}"
    if world.limb_motion != 1.0:
        name += f"-m{round(100 * world.limb_motion)}"
    return name + ("-textured" if world.texture else "")


def world_data(world: World, seed: int, videos: int, data_dir: Path, progress: bool) -> Path:
    """The synthetic dataset of ``world`` with ``seed`` under data_dir (made when missing)."""
    from pcutlib.data.make_synthetic import make_synthetic_dataset

    root = data_dir / f"calibration-{world_name(world)}-seed{seed}"
    if not (root / "synthetic.json").is_file():
        make_synthetic_dataset(root, videos=videos, seed=seed, world=world, progress=progress, overwrite=True)
    return root


def variant_config(name: str, data: Path, epochs: int | None) -> dict:
    from pcutlib.config import load_config, resolve_config, set_by_path

    config = load_config("synthetic-64")
    config["dataset_params"]["root_dir"] = str(data)
    config["train_params"]["num_workers"] = 0        # 2 cores: workers slow the step (benchmarks/)
    for key, value in {**CALIBRATION_SCHEDULE, **VARIANTS[name].get("overrides", {})}.items():
        set_by_path(config, key, value)
    if epochs is not None:
        config["train_params"]["num_epochs"] = epochs
    return resolve_config(config)


def run_variant(name: str, runs: Path, data_dir: Path, epochs: int | None = None, progress: bool = True) -> dict:
    """Train (unless finished) and diagnose one variant; returns its table row."""
    from pcutlib.checkpoints.files import load_models, safe_torch_load
    from pcutlib.training.loop import train

    if name not in VARIANTS:
        raise ValueError(f"unknown calibration variant {name!r}; known: {sorted(VARIANTS)}")
    world = VARIANTS[name]["world"]
    data = world_data(world, TRAIN_SEED, 200, data_dir, progress)
    check = world_data(world, CHECK_SEED, CHECK_VIDEOS, data_dir, progress)
    config = variant_config(name, data, epochs)
    run_dir = runs / name
    last = run_dir / "checkpoints" / "last.pt"
    finished = last.is_file() and safe_torch_load(last).get("epoch") == config["train_params"]["num_epochs"]
    started = time.perf_counter()
    if not finished:
        train(config, run_dir, device="cpu", progress=progress, overwrite=True)
        minutes = (time.perf_counter() - started) / 60
        (run_dir / "minutes.txt").write_text(f"{minutes:.2f}\n")
    minutes = float((run_dir / "minutes.txt").read_text()) if (run_dir / "minutes.txt").is_file() else float("nan")
    models, checkpoint = load_models(last, with_discriminator=False)
    result: Diagnosis = diagnose(models, check, progress=progress)
    steps = checkpoint["step"]
    return {"variant": name, "note": VARIANTS[name]["note"], "world": world_name(world),
            "epochs": checkpoint["epoch"], "steps": steps, "minutes": round(minutes, 1), **result.to_dict()}


def _cell(value, digits):
    return "-" if value is None or value != value else f"{value:.{digits}f}"     # None or nan


def markdown(rows: list[dict]) -> str:
    """The calibration table, one row per recorded run (latest record of each variant and epochs)."""
    latest = {}
    for row in rows:
        latest[(row["variant"], row["epochs"])] = row
    lines = [
        "# Calibration runs: what makes the CPU model learn motion",
        "",
        "Written by `pcut calibrate` (pcutlib/experiments/calibration.py); each row trains `synthetic-64` (on the "
        "calibration's 90-epoch schedule: learning-rate drops at 54 and 76, unless the row says otherwise) with the "
        f"variant's changes on its world (seed {TRAIN_SEED}, 200 videos) and diagnoses it with "
        f"`pcut diagnose` on held-out figures of the same world made with seed {CHECK_SEED} "
        f"({CHECK_VIDEOS} videos; test split). Baselines in brackets: mean pose for the probe, copying "
        "the source for IoU and L1. Minutes: training wall time on 2 CPU cores.",
        "",
        "| variant | world | steps | min | distinct kp | probe px (mean pose) | silhouette IoU (copy) "
        "| O at rest | O AUC | recon L1 (copy) | anim L1 (copy) | change |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in latest.values():
        lines.append(
            f"| {row['variant']} | {row['world']} | {row['steps']} | {_cell(row['minutes'], 1)} "
            f"| {row['distinct_keypoints']:.1f} of {row['num_keypoints']} "
            f"| {_cell(row['probe_px'], 2)} ({_cell(row['mean_pose_px'], 2)}) "
            f"| {row['silhouette_iou']:.3f} ({row['copy_silhouette_iou']:.3f}) "
            f"| {_cell(row['occlusion_at_rest'], 3)} | {_cell(row['occlusion_auc'], 3)} "
            f"| {row['reconstruction_l1']:.4f} ({row['copy_reconstruction_l1']:.4f}) "
            f"| {_cell(row['animation_l1'], 4)} ({_cell(row['copy_animation_l1'], 4)}) | {row['note']} |")
    return "\n".join(lines) + "\n"


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Train named variants of synthetic-64 (world and recipe changes) and record their "
                          "pcut diagnose figures in results/calibration.md.")
    parser.add_argument("variants", nargs="+", metavar="VARIANT", help=f"any of: {', '.join(VARIANTS)}")
    parser.add_argument("--epochs", type=int, default=None, help="override train_params.num_epochs")
    parser.add_argument("--runs", type=Path, default=Path("runs/calibration"), help="run folders (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where the worlds are made (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="calibration.jsonl and .md go here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown calibration variants {unknown}; known: {sorted(VARIANTS)}")
    args.results.mkdir(parents=True, exist_ok=True)
    record = args.results / "calibration.jsonl"
    for name in args.variants:
        row = run_variant(name, args.runs, args.data_dir, args.epochs, progress=not args.no_progress)
        with open(record, "a") as f:
            f.write(json.dumps(row) + "\n")
        rows = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
        (args.results / "calibration.md").write_text(markdown(rows))
        print(f"{name}: distinct {row['distinct_keypoints']:.1f}, probe {row['probe_px']} px, "
              f"IoU {row['silhouette_iou']:.3f}, {row['steps']} steps in {row['minutes']} min")
    return 0
