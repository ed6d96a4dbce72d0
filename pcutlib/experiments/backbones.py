"""FOMM and TPSMM side by side on the synthetic world, at one wall-clock budget.

    pcut compare-backbones --minutes 20

Each backbone's CPU recipe (``synthetic-64``, ``synthetic-64-tpsmm``) gives its schedule in
epochs, and one TPSMM step costs several FOMM steps (its ResNet-18 keypoint detector alone has
11 million parameters). So that both spend the same minutes, each recipe's step time is measured
on this machine first (after warm-up steps, on a training batch), the number of epochs that fits
the budget is computed, and the recipe's epoch schedule (learning-rate milestones, region or TPS
dropout) is scaled to it. Both then train on the synthetic world of seed 0 and are diagnosed
(``pcut diagnose``) on held-out figures of the same world made with seed 1, TPSMM's figures
for each of its four occlusion masks too. A finished run is not trained again.

Writes ``<out>.json`` (every diagnose figure, the measured step time, epochs, steps and minutes
of each run), ``<out>.md`` (the table the README quotes) and ``<out>-tpsmm-masks.png`` (TPSMM's
four occlusion masks beside the true dis-occlusion on held-out frames).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from pcutlib.checkpoints.files import load_models, safe_torch_load
from pcutlib.config import load_config, resolve_config, same_run_config
from pcutlib.data.datasets import FramesDataset
from pcutlib.data.synthetic import World
from pcutlib.evaluation.diagnose import diagnose
from pcutlib.evaluation.diagnosis_figure import occlusion_masks_figure
from pcutlib.experiments.calibration import world_data, world_name
from pcutlib.paths import replace_between_markers, repository_root
from pcutlib.training.loop import train
from pcutlib.training.step import train_step
from pcutlib.training.trainer import build_trainer, seed_everything

RECIPES = {"fomm": "synthetic-64", "tpsmm": "synthetic-64-tpsmm"}
MARKERS = ("<!-- backbones:start -->", "<!-- backbones:end -->")      # where --readme writes the table
TRAIN_SEED, CHECK_SEED, TRAIN_VIDEOS, CHECK_VIDEOS = 0, 1, 200, 100
# train_params keys counted in epochs, scaled with the number of epochs (whole numbers stay whole)
EPOCH_KEYS = {"fomm": ["epoch_milestones", "region_dropout.ramp_epochs", "region_dropout.until_epoch"],
              "tpsmm": ["epoch_milestones", "dropout_epoch", "dropout_inc_epoch", "bg_start"]}


def _scaled(value, factor: float):
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    if isinstance(value, int):
        return max(1, round(value * factor)) if value > 0 else 0
    return value * factor


def scaled_schedule(config: dict, epochs: int) -> dict:
    """``config`` with num_epochs = ``epochs`` and its epoch-counted keys (EPOCH_KEYS) scaled by
    epochs / num_epochs."""
    config = json.loads(json.dumps(config))
    train_params = config["train_params"]
    factor = epochs / train_params["num_epochs"]
    for dotted in EPOCH_KEYS[config["backbone"]]:
        *parents, last = dotted.split(".")
        target = train_params
        for parent in parents:
            target = target[parent]
        target[last] = _scaled(target[last], factor)
    train_params["num_epochs"] = epochs
    return resolve_config(config)


def seconds_per_step(config: dict, warmup: int = 3, steps: int = 12) -> float:
    """The mean wall time of one training step of ``config`` on a batch of its training data, on
    the CPU, after ``warmup`` steps (from the middle of the schedule: TPS dropout and region
    dropout as most steps see them)."""
    seed_everything(0)
    trainer = build_trainer(config, torch.device("cpu"))
    dataset = FramesDataset.from_config(config["dataset_params"], is_train=True)
    size = config["train_params"]["batch_size"]
    items = [dataset[i % len(dataset)] for i in range(size)]
    batch = {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in ("source", "driving")}
    middle = config["train_params"]["num_epochs"] / 2
    for _ in range(warmup):
        train_step(trainer, batch, middle)
    started = time.perf_counter()
    for _ in range(steps):
        train_step(trainer, batch, middle)
    return (time.perf_counter() - started) / steps


def recipe_config(backbone: str, data: Path) -> dict:
    """The backbone's CPU recipe reading ``data``, loading in the training process."""
    config = load_config(RECIPES[backbone])
    config["dataset_params"]["root_dir"] = str(data)
    config["train_params"]["num_workers"] = 0
    return resolve_config(config)


def budget_config(config: dict, minutes: float, step_seconds: float) -> dict:
    """``config`` with its schedule scaled to the epochs that fit ``minutes`` at ``step_seconds``
    per step (at least 1 epoch)."""
    steps_per_epoch = len(FramesDataset.from_config(config["dataset_params"], is_train=True)) \
        * config["train_params"]["num_repeats"] // config["train_params"]["batch_size"]
    epochs = max(1, math.floor(minutes * 60 / (step_seconds * steps_per_epoch)))
    return scaled_schedule(config, epochs)


def run_backbone(backbone: str, minutes: float, runs: Path, data: Path, check: Path, progress: bool,
                 figure_path: Path) -> dict:
    """Measure, train (unless finished) and diagnose one backbone (a TPSMM's masks drawn into
    ``figure_path``); returns its record."""
    run_dir = runs / backbone
    record_path = run_dir / "budget.json"
    recipe = recipe_config(backbone, data)
    budget = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if budget.get("minutes_budget") != minutes:                      # else measured before: keep the schedule
        budget = {"minutes_budget": minutes, "seconds_per_step": round(seconds_per_step(recipe), 3)}
    config = budget_config(recipe, minutes, budget["seconds_per_step"])
    last = run_dir / "checkpoints" / "last.pt"
    stored = safe_torch_load(last) if last.is_file() else {}
    if stored.get("epoch") != config["train_params"]["num_epochs"] or not same_run_config(stored.get("config"), config):
        print(f"{backbone}: {budget['seconds_per_step']:.2f} s per step here, {config['train_params']['num_epochs']} "
              f"epochs fit {minutes:g} minutes; training into {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(budget) + "\n")
        started = time.perf_counter()
        train(config, run_dir, device="cpu", progress=progress, overwrite=True)
        budget["train_minutes"] = round((time.perf_counter() - started) / 60, 1)
        record_path.write_text(json.dumps(budget) + "\n")
    models, checkpoint = load_models(last, with_discriminator=False)
    result = diagnose(models, check, progress=progress)
    if backbone == "tpsmm":
        occlusion_masks_figure(models, check, figure_path)
    return {"backbone": backbone, "recipe": RECIPES[backbone], **budget, "epochs": checkpoint["epoch"],
            "steps": checkpoint["step"], **result.to_dict()}


def _cell(value, digits: int) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


ROWS = [("distinct keypoints (of K)", "distinct_keypoints", 1, None),
        ("  of them moving with the body", "moving_distinct_keypoints", 1, None),
        ("keypoint->joint probe (px)", "probe_px", 2, "mean_pose_px"),
        ("silhouette IoU", "silhouette_iou", 3, "copy_silhouette_iou"),
        ("reconstruction L1", "reconstruction_l1", 4, "copy_reconstruction_l1"),
        ("animation L1", "animation_l1", 4, "copy_animation_l1"),
        ("O at rest, figure pixels", "occlusion_at_rest", 3, None),
        ("O AUC vs true dis-occlusion, pooled", "occlusion_auc", 3, "rule_auc"),
        ("  inside PriorityCut's foreground", "occlusion_auc_foreground", 3, "rule_auc_foreground"),
        ("  on figure pixels", "occlusion_auc_figure", 3, "rule_auc_figure"),
        ("PriorityCut mask lift (top 10%)", "mask_lift", 2, "rule_mask_lift")]


def markdown(records: list[dict]) -> str:
    """The side-by-side table: a column per backbone, the baseline (copying the source, the mean
    pose, or the no-model rule |driving - source|) beside each figure, one value per backbone
    where they differ (the rule inside each model's foreground); TPSMM's masks below."""
    by = {r["backbone"]: r for r in records}
    names = [b for b in RECIPES if b in by]
    lines = ["| | " + " | ".join(f"{b.upper()} ({by[b]['recipe']})" for b in names) + " | baseline |",
             "| --- |" + " ---: |" * (len(names) + 1)]
    lines.append("| step time on this machine (s) | " + " | ".join(f"{by[b]['seconds_per_step']:.2f}" for b in names)
                 + " | |")
    lines.append("| epochs / steps in the budget | " + " | ".join(f"{by[b]['epochs']} / {by[b]['steps']}" for b in names)
                 + " | |")
    lines.append("| training minutes | " + " | ".join(_cell(by[b].get("train_minutes"), 1) for b in names) + " | |")
    lines.append("| keypoints K | " + " | ".join(str(by[b]["num_keypoints"]) for b in names) + " | |")
    for label, key, digits, baseline in ROWS:
        # the rule's strata depend on each model's foreground: one value per backbone where they differ
        values = list(dict.fromkeys(_cell(by[b].get(baseline), digits) for b in names)) if baseline else [""]
        base = " / ".join(values)
        which = {"mean_pose_px": " (mean pose)", "copy_silhouette_iou": " (copy)", "copy_reconstruction_l1": " (copy)",
                 "copy_animation_l1": " (copy)"}.get(baseline, " (no-model rule)" if baseline else "")
        lines.append(f"| {label} | " + " | ".join(_cell(by[b].get(key), digits) for b in names)
                     + f" | {base}{which if base not in ('', '-') else ''} |")
    tpsmm = by.get("tpsmm", {}).get("occlusion_auc_by_mask") or []
    if tpsmm:
        lines += ["", "TPSMM's occlusion masks, coarse to fine (the finest, at the prediction's size, is the one "
                  "the prediction is blended with and the one PriorityCut ranks):", "",
                  "| mask | O AUC pooled | inside the foreground | on figure pixels |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {m['size']}x{m['size']} | {_cell(m['pooled'], 3)} | {_cell(m['foreground'], 3)} | "
                  f"{_cell(m['figure'], 3)} |" for m in tpsmm]
        run = by["tpsmm"]
        lines.append(f"| no-model rule | {_cell(run.get('rule_auc'), 3)} | {_cell(run.get('rule_auc_foreground'), 3)} | "
                     f"{_cell(run.get('rule_auc_figure'), 3)} |")
    return "\n".join(lines) + "\n"


def run_backbones(minutes: float, runs: Path, data_dir: Path, out: Path, progress: bool = True,
                  backbones=tuple(RECIPES)) -> list[dict]:
    """Train and diagnose each backbone at ``minutes`` (module doc); writes out.json and out.md."""
    if not minutes > 0:
        raise ValueError(f"--minutes must be positive, got {minutes}")
    unknown = sorted(set(backbones) - set(RECIPES))
    if unknown:
        raise ValueError(f"unknown backbone(s) {unknown}; known: {sorted(RECIPES)}")
    world = World()
    data = world_data(world, TRAIN_SEED, TRAIN_VIDEOS, data_dir, progress)
    check = world_data(world, CHECK_SEED, CHECK_VIDEOS, data_dir, progress)
    records = []
    for backbone in backbones:
        records.append(run_backbone(backbone, minutes, runs, data, check, progress,
                                    out.with_name(out.name + "-tpsmm-masks.png")))
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"minutes": minutes, "world": world_name(world), "train_seed": TRAIN_SEED, "check_seed": CHECK_SEED,
                "train_videos": TRAIN_VIDEOS, "check_videos": CHECK_VIDEOS, "torch_threads": torch.get_num_threads()}
        out.with_suffix(".json").write_text(json.dumps({**meta, "runs": records}, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(records))
    return records


def add_compare_backbones_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="training budget of each backbone in minutes (default: %(default)s)")
    parser.add_argument("--runs", type=Path, default=Path("runs/backbones"), help="run folders (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="synthetic datasets (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="writes OUT.json and OUT.md (default: results/backbones in the repository)")
    parser.add_argument("--backbones", nargs="+", default=list(RECIPES), help="default: %(default)s")
    parser.add_argument("--readme", type=Path, default=None, metavar="PAGE",
                        help=f"also write the table between {MARKERS[0]} and {MARKERS[1]} of PAGE")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run_compare_backbones(args: argparse.Namespace) -> int:
    out = args.out or repository_root() / "results" / "backbones"
    records = run_backbones(args.minutes, args.runs, args.data_dir, out, not args.no_progress, args.backbones)
    print(markdown(records))
    if args.readme is not None:
        replace_between_markers(args.readme, markdown(records).rstrip("\n"), *MARKERS)
        print(f"table written into {args.readme}")
    print(f"written: {out.with_suffix('.json')}, {out.with_suffix('.md')}")
    return 0
