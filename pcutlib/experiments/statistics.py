"""Comparing the experiment's variants: per-seed metric grids, paired bootstrap differences against
the references, the discriminator gate, and mean and spread over seeds.
"""
from __future__ import annotations

import math

import numpy as np

from pcutlib.evaluation.bootstrap import DEFAULT_RESAMPLES, Comparison, compare

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


MIN_AUC = 0.8    # a comparison counts only where the compared runs' discriminators reach this image AUC


def near_chance(auc: float, min_auc: float = MIN_AUC) -> str:
    """The verdict of a comparison whose discriminator does not reach ``min_auc`` (NaN: not measured)."""
    if math.isnan(auc):
        return "discriminator AUC not measured: no comparison"
    return f"discriminator below the AUC bar ({auc:.3f} < {min_auc:g}): no comparison"


def gate_on_discriminators(comparisons: list[dict], auc_by_label: dict, min_auc: float = MIN_AUC) -> list[dict]:
    """Comparisons with ``valid``: True where every trained side's discriminator image AUC
    (``auc_by_label``: {row label: mean d_image_auc over seeds}; rows without a discriminator,
    the reconstruction start and copying the source, are absent) is at least ``min_auc``.
    Elsewhere valid is False and the verdict is ``near_chance`` of the lowest AUC; the difference
    and its interval stay. Returns new dicts."""
    gated = []
    for comparison in comparisons:
        aucs = [_number(auc_by_label[label]) for label in (comparison["variant"], comparison["reference"])
                if label in auc_by_label]
        worst = math.nan if any(math.isnan(a) for a in aucs) else min(aucs, default=math.inf)
        valid = not math.isnan(worst) and worst >= min_auc
        gated.append({**comparison, "valid": valid, **({} if valid else {"verdict": near_chance(worst, min_auc)})})
    return gated


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
