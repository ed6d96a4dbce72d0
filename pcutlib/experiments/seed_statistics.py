"""Statistics with the seed as the unit of replication, for the experiment's variants.

Two runs of the same variant with different seeds differ more than two test videos of one run:
the seed draws the discriminator's start, the batches and the masks, so the seed is the unit.
With 5 seeds any percentile bootstrap is too narrow: in simulated experiments with a seed
effect (tests/test_seed_statistics.py) the crossed bootstrap of ``evaluation.bootstrap`` and the
hierarchical one below both covered the true difference about 84% of the time, the paired
t-interval on per-seed means 95%; the hierarchical bootstrap reached 94% with 20 seeds. Here:

- the primary metric, named before the runs: ``l1_disoccluded`` (L1 inside the true
  dis-occlusion, where PriorityCut claims to act); its verdict per comparison is a paired
  t-interval on the per-seed differences (``paired_t``), with Holm's correction over the
  comparisons;
- a secondary family (``SECONDARY``) with Holm's correction over every comparison and metric;
  correlated twins (PSNR beside L1, FOMM's per-frame versions beside pcut's pooled ones, the
  mask's precision) are reported, not counted as findings (``REPORTED_ONLY``);
- a per-run gate: a seed counts in a comparison only when both of its runs' discriminators reach
  the image AUC bar; the verdict says how many seeds were left out;
- the smallest difference the design could detect (``minimum_detectable_difference``: 80%
  power, two-sided 5%, from the observed seed-to-seed spread), so "no difference detected"
  has a size;
- ``hierarchical_bootstrap``: seeds resampled, then videos within each drawn seed, beside the
  t-interval for records that keep per-video metrics and have many seeds.

``pcut seed-statistics RESULTS`` reads a setting's ``experiment_runs.csv`` (one row per run) and
writes ``seed_statistics.md`` beside it.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from pcutlib.experiments.statistics import LOWER_IS_BETTER, MIN_AUC

PRIMARY = "l1_disoccluded"
SECONDARY = ["l1_visible", "ssim_disoccluded", "ssim_visible", "animation_l1", "l1", "ssim", "akd", "mkr",
             "akd_gt", "aed"]
REPORTED_ONLY = ["psnr", "mask_precision", "l1_fomm", "psnr_fomm", "ssim_fomm", "akd_fomm", "mkr_fomm",
                 "akd_gt_fomm", "aed_fomm"]
COMPARISONS = [("prioritycut-k10", "cutmix"), ("prioritycut-k10", "unet"), ("cutmix", "unet"),
               ("unet", "baseline-patch")]
ALPHA = 0.05
POWER = 0.8


def paired_t(differences) -> dict:
    """Paired t-test on per-seed differences (variant - reference): {"n", "mean", "sd", "low",
    "high" (the two-sided 95% t-interval), "p" (two-sided, H0: mean 0)}; NaN where n < 2."""
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    n = len(d)
    if n < 2:
        return {"n": n, "mean": float(d.mean()) if n else math.nan, "sd": math.nan, "low": math.nan,
                "high": math.nan, "p": math.nan}
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    if sd == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half, "p": p}


def holm(p_values: dict) -> dict:
    """Holm's step-down adjusted p-values {key: adjusted p} (NaN stays NaN and is not counted):
    sorted ascending, p_(i) x (m - i + 1), made monotone, capped at 1."""
    finite = sorted((p, key) for key, p in p_values.items() if not math.isnan(p))
    m, running, adjusted = len(finite), 0.0, {key: math.nan for key in p_values}
    for rank, (p, key) in enumerate(finite):
        running = max(running, min(1.0, p * (m - rank)))
        adjusted[key] = running
    return adjusted


def minimum_detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean difference a two-sided paired t-test at ``alpha`` on ``n`` seeds
    detects with probability ``power``, for a seed-to-seed spread ``sd`` of the differences
    (exact, with the noncentral t distribution). NaN for n < 2 or sd NaN; 0 for sd 0."""
    if n < 2 or math.isnan(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df, critical = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)

    def shortfall(effect: float) -> float:
        shift = effect / (sd / math.sqrt(n))
        # P(T > c) + P(T < -c); the lower tail as sf(c) of -T (scipy's cdf gives NaN far out)
        return stats.nct.sf(critical, df, shift) + stats.nct.sf(critical, df, -shift) - power

    # the normal-approximation effect, doubled, brackets the exact one for every n >= 2
    upper = 2 * (critical + stats.t.ppf(power, df)) * sd / math.sqrt(n)
    return float(optimize.brentq(shortfall, 0.0, upper))


def hierarchical_bootstrap(variant: np.ndarray, reference: np.ndarray, resamples: int = 2000,
                           seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of mean(variant - reference) resampling seeds, then videos within each
    drawn seed. variant, reference: (S, V) per-video values of the same videos under each seed."""
    if variant.shape != reference.shape or variant.ndim != 2:
        raise ValueError(f"variant and reference must be (seeds, videos) of one shape, got "
                         f"{variant.shape} and {reference.shape}")
    rng = np.random.default_rng(seed)
    differences = variant - reference                                               # (S, V)
    seeds, videos = differences.shape
    seed_draws = rng.integers(0, seeds, size=(resamples, seeds))                    # (R, S)
    video_draws = rng.integers(0, videos, size=(resamples, seeds, videos))          # (R, S, V)
    means = differences[seed_draws[:, :, None], video_draws].mean(axis=(1, 2))      # (R,)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def read_runs(path: Path) -> list[dict]:
    """``experiment_runs.csv`` as dicts; numbers as floats, the seed as int (None for the rows
    that do not depend on the seed)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} holds no run")
    parsed = []
    for row in rows:
        entry = {"variant": row["variant"], "seed": int(row["seed"]) if row["seed"] else None}
        for key, value in row.items():
            if key not in ("variant", "seed"):
                entry[key] = float(value) if value not in ("", None) else math.nan
        parsed.append(entry)
    return parsed


def per_seed_differences(runs: list[dict], variant: str, reference: str, metric: str,
                         min_auc: float = MIN_AUC) -> tuple[dict, list[int]]:
    """({seed: variant - reference}, seeds left out by the gate) over the seeds both ran; a seed
    is left out when a run of the pair has a discriminator image AUC below ``min_auc``."""
    by_key = {(r["variant"], r["seed"]): r for r in runs if r["seed"] is not None}
    seeds = sorted({s for v, s in by_key if v == variant} & {s for v, s in by_key if v == reference})
    kept, left_out = {}, []
    for seed in seeds:
        pair = (by_key[(variant, seed)], by_key[(reference, seed)])
        aucs = [r.get("d_image_auc", math.nan) for r in pair]
        if any(not math.isnan(a) and a < min_auc for a in aucs):
            left_out.append(seed)
            continue
        kept[seed] = pair[0][metric] - pair[1][metric]
    return kept, left_out


def _signed(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.3g}"


def _verdict(result: dict, adjusted: float, lower_is_better: bool) -> str:
    if math.isnan(adjusted):
        return "not tested"
    if adjusted >= ALPHA:
        return "no difference detected"
    better = (result["mean"] < 0) == lower_is_better
    return "variant better" if better else "variant worse"


def seed_report(runs: list[dict], comparisons=COMPARISONS, min_auc: float = MIN_AUC) -> str:
    """The seed-level report (markdown): the primary verdicts with t-intervals, Holm-adjusted p
    and the detectable difference; the secondary family's findings after Holm; the twins."""
    present = {r["variant"] for r in runs}
    comparisons = [(v, r) for v, r in comparisons if v in present and r in present]
    if not comparisons:
        raise ValueError(f"none of the comparisons {COMPARISONS} has both variants among {sorted(present)}")
    primary = {}
    for variant, reference in comparisons:
        kept, left_out = per_seed_differences(runs, variant, reference, PRIMARY, min_auc)
        primary[(variant, reference)] = {**paired_t(list(kept.values())), "left_out": left_out}
    adjusted = holm({key: result["p"] for key, result in primary.items()})
    lines = [f"Primary metric `{PRIMARY}` (named before the runs), variant - reference per seed; seeds are the "
             f"unit (a paired t-test on per-seed differences, two-sided 95% interval); p adjusted by Holm over "
             f"the {len(comparisons)} comparisons; a seed is left out of a comparison when one of its two runs' "
             f"discriminators has an image AUC below {min_auc:g}. Detectable: the smallest true difference this "
             f"design finds with {POWER:.0%} power, from the observed spread.", "",
             "| variant | reference | seeds (left out) | mean difference | 95% t-interval | p (Holm) | detectable | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for (variant, reference), result in primary.items():
        detectable = minimum_detectable_difference(result["sd"], result["n"])
        lines.append(f"| {variant} | {reference} | {result['n']} ({len(result['left_out'])}) | {_signed(result['mean'])} "
                     f"| [{_signed(result['low'])}, {_signed(result['high'])}] | {result['p']:.3g} "
                     f"({adjusted[(variant, reference)]:.3g}) | {detectable:.3g} "
                     f"| {_verdict(result, adjusted[(variant, reference)], LOWER_IS_BETTER[PRIMARY])} |")
    secondary, results = {}, {}
    for variant, reference in comparisons:
        for metric in SECONDARY:
            kept, _ = per_seed_differences(runs, variant, reference, metric, min_auc)
            results[(variant, reference, metric)] = paired_t(list(kept.values()))
            secondary[(variant, reference, metric)] = results[(variant, reference, metric)]["p"]
    adjusted_secondary = holm(secondary)
    findings = [f"{v} vs {r}: {m} {_signed(results[(v, r, m)]['mean'])} "
                f"({_verdict(results[(v, r, m)], p, LOWER_IS_BETTER[m])}, Holm p {p:.3g})"
                for (v, r, m), p in adjusted_secondary.items() if not math.isnan(p) and p < ALPHA]
    lines += ["", f"Secondary family ({len(SECONDARY)} metrics x {len(comparisons)} comparisons, Holm over all "
              f"{len(secondary)}): " + ("; ".join(findings) if findings else "no finding survives the correction") + ".",
              "", "Reported, not counted as findings (twins of a counted metric): " + ", ".join(REPORTED_ONLY) + "."]
    return "\n".join(lines) + "\n"


def add_seed_statistics_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Seed-level verdicts of a stored experiment setting: paired t-intervals of the primary "
                          "metric, Holm's correction, the per-run discriminator gate and the detectable difference.")
    parser.add_argument("results", type=Path, help="a setting's folder, e.g. results/experiment-finetune")
    parser.add_argument("--min-auc", type=float, default=MIN_AUC, help="discriminator image AUC gate (default: %(default)s)")
    return parser


def run_seed_statistics(args: argparse.Namespace) -> int:
    records = args.results / "experiment_runs.csv"
    if not records.is_file():
        raise FileNotFoundError(f"{records} is missing: pcut experiment writes it")
    text = seed_report(read_runs(records), min_auc=args.min_auc)
    (args.results / "seed_statistics.md").write_text(f"# Seed-level statistics of {args.results.name}\n\n"
                                                     f"Written by `pcut seed-statistics {args.results}`.\n\n{text}")
    print(text, end="")
    print(f"wrote {args.results / 'seed_statistics.md'}")
    return 0
