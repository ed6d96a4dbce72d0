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

Each run, the reconstruction starting point (``--init-from``) and copying the source frame
are scored on the held-out test videos of the synthetic world (``artifacts.evaluate_test_videos``):
the error inside and outside the true dis-occlusion (the claim), animation L1 against the true
animation, the PriorityCut mask's precision against the true dis-occlusion, pcut's pooled
metrics and FOMM's per-frame ones (``<metric>_fomm``); and each run's discriminator on held-out
frames (``discriminator_quality``). Per-video values go to ``<run>/metrics.json`` (and
``metrics_per_video.csv``); variants are compared with references by paired bootstrap
intervals over seeds and videos (``bootstrap``), with a verdict only where the interval
excludes zero.

Writes ``results/experiment_runs.csv`` (one row per run), ``results/experiment.csv`` (mean
and spread over seeds), ``results/experiment_comparisons.csv`` (every difference, interval
and verdict), ``results/experiment.md`` (tables), ``results/metrics_vs_k.png``,
``results/artifacts.png``, and with ``--readme`` the README's results section. ``--quick``
runs the whole pipeline on a tiny world and model in about a minute (for tests).
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

from .bootstrap import DEFAULT_RESAMPLES, Comparison, compare
from .config import load_config, resolve_config

# Every compared metric and whether lower is better (definitions: artifacts, evaluation, metrics).
LOWER_IS_BETTER = {
    # the claim (artifacts)
    "l1_disoccluded": True, "l1_visible": True, "ssim_disoccluded": False, "ssim_visible": False,
    "animation_l1": True, "mask_precision": False,
    # FOMM's per-frame metrics (evaluation.fomm_frame_metrics)
    "l1_fomm": True, "psnr_fomm": False, "ssim_fomm": False, "akd_fomm": True, "mkr_fomm": True,
    "akd_gt_fomm": True, "aed_fomm": True,
    # pcut's pooled-per-video metrics (evaluation.video_metrics)
    "l1": True, "psnr": False, "ssim": False, "akd": True, "mkr": True, "akd_gt": True, "aed": True,
}
METRICS = list(LOWER_IS_BETTER)
DISCRIMINATOR_METRICS = ["d_image_auc", "d_pixel_auc_prioritycut", "d_pixel_auc_cutmix"]
# the columns of the markdown tables (all metrics are in the CSVs)
TABLE_METRICS = ["l1_disoccluded", "l1_visible", "ssim_disoccluded", "animation_l1", "mask_precision",
                 "l1_fomm", "akd_gt_fomm", "aed_fomm"]
VERDICT_METRICS = ["l1_disoccluded", "ssim_disoccluded", "l1_visible", "animation_l1", "l1_fomm", "akd_gt_fomm",
                   "aed_fomm"]
# rows that are not trained variants: the reconstruction starting point and copying the source frame
INIT, COPY = "reconstruction start", "copy the source frame"
REFERENCE_ROWS = {"init": INIT, "copy": COPY}
EVALUATION_VERSION = 2     # metrics.json of an older evaluation is recomputed (the run is not retrained)

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


# ----------------------------------------------------------------------------- training and scoring runs

TRAINING_VERSION = 2   # runs trained before the fair random streams (one per concern) are retrained


def _jsonable(value):
    """A JSON round trip (tuples become lists), for comparing configs with what a file holds."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def ensure_trained(config: dict, run_dir: Path, init_from: Path, device: str, progress: bool) -> Path:
    """run_dir's last checkpoint, trained first unless run_dir/experiment_run.json says that this
    config (and TRAINING_VERSION, init_from) finished there. Returns the checkpoint path."""
    from .training import train

    last, marker = run_dir / "checkpoints" / "last.pt", run_dir / "experiment_run.json"
    expected = _jsonable({"training_version": TRAINING_VERSION, "init_from": str(init_from), "config": config})
    if last.is_file() and marker.is_file() and json.loads(marker.read_text()) == expected:
        return last
    print(f"fine-tuning {run_dir.name}")
    train(config, run_dir, device=device, init_from=init_from, progress=progress, overwrite=True)
    marker.write_text(json.dumps(expected, indent=1) + "\n")
    return last


def _source(checkpoint: Path | None) -> str:
    """What a stored evaluation was made from: the checkpoint and its modification time."""
    return COPY if checkpoint is None else f"{checkpoint}@{Path(checkpoint).stat().st_mtime_ns}"


def evaluate_checkpoint(checkpoint: Path | None, test: list, probes: dict, with_discriminator: bool = True,
                        quality_frames: int | None = 8, progress: bool = False) -> tuple[dict, list[dict]]:
    """(summary, per_video rows) of a checkpoint on the held-out videos; checkpoint None: copying
    the source frame. test: ``diagnose.load_split(root, "test")``; probes: {"pose", "identity"}.

    The summary pools the rows (``artifacts.summarize_rows``) and, with a discriminator in the
    checkpoint and ``with_discriminator``, adds ``discriminator_quality`` on frames of the same
    videos (at most ``quality_frames`` per video)."""
    from .artifacts import evaluate_test_videos, summarize_rows
    from .checkpoints import load_models
    from .discriminator_quality import discriminator_quality
    from .regularizers import RegularizerConfig

    models, regularizer = None, RegularizerConfig()
    if checkpoint is not None:
        models, state = load_models(checkpoint, with_discriminator=with_discriminator)
        regularizer = RegularizerConfig.from_dict(state["config"].get("regularizer"))
    rows = evaluate_test_videos(models, test, regularizer, probes.get("pose"), probes.get("identity"),
                                progress=progress)
    summary = {"evaluation": EVALUATION_VERSION, "source": _source(checkpoint), "videos": len(rows),
               **summarize_rows(rows)}
    if models is not None and models.discriminator is not None:
        summary.update(discriminator_quality(models, [video for _, video, _, _ in test], regularizer,
                                             max_frames_per_video=quality_frames))
    return summary, rows


def load_metrics(run_dir: Path, source: str) -> tuple[dict, list[dict]] | None:
    """(summary, per_video) of run_dir/metrics.json if this evaluation version made it from
    ``source`` (``_source``), else None. Non-finite numbers read back as None."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    summary = document.get("summary") if isinstance(document, dict) else None
    if not isinstance(summary, dict) or "per_video" not in document \
            or summary.get("evaluation") != EVALUATION_VERSION or summary.get("source") != source:
        return None
    return summary, document["per_video"]


def scored(run_dir: Path, checkpoint: Path | None, test: list, probes: dict, with_discriminator: bool = True,
           quality_frames: int | None = 8, progress: bool = False) -> tuple[dict, list[dict]]:
    """The stored evaluation of run_dir (``load_metrics``), else ``evaluate_checkpoint``, written
    to run_dir/metrics.json and metrics_per_video.csv (``evaluation.write_metrics``)."""
    from .evaluation import write_metrics

    stored = load_metrics(run_dir, _source(checkpoint))
    if stored is None:
        summary, rows = evaluate_checkpoint(checkpoint, test, probes, with_discriminator, quality_frames, progress)
        write_metrics(run_dir, summary, rows)
        stored = load_metrics(run_dir, summary["source"])
    return stored


# ----------------------------------------------------------------------------- statistics

def _number(value) -> float:
    """A stored value as float: None (JSON null), a missing entry or a non-number -> NaN."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def metric_grid(rows_by_seed: dict, seeds: list[int], names: list[str], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(values (S,V), weights (S,V)) of one metric: row ``names[v]`` of seed ``seeds[s]``'s
    per-video rows; weight ``<metric>_weight`` (else 1); NaN and weight 0 where missing."""
    values = np.full((len(seeds), len(names)), np.nan)
    weights = np.zeros((len(seeds), len(names)))
    for i, seed in enumerate(seeds):
        by_name = {row["name"]: row for row in rows_by_seed[seed]}
        for j, name in enumerate(names):
            row = by_name.get(name, {})
            values[i, j] = _number(row.get(metric))
            weights[i, j] = 0.0 if math.isnan(values[i, j]) else _number(row.get(f"{metric}_weight", 1))
    return values, weights


def compare_variants(per_video: dict, variants: list[str], references: list[str], seeds: list[int],
                     metrics: list[str] = METRICS, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = 0) -> list[dict]:
    """Every variant against every reference, metric by metric (``bootstrap.compare``).

    per_video: {row label: {seed: per-video rows}} (a reference that does not depend on the
    seed lists the same rows under every seed). Videos are those in every row of both.
    Returns dicts {"variant", "reference", and Comparison's fields}, delta = variant - reference.
    """
    results = []
    for reference in references:
        if reference not in per_video:
            continue
        for variant in variants:
            if variant == reference or variant not in per_video:
                continue
            both = [per_video[variant][s] for s in seeds] + [per_video[reference][s] for s in seeds]
            names = sorted(set.intersection(*({row["name"] for row in rows} for rows in both)))
            if not names:
                raise ValueError(f"{variant} and {reference} share no test video: nothing to pair")
            for metric in metrics:
                a, wa = metric_grid(per_video[variant], seeds, names, metric)
                b, wb = metric_grid(per_video[reference], seeds, names, metric)
                comparison: Comparison = compare(metric, a, b, LOWER_IS_BETTER[metric], wa, wb, resamples, seed)
                results.append({"variant": variant, "reference": reference, **comparison.to_dict()})
    return results


# ----------------------------------------------------------------------------- tables

def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation of the numbers among ``values`` (0 for one; NaN for none)."""
    values = np.array([v for v in map(_number, values) if not math.isnan(v)], dtype=float)
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize(rows: list[dict], variants: list[str]) -> list[dict]:
    """Mean and standard deviation over seeds of each run's pooled metrics, per row label in
    ``variants`` order (rows: {"variant", "seed", metric: value})."""
    table = []
    for variant in variants:
        runs = [r for r in rows if r["variant"] == variant]
        if not runs:
            continue
        entry = {"variant": variant, "seeds": len({r["seed"] for r in runs if r["seed"] is not None})}
        for metric in METRICS + ["mask_chance"] + DISCRIMINATOR_METRICS:
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std(r.get(metric) for r in runs)
        table.append(entry)
    return table


def write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _cell(mean: float, std: float | None = None, digits: int = 4) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}g}" + ("" if std is None or math.isnan(std) or std == 0 else f" ± {std:.2g}")


def markdown_table(table: list[dict]) -> str:
    """Rows: variants (mean ± std over seeds), the reconstruction start and copying the source;
    columns: TABLE_METRICS (mask precision next to its chance level) and the discriminator AUCs."""
    names = [f"{m} {'↓' if LOWER_IS_BETTER[m] else '↑'}" for m in TABLE_METRICS]
    names = [n.replace("mask_precision", "mask precision / chance") for n in names]
    names += ["D image AUC", "D pixel AUC (PriorityCut M)", "D pixel AUC (CutMix M)"]
    lines = ["| variant | seeds | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
    for entry in table:
        cells = []
        for metric in TABLE_METRICS:
            cell = _cell(entry[f"{metric}_mean"], entry[f"{metric}_std"])
            if metric == "mask_precision" and cell != "–":
                cell += f" / {_cell(entry['mask_chance_mean'], digits=3)}"
            cells.append(cell)
        cells += [_cell(entry[f"{m}_mean"], entry[f"{m}_std"], digits=3) for m in DISCRIMINATOR_METRICS]
        seeds = entry["seeds"] if entry["variant"] not in (INIT, COPY) else "–"
        lines.append(f"| {entry['variant']} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_table(comparisons: list[dict], metrics: list[str] = VERDICT_METRICS) -> str:
    """One row per (variant, reference): each metric's paired difference variant - reference,
    its 95% bootstrap interval and the verdict it allows."""
    pairs = list(dict.fromkeys((c["variant"], c["reference"]) for c in comparisons))
    by_key = {(c["variant"], c["reference"], c["metric"]): c for c in comparisons}
    shown = [m for m in metrics if any(c["metric"] == m for c in comparisons)]
    lines = ["| variant vs reference | " + " | ".join(f"Δ {m} {'↓' if LOWER_IS_BETTER[m] else '↑'}" for m in shown)
             + " |", "|" + "---|" * (len(shown) + 1)]
    for variant, reference in pairs:
        cells = []
        for metric in shown:
            c = by_key[(variant, reference, metric)]
            cells.append("–" if math.isnan(c["difference"]) else
                         f"{c['difference']:+.3g} [{c['low']:+.3g}, {c['high']:+.3g}] {c['verdict']}")
        lines.append(f"| {variant} vs {reference} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(comparisons: list[dict], table: list[dict], min_auc: float = 0.8) -> list[str]:
    """Sentences that follow from the intervals: per (variant, reference) the metrics that are
    better and worse (the rest: no difference detected); and the runs whose discriminator is
    not clearly above chance (image AUC below ``min_auc``), where a comparison of
    regularizers means little."""
    sentences = []
    for variant, reference in dict.fromkeys((c["variant"], c["reference"]) for c in comparisons):
        mine = [c for c in comparisons if c["variant"] == variant and c["reference"] == reference]
        parts = [f"{verdict} on {', '.join(c['metric'] for c in mine if c['verdict'] == verdict)}"
                 for verdict in ("better", "worse") if any(c["verdict"] == verdict for c in mine)]
        undecided = sum(c["verdict"] == "no difference detected" for c in mine)
        measured = sum(c["verdict"] != "not measured" for c in mine)
        parts.append(f"no difference detected on {undecided} of {measured} measured metrics")
        sentences.append(f"{variant} vs {reference}: " + "; ".join(parts) + " (95% paired bootstrap intervals).")
    weak = [f"{e['variant']} ({e['d_image_auc_mean']:.2f})" for e in table
            if not math.isnan(e["d_image_auc_mean"]) and e["d_image_auc_mean"] < min_auc]
    if weak:
        sentences.append(f"Discriminator image AUC on held-out frames below {min_auc}: {', '.join(weak)}; at this "
                         f"budget those discriminators barely tell generated frames from real ones.")
    return sentences


def plot_metrics_vs_k(table: list[dict], path: Path) -> None:
    """Each table metric against k for PriorityCut, with the other rows as horizontal bands
    (mean ± std over seeds)."""
    from matplotlib.figure import Figure

    by_name = {entry["variant"]: entry for entry in table}
    ks = [(10.0, "prioritycut-k10"), (30.0, "prioritycut-k30")]
    ks = [(k, by_name[name]) for k, name in ks if name in by_name]
    fig = Figure(figsize=(3.2 * 3, 2.6 * 3))
    axes = fig.subplots(3, 3).flat
    colours = {"baseline-patch": "tab:grey", "unet": "tab:blue", "cutmix": "tab:orange",
               "prioritycut-k10-all": "tab:purple", INIT: "tab:green", COPY: "black"}
    for ax, metric in zip(axes, TABLE_METRICS):
        if ks:
            x = [k for k, _ in ks]
            y = [e[f"{metric}_mean"] for _, e in ks]
            err = [e[f"{metric}_std"] for _, e in ks]
            ax.errorbar(x, y, yerr=err, marker="o", color="tab:red", label="prioritycut (foreground)", capsize=3)
        for name, colour in colours.items():
            if name in by_name and not math.isnan(by_name[name][f"{metric}_mean"]):
                mean, std = by_name[name][f"{metric}_mean"], by_name[name][f"{metric}_std"]
                ax.axhline(mean, color=colour, linewidth=1, label=name)
                ax.axhspan(mean - std, mean + std, color=colour, alpha=0.12)
        ax.set_title(f"{metric} ({'lower' if LOWER_IS_BETTER[metric] else 'higher'} is better)", fontsize=9)
        ax.set_xlabel("top-k percent", fontsize=8)
        ax.tick_params(labelsize=7)
    axes_list = list(fig.axes)
    handles, labels = axes_list[0].get_legend_handles_labels()
    axes_list[-1].axis("off")
    axes_list[-1].legend(handles, labels, fontsize=8, loc="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


@torch.no_grad()
def plot_artifacts(checkpoints: dict, video: torch.Tensor, name: str, path: Path, frames=(8, 16, 24),
                   top_k_percent: float = 10.0) -> None:
    """The same held-out frames of ``video`` (T,3,H,W) reconstructed by every variant
    ({label: checkpoint}); red = PriorityCut mask (k=10). Frames past the video's end are
    replaced by three frames spread over it."""
    from matplotlib.figure import Figure

    from .checkpoints import load_models
    from .regularizers import prioritycut_mask

    frames = [f for f in frames if f < len(video)]
    if not frames:
        frames = sorted(set(np.linspace(1, len(video) - 1, 3).round().astype(int).tolist()))
    source = video[:1].expand(len(frames), -1, -1, -1)
    driving = video[frames]
    columns = {"driving (real)": (driving, None)}
    for label, checkpoint in checkpoints.items():
        models, _ = load_models(checkpoint, with_discriminator=False)
        kp_source, kp_driving = models.kp_detector(source), models.kp_detector(driving)
        out = models.generator(source, kp_source=kp_source, kp_driving=kp_driving)
        mask = prioritycut_mask(out["occlusion_map"], out["region_mask"], top_k_percent, size=driving.shape[2:])
        columns[label] = (out["prediction"], mask)
    fig = Figure(figsize=(1.7 * len(columns), 1.8 * len(frames)))
    axes = fig.subplots(len(frames), len(columns), squeeze=False)
    for column, (label, (images, mask)) in enumerate(columns.items()):
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
                ax.set_title(label, fontsize=7)
            if column == 0:
                ax.set_ylabel(f"frame {frames[row]}", fontsize=7)
    fig.suptitle(f"held-out video {name}: reconstructions; red = the top-{top_k_percent:g}% most occluded "
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


# ----------------------------------------------------------------------------- command

# Defaults of the full experiment and of --quick (a tiny world and model, about a minute on a
# CPU: the whole pipeline for tests, numbers that mean nothing). Paths of --quick lie under --runs.
FULL_DEFAULTS = {"config": "synthetic-64", "data": Path("data/synthetic-64"),
                 "init_from": Path("runs/synthetic-64-reconstruction/checkpoints/last.pt"), "epochs": 4,
                 "seeds": [0, 1, 2, 3, 4], "variants": list(VARIANTS), "runs": Path("runs/experiment"),
                 "results": Path("results"), "probe_steps": 300, "resamples": DEFAULT_RESAMPLES,
                 "quality_frames": 8}
QUICK_DEFAULTS = {"config": "smoke", "data": "data", "init_from": "reconstruction/checkpoints/last.pt",
                  "epochs": 1, "seeds": [0, 1], "variants": ["unet", "prioritycut-k10"],
                  "runs": Path("runs/experiment-quick"), "results": "results", "probe_steps": 20, "resamples": 200,
                  "quality_frames": 3}
QUICK_WORLD = {"videos": 8, "frames": 6, "size": 32, "identities": 4, "test_fraction": 0.5, "seed": 0}


def add_experiment_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="the whole pipeline on a tiny world (8 videos of 6 frames, 32 px) and the smoke model "
                             "in about a minute, for tests: 1 epoch, seeds 0 1, variants unet prioritycut-k10, "
                             "everything under --runs (default runs/experiment-quick)")
    parser.add_argument("--config", default=None, help=f"config file or name in configs/ (default: "
                                                       f"{FULL_DEFAULTS['config']})")
    parser.add_argument("--data", type=Path, default=None, help=f"training world (default: {FULL_DEFAULTS['data']})")
    parser.add_argument("--init-from", type=Path, default=None,
                        help=f"the shared reconstruction checkpoint, trained first when missing (default: "
                             f"{FULL_DEFAULTS['init_from']})")
    parser.add_argument("--epochs", type=int, default=None, help="adversarial fine-tuning epochs per run (default: 4)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default: 0 1 2 3 4)")
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS),
                        help="which variants to run (default: all)")
    parser.add_argument("--references", nargs="+", default=["unet", "cutmix", "init"],
                        choices=list(VARIANTS) + list(REFERENCE_ROWS),
                        help="compare every variant with these (init: the reconstruction start, copy: copying "
                             "the source frame); default: %(default)s")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (default: 2000)")
    parser.add_argument("--quality-frames", type=int, default=None,
                        help="held-out frames per test video for the discriminator AUCs (default: 8)")
    parser.add_argument("--runs", type=Path, default=None, help=f"run folders (default: {FULL_DEFAULTS['runs']})")
    parser.add_argument("--results", type=Path, default=None, help="table and plots (default: results)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also rewrite this README's results section (between its results markers)")
    parser.add_argument("--probe-steps", type=int, default=None, help="training steps of the pose and identity probes")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def resolve_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the arguments left at None from FULL_DEFAULTS, or with --quick from QUICK_DEFAULTS
    (its relative data, init_from and results under --runs). Returns a new namespace."""
    args = copy.copy(args)
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    if args.runs is None:
        args.runs = Path(defaults["runs"])
    for key, value in defaults.items():
        if getattr(args, key) is None:
            if args.quick and key in ("data", "init_from", "results"):
                value = args.runs / value
            setattr(args, key, copy.copy(value))
    for key in ("epochs", "resamples", "quality_frames", "probe_steps"):
        if getattr(args, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    return args


def synthetic_config(config_name: str, data: Path, progress: bool = True, **train_params) -> dict:
    """``config_name`` resolved, reading the synthetic world at ``data`` (generated when missing)."""
    from .pretrained import ensure_synthetic_data

    config = load_config(config_name)
    config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(data, progress=progress))
    config["train_params"].update(train_params)
    return resolve_config(config)


def experiment_base(args: argparse.Namespace, progress: bool) -> dict:
    """The reconstruction config every variant starts from; --quick: the tiny world (written
    when missing) and one reconstruction-only epoch of the smoke model."""
    if not args.quick:
        return synthetic_config(args.config, args.data, progress)
    from .synthetic import make_synthetic_dataset

    if not (args.data / "test").is_dir():
        make_synthetic_dataset(args.data, progress=False, overwrite=True, **QUICK_WORLD)
    config = load_config(args.config)
    config["dataset_params"]["root_dir"] = str(args.data)
    config["train_params"]["num_epochs"] = 1
    config["train_params"]["loss_weights"]["generator_gan"] = 0
    config["regularizer"]["type"] = "none"
    return resolve_config(config)


def ensure_probes(folder: Path, data: Path, steps: int, progress: bool) -> dict:
    """{"pose", "identity"} probes from folder, trained on data's train split when missing."""
    from .probes import load_probe, save_probe, train_identity_probe, train_pose_probe

    probes = {}
    for kind, trainer in (("pose", train_pose_probe), ("identity", train_identity_probe)):
        path = folder / f"{kind}.pt"
        if not path.exists():
            probe = trainer(str(data), steps=steps, progress=progress)
            folder.mkdir(parents=True, exist_ok=True)
            save_probe(path, probe)
        probes[kind] = load_probe(path)
    return probes


def run_experiment(args) -> int:
    from .diagnose import load_split
    from .training import train

    args = resolve_arguments(args)
    started = time.perf_counter()
    progress = not args.no_progress
    base = experiment_base(args, progress)
    data = Path(base["dataset_params"]["root_dir"])
    if not args.init_from.exists():
        print(f"shared reconstruction checkpoint {args.init_from} missing: training it")
        args.init_from = train(base, args.init_from.parent.parent, device=args.device, progress=progress,
                               overwrite=True)
    probes = ensure_probes(args.runs / "probes", data, args.probe_steps, progress)
    test = load_split(data, "test", base["dataset_params"]["frame_shape"])

    rows, per_video, checkpoints = [], {}, {}
    for variant in args.variants:
        for seed in args.seeds:
            run_dir = args.runs / f"{variant}-seed{seed}"
            config = variant_config(base, VARIANTS[variant], args.epochs, seed)
            last = ensure_trained(config, run_dir, args.init_from, args.device, progress)
            summary, videos = scored(run_dir, last, test, probes, True, args.quality_frames, progress)
            per_video.setdefault(variant, {})[seed] = videos
            rows.append({"variant": variant, "seed": seed, **summary})
            checkpoints.setdefault(variant, last)
    for key, folder, checkpoint in (("init", "reconstruction-start", args.init_from), ("copy", "copy-source", None)):
        summary, videos = scored(args.runs / folder, checkpoint, test, probes, False, progress=progress)
        per_video[REFERENCE_ROWS[key]] = {seed: videos for seed in args.seeds}
        rows.append({"variant": REFERENCE_ROWS[key], "seed": None, **summary})
    references = [REFERENCE_ROWS.get(r, r) for r in args.references]
    comparisons = compare_variants(per_video, args.variants, references, args.seeds, resamples=args.resamples)

    args.results.mkdir(parents=True, exist_ok=True)
    write_csv(args.results / "experiment_runs.csv",
              [{k: v for k, v in row.items() if k in ("variant", "seed", *METRICS, "mask_chance",
                                                           *DISCRIMINATOR_METRICS)} for row in rows])
    table = summarize(rows, [*args.variants, INIT, COPY])
    write_csv(args.results / "experiment.csv", table)
    write_csv(args.results / "experiment_comparisons.csv", comparisons)
    plot_metrics_vs_k(table, args.results / "metrics_vs_k.png")
    plot_artifacts(checkpoints, test[0][1], test[0][0].name, args.results / "artifacts.png")
    minutes = (time.perf_counter() - started) / 60
    budget = (f"{len(args.variants)} variants x {len(args.seeds)} seeds, each fine-tuned for {args.epochs} "
              f"adversarial epochs ({base['train_params']['batch_size']} frames a step) from "
              f"`{args.init_from}`; {len(test)} held-out test videos of unseen figures")
    command = "pcut experiment --quick" if args.quick else "pcut experiment --readme README.md"
    text = "\n".join([
        f"Budget: {budget}. Command: `{command}` ({minutes:.0f} min here).", "",
        "Mean ± standard deviation over seeds; the artifact metrics pool the truly dis-occluded "
        "(visible) pixels of frames 1.. of every held-out video reconstructed from its first frame; "
        "mask precision: share of the PriorityCut mask's generated pixels that are truly dis-occluded, "
        "next to a random mask of the same size; `_fomm`: FOMM's per-frame metrics averaged over all frames; "
        "D AUCs: the run's discriminator on held-out real and generated frames (0.5 = chance).", "",
        markdown_table(table), "",
        "Paired differences (variant − reference, same seeds and videos) with 95% bootstrap intervals "
        f"({args.resamples} resamples of seeds and videos); better/worse only where the interval excludes zero.", "",
        verdict_table(comparisons), "",
        *[f"- {s}" for s in findings(comparisons, table)], "",
        "![metrics against k](results/metrics_vs_k.png)", "",
        "![the same held-out frames across variants](results/artifacts.png)"])
    (args.results / "experiment.md").write_text("# PriorityCut ablation on the synthetic world\n\n"
                                                + text.replace("results/", "") + "\n")
    if args.readme is not None:
        update_readme(args.readme, text)
    print(text)
    return 0
