"""``pcut experiment``: does PriorityCut reduce warping artifacts? An equal-budget ablation.

All variants fine-tune one shared reconstruction checkpoint (a CPU-sized choice: FOMM's
``vox-adv`` is a standalone run, adversarial from the start) for the same number of adversarial epochs, with the
same seeds, and differ only in the adversarial phase:

    baseline-patch      FOMM's patch discriminator (LSGAN + feature matching)
    unet                the U-Net discriminator, no mixing
    cutmix              + CutMix (random boxes)
    prioritycut-k10     + PriorityCut, top-10% most occluded foreground pixels
    prioritycut-k30     + PriorityCut, top-30%
    prioritycut-k10-all + PriorityCut over all pixels (foreground restriction off)

Each run is evaluated on the held-out test videos with FOMM's reconstruction protocol:
L1, PSNR, SSIM, and with the synthetic world's probes AKD, MKR (pose probe) and AED
(identity probe). Writes ``results/experiment_runs.csv`` (one row per run),
``results/experiment.csv`` and ``results/experiment.md`` (mean +- std over seeds),
``results/metrics_vs_k.png``, ``results/artifacts.png``, ``results/experiment.md``'s
write-up, and the README's results section between its markers.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .config import load_config, resolve_config

METRICS = ["l1", "psnr", "ssim", "akd", "mkr", "aed", "akd_gt"]
LOWER_IS_BETTER = {"l1": True, "psnr": False, "ssim": False, "akd": True, "mkr": True, "aed": True, "akd_gt": True}

VARIANTS = {
    "baseline-patch": {"kind": "patch", "regularizer": "none"},
    "unet": {"kind": "unet", "regularizer": "none"},
    "cutmix": {"kind": "unet", "regularizer": "cutmix"},
    "prioritycut-k10": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0},
    "prioritycut-k30": {"kind": "unet", "regularizer": "prioritycut", "top_k": 30.0},
    "prioritycut-k10-all": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0, "foreground": "all"},
}


# Fine-tuning learning rates: the reconstruction run ends at lr 1e-5 after its drops, so the
# generator continues gently (5e-5; measured: 1e-4 cost 6% of held-out L1 in 6 epochs) while
# the fresh discriminator learns at FOMM's 2e-4.
FINETUNE_LR = {"lr_generator": 5.0e-5, "lr_kp_detector": 5.0e-5, "lr_discriminator": 2.0e-4}


def variant_config(base: dict, variant: dict, epochs: int, seed: int) -> dict:
    """The fine-tuning config of one variant: adversarial term on, its discriminator and regularizer."""
    config = copy.deepcopy(base)
    train_params = config["train_params"]
    train_params.update(num_epochs=epochs, seed=seed, epoch_milestones=[], **FINETUNE_LR)
    # region dropout belongs to the reconstruction phase (keeping keypoints in use from the start)
    train_params["region_dropout"] = {"start": 0.0, "max": 0.0, "ramp_epochs": 0.0, "until_epoch": 0.0}
    train_params["loss_weights"]["generator_gan"] = 1
    discriminator = config["model_params"]["discriminator_params"]
    discriminator["kind"] = variant["kind"]
    if variant["kind"] == "patch":
        # FOMM's patch D for 64x64 frames: 3 blocks leave a 4x4 map of patch scores
        discriminator.update(num_blocks=3, scales=[1], sn=True)
        train_params["loss_weights"]["feature_matching"] = [10, 10, 10]
    config["regularizer"]["type"] = variant["regularizer"]
    if "top_k" in variant:
        config["regularizer"]["top_k_percent"] = variant["top_k"]
    config["regularizer"]["foreground"] = variant.get("foreground", "region")
    return resolve_config(config)


def mean_std(values) -> tuple[float, float]:
    values = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds, per variant (in VARIANTS order)."""
    table = []
    for variant in VARIANTS:
        runs = [r for r in rows if r["variant"] == variant]
        if not runs:
            continue
        entry = {"variant": variant, "seeds": len(runs)}
        for metric in METRICS:
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std(r.get(metric) for r in runs)
        table.append(entry)
    return table


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(table: list[dict], baseline: dict) -> str:
    header = "| variant | seeds | " + " | ".join(
        f"{m.upper()} {'↓' if LOWER_IS_BETTER[m] else '↑'}" for m in METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 2)]
    for entry in table:
        cells = [f"{entry[f'{m}_mean']:.4g} ± {entry[f'{m}_std']:.2g}" for m in METRICS]
        lines.append(f"| {entry['variant']} | {entry['seeds']} | " + " | ".join(cells) + " |")
    cells = [f"{baseline.get(m, float('nan')):.4g}" for m in METRICS]
    lines.append("| copy the source frame | – | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def separated(a: dict, b: dict, metric: str) -> bool:
    """True when the mean +- std intervals of two variants do not overlap."""
    low_a, high_a = a[f"{metric}_mean"] - a[f"{metric}_std"], a[f"{metric}_mean"] + a[f"{metric}_std"]
    low_b, high_b = b[f"{metric}_mean"] - b[f"{metric}_std"], b[f"{metric}_mean"] + b[f"{metric}_std"]
    return high_a < low_b or high_b < low_a


def findings(table: list[dict]) -> list[str]:
    """One sentence per metric: PriorityCut (k=10) against CutMix and the baseline, with the spread."""
    by_name = {entry["variant"]: entry for entry in table}
    ours = by_name.get("prioritycut-k10")
    sentences = []
    if ours is None:
        return sentences
    for other_name in ("cutmix", "baseline-patch", "unet"):
        other = by_name.get(other_name)
        if other is None:
            continue
        better, worse, overlapping = [], [], []
        for metric in METRICS:
            if math.isnan(ours[f"{metric}_mean"]) or math.isnan(other[f"{metric}_mean"]):
                continue
            if not separated(ours, other, metric):
                overlapping.append(metric.upper())
            elif (ours[f"{metric}_mean"] < other[f"{metric}_mean"]) == LOWER_IS_BETTER[metric]:
                better.append(metric.upper())
            else:
                worse.append(metric.upper())
        sentence = f"PriorityCut (k=10) vs {other_name}: "
        parts = []
        if better:
            parts.append(f"better on {', '.join(better)}")
        if worse:
            parts.append(f"worse on {', '.join(worse)}")
        if overlapping:
            parts.append(f"inconclusive at this budget on {', '.join(overlapping)} (mean ± std over seeds overlap)")
        sentences.append(sentence + "; ".join(parts) + ".")
    return sentences


def plot_metrics_vs_k(table: list[dict], path: Path) -> None:
    """Each metric against k for PriorityCut, with the other variants as horizontal bands."""
    from matplotlib.figure import Figure

    by_name = {entry["variant"]: entry for entry in table}
    ks = [(10.0, "prioritycut-k10"), (30.0, "prioritycut-k30")]
    ks = [(k, by_name[name]) for k, name in ks if name in by_name]
    fig = Figure(figsize=(3.2 * 4, 2.6 * 2))
    axes = fig.subplots(2, 4).flat
    colours = {"baseline-patch": "tab:grey", "unet": "tab:blue", "cutmix": "tab:orange",
               "prioritycut-k10-all": "tab:purple"}
    for ax, metric in zip(axes, METRICS):
        if ks:
            x = [k for k, _ in ks]
            y = [e[f"{metric}_mean"] for _, e in ks]
            err = [e[f"{metric}_std"] for _, e in ks]
            ax.errorbar(x, y, yerr=err, marker="o", color="tab:red", label="prioritycut (foreground)", capsize=3)
        for name, colour in colours.items():
            if name in by_name:
                mean, std = by_name[name][f"{metric}_mean"], by_name[name][f"{metric}_std"]
                ax.axhline(mean, color=colour, linewidth=1, label=name)
                ax.axhspan(mean - std, mean + std, color=colour, alpha=0.12)
        ax.set_title(f"{metric.upper()} ({'lower' if LOWER_IS_BETTER[metric] else 'higher'} is better)", fontsize=9)
        ax.set_xlabel("top-k percent", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = next(iter(fig.axes)).get_legend_handles_labels()
    axes_list = list(fig.axes)
    axes_list[-1].axis("off")
    axes_list[-1].legend(handles, labels, fontsize=8, loc="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


@torch.no_grad()
def plot_artifacts(checkpoints: dict, dataset, path: Path, video_index: int = 0, frames=(8, 16, 24),
                   top_k_percent: float = 10.0) -> None:
    """The same held-out frames reconstructed by every variant; red = PriorityCut mask (k=10)."""
    from matplotlib.figure import Figure

    from .checkpoints import load_models
    from .regularizers import prioritycut_mask

    item = dataset[video_index]
    video = item["video"]
    frames = [f for f in frames if f < len(video)]
    source = video[:1].expand(len(frames), -1, -1, -1)
    driving = video[frames]
    columns = {"driving (real)": (driving, None)}
    for name, checkpoint in checkpoints.items():
        models, _ = load_models(checkpoint, with_discriminator=False)
        kp_source, kp_driving = models.kp_detector(source), models.kp_detector(driving)
        out = models.generator(source, kp_source=kp_source, kp_driving=kp_driving)
        mask = prioritycut_mask(out["occlusion_map"], out["region_mask"], top_k_percent, size=driving.shape[2:])
        columns[name] = (out["prediction"], mask)
    fig = Figure(figsize=(1.7 * len(columns), 1.8 * len(frames)))
    axes = fig.subplots(len(frames), len(columns), squeeze=False)
    for column, (name, (images, mask)) in enumerate(columns.items()):
        for row in range(len(frames)):
            image = images[row].permute(1, 2, 0).clamp(0, 1).numpy().copy()
            if mask is not None:
                selected = mask[row, 0].numpy() == 0
                image[selected] = 0.5 * image[selected] + 0.5 * np.array([1.0, 0.0, 0.0])
            ax = axes[row, column]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=7)
            if column == 0:
                ax.set_ylabel(f"frame {frames[row]}", fontsize=7)
    fig.suptitle(f"held-out video {item['name']}: reconstructions; red = the top-{top_k_percent:g}% most occluded "
                 f"foreground pixels (PriorityCut mask)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def update_readme(readme: Path, text: str, start="<!-- results:start -->", end="<!-- results:end -->") -> None:
    """Replace the README's results section (between the markers) with ``text``."""
    content = readme.read_text()
    if start not in content or end not in content:
        raise ValueError(f"{readme} has no results markers {start} ... {end}")
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(f"{before}{start}\n{text}\n{end}{after}")


def add_experiment_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", default="synthetic-64", help="config file or name in configs/ (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"), help="training world (default: %(default)s)")
    parser.add_argument("--init-from", type=Path, default=Path("runs/synthetic-64-reconstruction/checkpoints/last.pt"),
                        help="the shared reconstruction checkpoint (trained first when missing)")
    parser.add_argument("--epochs", type=int, default=4, help="adversarial fine-tuning epochs per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: %(default)s)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="which variants to run (default: all)")
    parser.add_argument("--runs", type=Path, default=Path("runs/experiment"), help="run folders (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="table and plots (default: %(default)s)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also rewrite this README's results section (between its results markers)")
    parser.add_argument("--probe-steps", type=int, default=300, help="training steps of the pose and identity probes")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def synthetic_config(config_name: str, data: Path, progress: bool = True, **train_params) -> dict:
    """``config_name`` resolved, reading the synthetic world at ``data`` (generated when missing)."""
    from .pretrained import ensure_synthetic_data

    config = load_config(config_name)
    config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(data, progress=progress))
    config["train_params"].update(train_params)
    return resolve_config(config)


def run_experiment(args) -> int:
    from .checkpoints import load_models
    from .data import FramesDataset
    from .evaluation import evaluate_reconstruction
    from .probes import load_probe, save_probe, train_identity_probe, train_pose_probe
    from .training import train

    started = time.perf_counter()
    progress = not args.no_progress
    base = synthetic_config(args.config, args.data, progress)
    data = Path(base["dataset_params"]["root_dir"])
    if not args.init_from.exists():
        print(f"shared reconstruction checkpoint {args.init_from} missing: training it")
        args.init_from = train(base, args.init_from.parent.parent, device=args.device, progress=progress,
                               overwrite=True)

    probes_dir = args.runs / "probes"
    probes = {}
    for kind, trainer in (("pose", train_pose_probe), ("identity", train_identity_probe)):
        path = probes_dir / f"{kind}.pt"
        if not path.exists():
            probe = trainer(str(data), steps=args.probe_steps, progress=progress)
            probes_dir.mkdir(parents=True, exist_ok=True)
            save_probe(path, probe)
        probes[kind] = load_probe(path)

    test_set = FramesDataset(data, frame_shape=base["dataset_params"]["frame_shape"], is_train=False)
    rows, checkpoints, baseline = [], {}, {}
    for variant in args.variants:
        for seed in args.seeds:
            run_dir = args.runs / f"{variant}-seed{seed}"
            last = run_dir / "checkpoints" / "last.pt"
            config = variant_config(base, VARIANTS[variant], args.epochs, seed)
            if not (run_dir / "metrics.json").exists():
                print(f"fine-tuning {run_dir.name}")
                train(config, run_dir, device=args.device, init_from=args.init_from, progress=progress,
                      overwrite=True)
                models, _ = load_models(last, with_discriminator=False)
                summary, _ = evaluate_reconstruction(models, test_set, pose_probe=probes["pose"],
                                                     identity_probe=probes["identity"], progress=False)
                (run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
            summary = json.loads((run_dir / "metrics.json").read_text())
            baseline = {m: summary.get(f"baseline_{m}") for m in METRICS}
            rows.append({"variant": variant, "seed": seed, **{m: summary.get(m) for m in METRICS}})
            checkpoints.setdefault(variant, last)

    args.results.mkdir(parents=True, exist_ok=True)
    write_csv(args.results / "experiment_runs.csv", rows)
    table = summarize(rows)
    write_csv(args.results / "experiment.csv", table)
    plot_metrics_vs_k(table, args.results / "metrics_vs_k.png")
    plot_artifacts(checkpoints, test_set, args.results / "artifacts.png")
    minutes = (time.perf_counter() - started) / 60
    budget = (f"{len(args.variants)} variants x {len(args.seeds)} seeds, each fine-tuned for {args.epochs} "
              f"adversarial epochs ({base['train_params']['batch_size']} frames a step) from "
              f"`{args.init_from}`; {len(test_set)} held-out test videos of unseen figures")
    text = "\n".join([
        f"Budget: {budget}. Command: `pcut experiment --readme README.md` ({minutes:.0f} min here).", "",
        markdown_table(table, baseline), "",
        *[f"- {s}" for s in findings(table)], "",
        "![metrics against k](results/metrics_vs_k.png)", "",
        "![the same held-out frames across variants](results/artifacts.png)"])
    (args.results / "experiment.md").write_text("# PriorityCut ablation on the synthetic world\n\n"
                                                + text.replace("results/", "") + "\n")
    if args.readme is not None:
        update_readme(args.readme, text)
    print(text)
    return 0
