"""The experiment's metrics (which are better lower), the discriminator bar, and mean and spread
over seeds. The comparisons themselves, with the seed as the unit: ``seed_statistics``.
"""
from __future__ import annotations

import math

import numpy as np

# Every compared metric and whether lower is better (definitions: artifacts, evaluation, metrics).
LOWER_IS_BETTER = {
    # the claim (artifacts)
    "l1_disoccluded": True, "l1_visible": True, "ssim_disoccluded": False, "ssim_visible": False,
    "animation_l1": True, "mask_precision": False,
    # FOMM's per-frame metrics (protocols.fomm_frame_metrics)
    "l1_fomm": True, "psnr_fomm": False, "ssim_fomm": False, "akd_fomm": True, "mkr_fomm": True,
    "akd_gt_fomm": True, "aed_fomm": True,
    # pcut's pooled-per-video metrics (protocols.video_metrics)
    "l1": True, "psnr": False, "ssim": False, "akd": True, "mkr": True, "akd_gt": True, "aed": True,
}


METRICS = list(LOWER_IS_BETTER)


DISCRIMINATOR_METRICS = ["d_image_auc", "d_pixel_auc_prioritycut", "d_pixel_auc_cutmix", "d_pixel_auc_true_disocclusion"]


def _number(value) -> float:
    """A stored value as float: None (JSON null), a missing entry or a non-number -> NaN."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


MIN_AUC = 0.8    # a run counts only where its discriminator reaches this image AUC (seed_statistics.run_gate)


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
