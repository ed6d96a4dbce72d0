"""The experiment's written results: CSV and markdown tables, the metrics-vs-k
plot, the per-seed differences, the artifact figure, the results section of docs/results.md and
the README's verdict table.
"""
from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from pcutlib.checkpoints.files import load_models
from pcutlib.experiments.recipes import k_variants
from pcutlib.experiments.runs import COPY, INIT, INIT_SCRATCH
from pcutlib.experiments.design import COMPARISONS, MIN_PIXEL_AUC, ORACLE, PRIMARY
from pcutlib.experiments.seed_statistics import per_seed_differences, seed_differences
from pcutlib.experiments.statistics import DISCRIMINATOR_METRICS, LOWER_IS_BETTER, MIN_AUC
from pcutlib.paths import replace_between_markers
from pcutlib.prioritycut import prioritycut_mask

# the columns of the markdown tables (all metrics are in the CSVs)
TABLE_METRICS = ["l1_disoccluded", "l1_visible", "ssim_disoccluded", "animation_l1", "mask_precision",
                 "l1_fomm", "akd_gt_fomm", "aed_fomm"]


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
    names += ["D image AUC", "D pixel AUC (PriorityCut M)", "D pixel AUC (CutMix M)", "D pixel AUC vs true dis-occlusion"]
    lines = ["| variant | seeds | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
    for entry in table:
        cells = []
        for metric in TABLE_METRICS:
            cell = _cell(entry[f"{metric}_mean"], entry[f"{metric}_std"])
            if metric == "mask_precision" and cell != "–":
                cell += f" / {_cell(entry['mask_chance_mean'], digits=3)}"
            cells.append(cell)
        cells += [_cell(entry[f"{m}_mean"], entry[f"{m}_std"], digits=3) for m in DISCRIMINATOR_METRICS]
        seeds = entry["seeds"] if entry["variant"] not in (INIT, INIT_SCRATCH, COPY) else "–"
        lines.append(f"| {entry['variant']} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_metrics_vs_k(table: list[dict], path: Path) -> None:
    """Each table metric against k for PriorityCut, with the other rows as horizontal bands
    (mean ± std over seeds). The y axis spans the trained variants and the reconstruction start;
    copying the source frame, far off on most metrics, is written in the corner when off scale."""
    by_name = {entry["variant"]: entry for entry in table}
    ks = [(k, by_name[name]) for k, name in k_variants().items() if name in by_name]
    fig = Figure(figsize=(3.2 * 3, 2.6 * 3))
    axes = fig.subplots(3, 3).flat
    colours = {"baseline-patch": "tab:grey", "unet": "tab:blue", "cutmix": "tab:orange",
               "prioritycut-k10-all": "tab:purple", "prioritycut-k10-ones-fake": "tab:brown",
               "prioritycut-k10-unetgan-weights": "tab:pink", "cutmix-unetgan-weights": "tab:olive",
               INIT: "tab:green", INIT_SCRATCH: "tab:green", COPY: "black"}
    for ax, metric in zip(axes, TABLE_METRICS):
        spans = []                                          # (mean - std, mean + std); a single run: (mean, mean)
        for name, entry in by_name.items():
            mean, std = entry[f"{metric}_mean"], entry[f"{metric}_std"]
            if name != COPY and not math.isnan(mean):
                spread = 0.0 if math.isnan(std) else std
                spans.append((mean - spread, mean + spread))
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
        if spans:
            low, high = min(lo for lo, _ in spans), max(hi for _, hi in spans)
            pad = 0.15 * (high - low) or 0.05 * abs(high) or 0.01
            ax.set_ylim(low - pad, high + pad)
            copy = by_name.get(COPY, {}).get(f"{metric}_mean", math.nan)
            if not math.isnan(copy) and not low - pad <= copy <= high + pad:
                ax.text(0.98, 0.96 if copy > high else 0.04, f"copy the source: {copy:.4g} (off scale)",
                        transform=ax.transAxes, ha="right", va="top" if copy > high else "bottom", fontsize=7)
        ax.set_title(f"{metric} ({'lower' if LOWER_IS_BETTER[metric] else 'higher'} is better)", fontsize=9)
        ax.set_xlabel("top-k percent", fontsize=8)
        ax.tick_params(labelsize=7)
    axes_list = list(fig.axes)
    handles, labels = axes_list[0].get_legend_handles_labels()
    axes_list[-1].axis("off")
    axes_list[-1].legend(handles, labels, fontsize=8, loc="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def artifact_frames(length: int, frames=(8, 16, 24)) -> list[int]:
    """The frames of a video of ``length`` frames to show: ``frames`` inside it, else three
    frames spread over frames 1 .. length-1."""
    inside = [f for f in frames if 0 < f < length]
    return inside or sorted(set(np.linspace(1, length - 1, 3).round().astype(int).tolist()))


@torch.no_grad()
def plot_artifacts(checkpoints: dict, video: torch.Tensor, name: str, path: Path, frames=(8, 16, 24),
                   top_k_percent: float = 10.0, disoccluded: np.ndarray | None = None) -> None:
    """The same held-out frames of ``video`` (T,3,H,W) reconstructed by every variant
    ({label: checkpoint}); red = PriorityCut mask (k=10); a cyan outline = the true
    dis-occlusion of each frame from frame 0 (``disoccluded`` (T,H,W) bool, e.g.
    ``synthetic_truth.disocclusion_from(truth, 0)``; None: no outline). Frames: ``artifact_frames``."""

    frames = artifact_frames(len(video), frames)
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
            truth = None if disoccluded is None else disoccluded[frames[row]]
            if truth is not None and truth.any() and not truth.all():
                ax.contour(truth.astype(float), levels=[0.5], colors="cyan", linewidths=0.7)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label, fontsize=7)
            if column == 0:
                ax.set_ylabel(f"frame {frames[row]}", fontsize=7)
    outline = "; cyan outline = the true dis-occlusion" if disoccluded is not None else ""
    fig.suptitle(f"held-out video {name}: reconstructions\nred = the top-{top_k_percent:g}% most occluded "
                 f"foreground pixels (PriorityCut mask){outline}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def update_readme(readme: Path, text: str, start="<!-- results:start -->", end="<!-- results:end -->") -> None:
    """Replace the results section of the page ``readme`` (docs/results.md; between the markers)
    with ``text``."""
    replace_between_markers(readme, text, start, end)


SETTING_TITLES = {"finetune": "Setting (a): adversarial fine-tune from the reconstruction model",
                  "scratch": "Setting (b): adversarial from the first step, as the paper trains",
                  "finetune-textured": "Setting (a) in the textured world: adversarial fine-tune from the textured "
                                       "reconstruction model"}


def readme_results(results: Path, readme: Path) -> str:
    """The results section's text for the page ``readme`` (docs/results.md): the stored section
    (``section.md``) of every design found under ``results`` (``experiment-<design>/``, SETTING_TITLES' order), its image
    links made relative to that page."""
    parts = []
    for setting in SETTING_TITLES:
        folder = results / f"experiment-{setting}"
        if (folder / "section.md").is_file():
            prefix = Path(os.path.relpath(folder, readme.parent))
            body = re.sub(r"\]\(([^):/]+\.png)\)", lambda m: f"]({(prefix / m.group(1)).as_posix()})",
                          (folder / "section.md").read_text().strip())
            parts.append(f"### {SETTING_TITLES[setting]}\n\n{body}")
    return "\n\n".join(parts)


VERDICT_MARKERS = ("<!-- verdict:start -->", "<!-- verdict:end -->")
SETTING_SHORT = {"finetune": "(a) fine-tune, flat world", "scratch": "(b) from scratch, flat world",
                 "finetune-textured": "(a) fine-tune, textured world"}


def _csv_number(value: str, spec: str) -> str:
    """A number read from a CSV cell, formatted with ``spec``; "–" for an empty or NaN cell."""
    return "–" if value in ("", "nan") or math.isnan(float(value)) else format(float(value), spec)


def _level_lines(results: Path) -> list[str]:
    """Where the variants end, beside the start and copying the source: per design, the primary
    metric's mean over every recorded run (no gate) and how many runs end above the start
    (``experiment.csv``, ``experiment_runs.csv``)."""
    variants = ["baseline-patch", "unet", "cutmix", "prioritycut-k10", ORACLE]
    header = ["setting", "copy the source", "start", *variants, "runs that end above the start"]
    lines = []
    for design in SETTING_TITLES:
        folder = results / f"experiment-{design}"
        if not (folder / "experiment.csv").is_file():
            continue
        with open(folder / "experiment.csv", newline="") as f:
            means = {r["variant"]: float(r[f"{PRIMARY}_mean"]) for r in csv.DictReader(f)}
        with open(folder / "experiment_runs.csv", newline="") as f:
            runs = [float(r[PRIMARY]) for r in csv.DictReader(f) if r["seed"] not in ("", None)]
        start = next((means[name] for name in (INIT, INIT_SCRATCH) if name in means), math.nan)
        above = "–" if math.isnan(start) else f"{sum(value > start for value in runs)} of {len(runs)}"
        cells = [SETTING_SHORT[design], f"{means[COPY]:.5f}" if COPY in means else "–",
                 "–" if math.isnan(start) else f"{start:.5f}",
                 *(f"{means[n]:.5f}" if n in means else "–" for n in variants), above]
        lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return []
    return [f"`{PRIMARY}` where each setting ends: the mean over its recorded runs (no gate), beside copying the "
            "source frame and the model the runs start from (the fine-tunes' reconstruction checkpoint; from scratch, "
            "the same recipe without the adversarial term, where recorded):", "",
            "| " + " | ".join(header) + " |", "|" + "---|" * len(header), *lines, ""]


def verdict_summary(results: Path) -> str:
    """The README's verdict table: for every design found under ``results`` (SETTING_TITLES' order),
    the primary metric's comparisons (``experiment_comparisons.csv``, family "primary", in
    COMPARISONS' order) with the seeds counted of those planned, the mean difference, its paired
    t-interval, Holm's p, the verdict and the smallest difference a paired t-test at Holm's first step
    finds with 80% power at the seeds counted, and the same comparison over every run without the
    gate or the tuning seeds (the report's sensitivity table); each setting says how many of its
    planned runs are recorded."""
    lines, families = [], set()
    for design in SETTING_TITLES:
        path = results / f"experiment-{design}" / "experiment_comparisons.csv"
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            rows = {(r["variant"], r["reference"]): r for r in csv.DictReader(f) if r["family"] == "primary"}
        setting = None
        for variant, reference in COMPARISONS:
            row = rows.get((variant, reference))
            if row is None:
                continue
            if setting is None:
                setting = f"{SETTING_SHORT[design]}: {row['recorded_runs']} of {row['planned_runs']} runs recorded"
            families.add(row["family_size"])
            signed = {key: _csv_number(row[key], "+.2e") for key in ("mean", "low", "high")}
            lines.append(f"| {setting} | {variant} − {reference} | {row['n']} ({row['planned_seeds']}) | "
                         f"{signed['mean']} | [{signed['low']}, {signed['high']}] | {_csv_number(row['p_holm'], '.3g')} | "
                         f"{row['verdict']} | {_csv_number(row['detectable'], '.2e')} | {row['n_ungated']}: "
                         f"{_csv_number(row['p_holm_ungated'], '.3g')}, {row['verdict_ungated']} |")
            setting = ""
    family = " or ".join(sorted(families)) or "its"
    return "\n".join([*_level_lines(results), f"Primary metric `{PRIMARY}` (L1 inside the true dis-occlusion; lower "
                      f"is better), variant − reference, the seed as the unit; p adjusted by Holm over each setting's "
                      f"{family} comparisons.",
                      "", "| setting | variant − reference | seeds counted (planned) | mean difference | 95% "
                      "t-interval | p (Holm) | verdict | detectable with 80% power | without the gate: seeds: p (Holm), "
                      "verdict |", "|---|---|---|---|---|---|---|---|---|", *lines])


def write_pages(pages: list[Path], results: Path, say=print) -> None:
    """Rewrite, in each page, every marker pair it holds: the results markers get ``readme_results``
    (docs/results.md), the verdict markers ``verdict_summary`` (the README). A page with neither is
    an error naming it."""
    for page in pages:
        text = Path(page).read_text()
        found = [name for name, start in (("results", "<!-- results:start -->"), ("verdict", VERDICT_MARKERS[0]))
                 if start in text]
        if not found:
            raise ValueError(f"--readme {page}: the page has neither <!-- results:start --> nor "
                             f"{VERDICT_MARKERS[0]} markers; expected docs/results.md or README.md")
        if "results" in found:
            update_readme(page, readme_results(results, Path(page)))
        if "verdict" in found:
            replace_between_markers(page, verdict_summary(results), *VERDICT_MARKERS)
        say(f"rewrote the {' and '.join(found)} section of {page} (between its markers)")


def plot_seed_differences(rows: list[dict], runs: list[dict], path: Path, min_auc: float = MIN_AUC,
                          min_pixel_auc: float = MIN_PIXEL_AUC, tuning_seeds=()) -> None:
    """``draw_seed_differences`` saved to ``path``."""
    primary = [row for row in rows if row["family"] == "primary"]
    fig = Figure(figsize=(6.4, 0.55 * len(primary) + 1.2))
    draw_seed_differences(fig.subplots(), rows, runs, min_auc, min_pixel_auc, tuning_seeds)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def draw_seed_differences(ax, rows: list[dict], runs: list[dict], min_auc: float = MIN_AUC,
                          min_pixel_auc: float = MIN_PIXEL_AUC, tuning_seeds=()) -> None:
    """On matplotlib axes ``ax``, one row per comparison of ``seed_comparisons`` rows: each seed's
    difference of the primary metric (a dot; a hollow one: left out by the gate or as a tuning
    seed), the paired t-interval (a bar) and zero (a line)."""
    primary = [row for row in rows if row["family"] == "primary"]
    for index, row in enumerate(primary):
        y = len(primary) - 1 - index
        kept, left_out = per_seed_differences(runs, row["variant"], row["reference"], PRIMARY, min_auc,
                                               min_pixel_auc, tuning_seeds)
        ax.scatter(list(kept.values()), [y] * len(kept), s=18, color="tab:blue", zorder=3)
        every_seed = seed_differences(runs, row["variant"], row["reference"], PRIMARY)
        out = [every_seed[seed] for seed in left_out]
        ax.scatter(out, [y] * len(out), s=18, facecolors="none", edgecolors="tab:gray", zorder=3)
        if not math.isnan(row["low"]):
            ax.plot([row["low"], row["high"]], [y, y], color="black", linewidth=2, zorder=2)
    ax.axvline(0, color="tab:red", linewidth=0.8)
    ax.set_yticks(range(len(primary)))
    ax.set_yticklabels([f"{r['variant']} − {r['reference']}" for r in reversed(primary)], fontsize=7)
    ax.set_xlabel(f"{PRIMARY}: variant − reference per seed (< 0: variant better)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("per seed (dots; hollow: left out by the gate or as a tuning seed) and the 95% t-interval (bar)",
                 fontsize=8)
