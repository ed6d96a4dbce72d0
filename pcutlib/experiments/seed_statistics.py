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
- a per-run gate: a seed counts in a comparison only when both of its runs pass on their own
  (``run_gate``: the discriminator's image AUC and, for a mixing variant, its pixel head's AUC
  against the true dis-occlusion at least the setting's ``GATES``) and started from the same
  checkpoint; the verdict says how many seeds were left out, and why;
- the smallest difference the design could detect (``minimum_detectable_difference``: 80%
  power, two-sided 5%, from the observed seed-to-seed spread), so "no difference detected"
  has a size;
- ``hierarchical_bootstrap``: seeds resampled, then videos within each drawn seed, beside the
  t-interval for records that keep per-video metrics and have many seeds.

``pcut experiment`` writes this report into each setting's ``experiment.md`` and every comparison
into ``experiment_comparisons.csv``; ``pcut seed-statistics RESULTS`` rewrites it from a setting's
``experiment_runs.csv`` (one row per run; no per-video values, so no hierarchical bootstrap) into
``seed_statistics.md``.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from pcutlib.experiments.design import (COMPARISONS, GATES, MIN_PIXEL_AUC, PRIMARY, REPORTED_ONLY, SECONDARY,
                                        setting_plan)
from pcutlib.experiments.recipes import experiment_recipe
from pcutlib.experiments.statistics import LOWER_IS_BETTER, MIN_AUC

ALPHA = 0.05
POWER = 0.8


def paired_t(differences) -> dict:
    """Paired t-test on per-seed differences (variant - reference): {"n", "mean", "sd", "low",
    "high" (the two-sided 95% t-interval), "p" (two-sided, H0: mean 0)}; NaN where n < 2, and p
    NaN (no test) where the differences do not vary."""
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    n = len(d)
    if n < 2:
        return {"n": n, "mean": float(d.mean()) if n else math.nan, "sd": math.nan, "low": math.nan,
                "high": math.nan, "p": math.nan}
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    # no spread between seeds (identical differences, e.g. runs that did not differ): no test
    p = math.nan if sd == 0 else float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half, "p": p}


def holm(p_values: dict, m: int | None = None) -> dict:
    """Holm's step-down adjusted p-values {key: adjusted p} (NaN stays NaN): sorted ascending,
    p_(i) x (m - i + 1), made monotone, capped at 1. m: the family's size fixed before the data
    (a test that could not run counts as p = 1, last in the order); None: the finite p-values."""
    finite = sorted((p, key) for key, p in p_values.items() if not math.isnan(p))
    m = len(finite) if m is None else m
    if m < len(finite):
        raise ValueError(f"m={m} is smaller than the {len(finite)} p-values given")
    running, adjusted = 0.0, {key: math.nan for key in p_values}
    for rank, (p, key) in enumerate(finite):
        running = max(running, min(1.0, p * (m - rank)))
        adjusted[key] = running
    return adjusted


def minimum_detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean difference a two-sided paired t-test at ``alpha`` on ``n`` seeds
    detects with probability ``power``, for a seed-to-seed spread ``sd`` of the differences
    (exact, with the noncentral t distribution). The report passes alpha / m for a family of m
    tests (the level Holm's first step needs, so the figure is conservative for Holm) and the
    observed sd (itself uncertain with few seeds). NaN for n < 2, sd NaN or sd 0."""
    if n < 2 or math.isnan(sd) or sd == 0:
        return math.nan
    df, critical = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)

    def shortfall(effect: float) -> float:
        shift = effect / (sd / math.sqrt(n))
        # P(T > c) + P(T < -c); the lower tail as sf(c) of -T (scipy's cdf gives NaN far out)
        return stats.nct.sf(critical, df, shift) + stats.nct.sf(critical, df, -shift) - power

    # the normal-approximation effect, doubled, brackets the exact one for every n >= 2
    upper = 2 * (critical + stats.t.ppf(power, df)) * sd / math.sqrt(n)
    return float(optimize.brentq(shortfall, 0.0, upper))


def hierarchical_bootstrap(variant: np.ndarray, reference: np.ndarray, resamples: int = 2000,
                           seed: int = 0, confidence: float = 0.95, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile interval of the mean over seeds of each seed's pooled difference, resampling
    seeds, then videos within each drawn seed. variant, reference: (S, V) per-video values of the
    same videos under each seed; weights (S, V): what each video's value pools (its dis-occluded
    pixels, the same for both: the truth), so that a seed's difference is the pooled
    sum_v w (x_v - r_v) / sum_v w, as the run's own figure pools it; None: equal weights."""
    if variant.shape != reference.shape or variant.ndim != 2:
        raise ValueError(f"variant and reference must be (seeds, videos) of one shape, got "
                         f"{variant.shape} and {reference.shape}")
    weights = np.ones_like(variant) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    differences = variant - reference                                               # (S, V)
    seeds, videos = differences.shape
    seed_draws = rng.integers(0, seeds, size=(resamples, seeds))                    # (R, S)
    video_draws = rng.integers(0, videos, size=(resamples, seeds, videos))          # (R, S, V)
    drawn_w = weights[seed_draws[:, :, None], video_draws]                           # (R, S, V)
    drawn_d = differences[seed_draws[:, :, None], video_draws]
    pooled = (drawn_w * drawn_d).sum(axis=2) / np.maximum(drawn_w.sum(axis=2), 1e-12)   # (R, S)
    means = pooled.mean(axis=1)                                                     # (R,)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def read_runs(path: Path) -> list[dict]:
    """``experiment_runs.csv`` as dicts; numbers as floats, the seed as int (None for the rows
    that do not depend on the seed), the start (a checkpoint digest) as text."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} holds no run")
    parsed = []
    for row in rows:
        entry = {"variant": row["variant"], "seed": int(row["seed"]) if row["seed"] else None,
                 "start": row.get("start") or None}
        for key, value in row.items():
            if key not in ("variant", "seed", "start"):
                entry[key] = float(value) if value not in ("", None) else math.nan
        parsed.append(entry)
    return parsed


def _value(run: dict, key: str) -> float:
    value = run.get(key)
    return math.nan if value is None else float(value)


def _mixes(name: str) -> bool | None:
    """Whether the experiment's variant ``name`` mixes images (None: not a variant)."""
    variants = experiment_recipe()["variants"]
    return variants[name]["regularizer"] != "none" if name in variants else None


def run_gate(run: dict, min_auc: float = MIN_AUC, min_pixel_auc: float = MIN_PIXEL_AUC) -> str | None:
    """Why a run does not count (None: it counts): its discriminator's image AUC below ``min_auc``
    or not measured, or, for a mixing variant, its pixel AUC against the true dis-occlusion below
    ``min_pixel_auc`` or not measured. A row that names no variant of the recipe is gated on its
    pixel AUC where one was measured."""
    image, pixel = _value(run, "d_image_auc"), _value(run, "d_pixel_auc_true_disocclusion")
    mixes = _mixes(run.get("variant", ""))
    if math.isnan(image):
        return "image AUC not measured"
    if image < min_auc:
        return f"image AUC {image:.3f} < {min_auc:g}"
    if mixes is False:
        return None
    if math.isnan(pixel):
        return "pixel AUC not measured" if mixes else None
    if pixel < min_pixel_auc:
        return f"pixel AUC {pixel:.3f} < {min_pixel_auc:g}"
    return None


def seed_differences(runs: list[dict], variant: str, reference: str, metric: str) -> dict:
    """{seed: variant - reference} of ``metric`` over every seed both ran (NaN: not measured)."""
    by_key = {(r["variant"], r["seed"]): r for r in runs if r["seed"] is not None}
    seeds = sorted({s for v, s in by_key if v == variant} & {s for v, s in by_key if v == reference})
    return {seed: _value(by_key[(variant, seed)], metric) - _value(by_key[(reference, seed)], metric)
            for seed in seeds}


def per_seed_differences(runs: list[dict], variant: str, reference: str, metric: str, min_auc: float = MIN_AUC,
                         min_pixel_auc: float = MIN_PIXEL_AUC, tuning_seeds=()) -> tuple[dict, dict]:
    """({seed: variant - reference}, {seed: why it was left out}) over the seeds both ran: a seed
    is left out when it is one of ``tuning_seeds``, a run of the pair fails ``run_gate`` or the two
    started from different checkpoints (their records' ``start``)."""
    by_key = {(r["variant"], r["seed"]): r for r in runs if r["seed"] is not None}
    kept, left_out = {}, {}
    for seed, difference in seed_differences(runs, variant, reference, metric).items():
        pair = (by_key[(variant, seed)], by_key[(reference, seed)])
        reasons = [f"{name}: {why}" for name, run in zip((variant, reference), pair)
                   if (why := run_gate(run, min_auc, min_pixel_auc))]
        if seed in tuning_seeds:
            reasons.insert(0, "a tuning seed (left out as planned)")
        if pair[0].get("start") != pair[1].get("start"):
            reasons.append("different starting checkpoints")
        if not reasons and math.isnan(difference):
            reasons.append(f"{metric} not measured")
        if reasons:
            left_out[seed] = "; ".join(reasons)
            continue
        kept[seed] = difference
    return kept, left_out


def per_video_grid(per_video: dict, variant: str, reference: str, seeds: list[int], metric: str):
    """(variant, reference, weights) per-video values (S, V) of ``seeds`` over the videos every
    one of those runs scored, and what each value pools (``<metric>_weight``; 1 where the rows
    keep no weight). A video whose value is NaN (nothing to pool) gets weight 0. None when no
    video is left."""
    runs = [per_video[name][seed] for name in (variant, reference) for seed in seeds]
    values = [{row["name"]: (_value(row, metric), _value(row, f"{metric}_weight")) for row in rows} for rows in runs]
    names = sorted(set.intersection(*(set(v) for v in values)))
    if not names:
        return None
    grid = np.array([[v[n][0] for n in names] for v in values]).reshape(2, len(seeds), len(names))
    weights = np.array([[v[n][1] for n in names] for v in values[:len(seeds)]])
    weights = np.where(np.isnan(weights), 1.0, weights)
    missing = np.isnan(grid).any(axis=0)
    weights, grid = np.where(missing, 0.0, weights), np.where(np.isnan(grid), 0.0, grid)
    return grid[0], grid[1], weights


def _family(metric: str) -> str:
    return "primary" if metric == PRIMARY else "secondary" if metric in SECONDARY else "reported"


def seed_comparisons(runs: list[dict], per_video: dict | None = None, comparisons=COMPARISONS,
                     min_auc: float = MIN_AUC, min_pixel_auc: float = MIN_PIXEL_AUC,
                     resamples: int = 2000, tuning_seeds=(), planned_seeds: int | None = None,
                     planned_variants=None) -> list[dict]:
    """Every (variant, reference, metric) of the comparisons whose two variants ran: the paired
    t-result on per-seed differences (``paired_t``), the seeds left out, the detectable
    difference, Holm's p within the metric's family (primary: over the comparisons; secondary:
    over comparisons x metrics; reported twins: not adjusted, not counted) and the verdict; for
    the primary metric with ``per_video`` ({variant: {seed: rows}}) the hierarchical bootstrap
    interval beside the t-interval. Holm's m is the family as planned, whatever the gate leaves
    or is recorded so far: the comparisons between ``planned_variants`` (None: the variants in
    ``runs``), times the metrics measured for the secondary family;
    ``planned_seeds`` adds the difference detectable at that many seeds (same spread), the
    design's, beside the one at the seeds counted so far."""
    present = {r["variant"] for r in runs}
    planned = set(present if planned_variants is None else planned_variants)
    planned_comparisons = [(v, r) for v, r in comparisons if v in planned and r in planned]
    testable = [(v, r) for v, r in planned_comparisons if v in present and r in present]
    if not testable:
        raise ValueError(f"none of the comparisons {comparisons} has both variants among the runs' "
                         f"{sorted(present)} and the planned variants {sorted(planned)}")
    measured = [m for m in [PRIMARY, *SECONDARY, *REPORTED_ONLY] if any(m in r for r in runs)]
    planned_size = {"primary": len(planned_comparisons),
                    "secondary": len(planned_comparisons) * sum(_family(m) == "secondary" for m in measured)}
    rows = []
    for variant, reference in testable:
        for metric in measured:
            kept, left_out = per_seed_differences(runs, variant, reference, metric, min_auc, min_pixel_auc,
                                                  tuning_seeds)
            result = paired_t(list(kept.values()))
            row = {"variant": variant, "reference": reference, "metric": metric, "family": _family(metric),
                   **result, "seeds": " ".join(map(str, kept)), "left_out": len(left_out),
                   "left_out_why": " | ".join(f"seed {s}: {why}" for s, why in left_out.items()),
                   "bootstrap_low": math.nan, "bootstrap_high": math.nan}
            if metric == PRIMARY and per_video and len(kept) >= 2:
                grid = per_video_grid(per_video, variant, reference, sorted(kept), metric)
                if grid is not None:
                    values, references, weights = grid
                    row["bootstrap_low"], row["bootstrap_high"] = hierarchical_bootstrap(
                        values, references, resamples=resamples, weights=weights)
            rows.append(row)
    for family in ("primary", "secondary"):
        members = [i for i, row in enumerate(rows) if row["family"] == family]
        # m: the family as planned (every planned comparison x metric), not the tests the gate or the
        # records so far let run
        size = planned_size[family]
        adjusted = holm({i: rows[i]["p"] for i in members}, m=size)
        tests = sum(not math.isnan(rows[i]["p"]) for i in members)
        for i in members:
            rows[i]["p_holm"], rows[i]["family_tests"], rows[i]["family_size"] = adjusted[i], tests, size
            rows[i]["detectable"] = minimum_detectable_difference(rows[i]["sd"], rows[i]["n"],
                                                                  alpha=ALPHA / max(size, 1))
            rows[i]["detectable_planned"] = (math.nan if planned_seeds is None else minimum_detectable_difference(
                rows[i]["sd"], planned_seeds, alpha=ALPHA / max(size, 1)))
    for row in rows:
        row.setdefault("p_holm", math.nan)
        row.setdefault("family_tests", 0)
        row.setdefault("family_size", 0)
        row.setdefault("detectable_planned", math.nan)
        row.setdefault("detectable", minimum_detectable_difference(row["sd"], row["n"]))
        row["verdict"] = ("reported, not counted" if row["family"] == "reported"
                          else _verdict(row, row["p_holm"], LOWER_IS_BETTER[row["metric"]]))
    return rows


def _signed(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.3g}"


def _verdict(result: dict, adjusted: float, lower_is_better: bool) -> str:
    if result["n"] >= 2 and result["sd"] == 0:
        return "not testable (no spread between seeds)"
    if math.isnan(adjusted):
        return "not tested"
    if adjusted >= ALPHA:
        return "no difference detected"
    better = (result["mean"] < 0) == lower_is_better
    return "variant better" if better else "variant worse"


def gate_table(runs: list[dict], min_auc: float = MIN_AUC, min_pixel_auc: float = MIN_PIXEL_AUC) -> str:
    """Markdown: every run's image AUC and pixel AUC against the true dis-occlusion by variant
    and seed, a run that fails ``run_gate`` marked ✗."""
    trained = [r for r in runs if r["seed"] is not None]
    variants = list(dict.fromkeys(r["variant"] for r in trained))
    seeds = sorted({r["seed"] for r in trained})
    by_key = {(r["variant"], r["seed"]): r for r in trained}
    lines = ["| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | left out |",
             "|---|" + "---|" * (len(seeds) + 1)]
    for variant in variants:
        cells, failed = [], 0
        for seed in seeds:
            run = by_key.get((variant, seed))
            if run is None:
                cells.append("–")
                continue
            image, pixel = _value(run, "d_image_auc"), _value(run, "d_pixel_auc_true_disocclusion")
            mark = " ✗" if run_gate(run, min_auc, min_pixel_auc) else ""
            failed += bool(mark)
            cells.append(f"{image:.3f}" + ("" if math.isnan(pixel) else f" / {pixel:.3f}") + mark)
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {failed} |")
    return "\n".join(lines)


def _sensitivity_table(rows: list[dict]) -> list[str]:
    """Markdown lines: the primary comparisons over every run of every seed (no gate, tuning seeds
    in), Holm over the same planned family."""
    lines = ["| variant | reference | seeds | mean difference | 95% t-interval | p (Holm) | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["family"] == "primary":
            lines.append(f"| {row['variant']} | {row['reference']} | {row['n']} | {_signed(row['mean'])} | "
                         f"[{_signed(row['low'])}, {_signed(row['high'])}] | {row['p']:.3g} ({row['p_holm']:.3g}) | "
                         f"{row['verdict']} |")
    return lines


def primary_table(rows: list[dict]) -> str:
    """Markdown: the primary metric's rows of ``seed_comparisons``, one per comparison: seeds
    counted (left out), mean difference, t-interval, hierarchical bootstrap, p (Holm), the
    detectable difference (at the planned seeds) and the verdict."""
    lines = ["| variant | reference | seeds (left out) | mean difference | 95% t-interval | hierarchical bootstrap "
             "| p (Holm) | detectable (planned) | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for row in (row for row in rows if row["family"] == "primary"):
        boot = ("–" if math.isnan(row["bootstrap_low"])
                else f"[{_signed(row['bootstrap_low'])}, {_signed(row['bootstrap_high'])}]")
        lines.append(f"| {row['variant']} | {row['reference']} | {row['n']} ({row['left_out']}) | "
                     f"{_signed(row['mean'])} | [{_signed(row['low'])}, {_signed(row['high'])}] | {boot} | "
                     f"{row['p']:.3g} ({row['p_holm']:.3g}) | {row['detectable']:.3g} "
                     f"({row['detectable_planned']:.3g}) | {row['verdict']} |")
    return "\n".join(lines)


def seed_report(runs: list[dict], rows: list[dict] | None = None, min_auc: float = MIN_AUC,
                min_pixel_auc: float = MIN_PIXEL_AUC, tuning_seeds=(), planned_seeds: int | None = None,
                history: str = "", planned_variants=None) -> str:
    """The seed-level report (markdown): the gate of every run, the primary verdicts with
    t-intervals (and hierarchical bootstrap intervals where per-video values were given to
    ``seed_comparisons``), Holm-adjusted p and the detectable difference (at the seeds counted
    and at ``planned_seeds``); the same comparisons over every run without the gate and with the
    ``tuning_seeds`` (a sensitivity analysis); the secondary family's findings after Holm; the twins.
    ``history``: what shaped the analysis before its runs (``HISTORY`` of the setting), one sentence."""
    if rows is None:
        rows = seed_comparisons(runs, min_auc=min_auc, min_pixel_auc=min_pixel_auc, tuning_seeds=tuning_seeds,
                                planned_seeds=planned_seeds, planned_variants=planned_variants)
    every_run = seed_comparisons(runs, min_auc=0.0, min_pixel_auc=0.0, planned_variants=planned_variants)
    primary = [row for row in rows if row["family"] == "primary"]
    secondary = [row for row in rows if row["family"] == "secondary"]
    tested = primary[0]["family_tests"] if primary else 0
    size = primary[0]["family_size"] if primary else 0
    planned = "" if planned_seeds is None else f" and at the {planned_seeds} seeds planned (the design's)"
    lines = [f"Each run on its own (image AUC / pixel AUC against the true dis-occlusion of its discriminator on "
             f"held-out frames; 0.5 = chance): a run counts where the image AUC is at least {min_auc:g} and, for a "
             f"mixing variant (whose regularizer acts through the pixel head), the pixel AUC at least "
             f"{min_pixel_auc:g}; ✗ = left out.", "", gate_table(runs, min_auc, min_pixel_auc), "",
             f"Primary metric `{PRIMARY}` (named before the runs), variant − reference per seed; seeds are the "
             f"unit: a paired t-test on the per-seed differences (two-sided 95% interval, not adjusted) and, beside "
             f"it, a hierarchical bootstrap of the same pooled figure (seeds, then videos within a seed); p adjusted "
             f"by Holm over the {size} comparisons planned ({tested} could be tested; one that could not counts as "
             f"p = 1); a seed is left out of a comparison when either run fails the gate, the two started from "
             f"different checkpoints, the metric was not measured, or it is a tuning seed.{history} Detectable: the "
             f"smallest true difference a paired t-test at 5%/{max(size, 1)} (Holm's first step) finds with "
             f"{POWER:.0%} power at the observed seed-to-seed spread (itself uncertain with few seeds), at the seeds "
             f"counted{planned}.", "", primary_table(rows)]
    lines += ["", "Sensitivity: the same comparisons over every run of every seed, no gate and no seed left out for "
              "tuning (a seed still needs both runs from one starting checkpoint). Where it disagrees with the table "
              "above, the gate or the tuning seed decided the verdict.", "", *_sensitivity_table(every_run)]
    findings = [f"{r['variant']} vs {r['reference']}: {r['metric']} {_signed(r['mean'])} ({r['verdict']}, Holm p "
                f"{r['p_holm']:.3g})" for r in secondary if not math.isnan(r["p_holm"]) and r["p_holm"] < ALPHA]
    metrics = len({r["metric"] for r in secondary})
    tested_secondary = secondary[0]["family_tests"] if secondary else 0
    if not tested_secondary:
        summary = "nothing could be tested (fewer than 2 seeds counted, or no spread)"
    else:
        summary = "; ".join(findings) if findings else "no finding survives the correction"
    size_secondary = secondary[0]["family_size"] if secondary else 0
    lines += ["", f"Secondary family ({metrics} metrics x {size} comparisons planned, Holm over all "
              f"{size_secondary}, {tested_secondary} of them tested): {summary}.",
              "", "Reported, not counted as findings (twins of a counted metric): " + ", ".join(REPORTED_ONLY) + "."]
    return "\n".join(lines) + "\n"


def add_seed_statistics_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Seed-level verdicts of a stored experiment setting: paired t-intervals of the primary "
                          "metric, Holm's correction, the per-run discriminator gate and the detectable difference.")
    parser.add_argument("results", type=Path, help="a setting's folder, e.g. results/experiment-finetune")
    gates = ", ".join(f"{setting} {image:g}" for setting, (image, _) in GATES.items())
    parser.add_argument("--min-auc", type=float, default=None,
                        help=f"discriminator image AUC gate (default: the setting's, design.GATES: {gates})")
    parser.add_argument("--min-pixel-auc", type=float, default=None,
                        help=f"a mixing variant's pixel AUC against the true dis-occlusion gate (default: the "
                             f"setting's, {MIN_PIXEL_AUC:g} in each)")
    return parser


def run_seed_statistics(args: argparse.Namespace) -> int:
    """The setting's report from its ``experiment_runs.csv``, with the design's plan
    (``design.setting_plan``: gate, tuning seeds, Holm's family, planned seeds), as ``pcut
    experiment`` writes it, into ``seed_statistics.md``."""
    records = args.results / "experiment_runs.csv"
    if not records.is_file():
        raise FileNotFoundError(f"{records} is missing: pcut experiment writes it")
    plan = setting_plan(args.results.name.removeprefix("experiment-"))
    min_auc = plan["min_auc"] if args.min_auc is None else args.min_auc
    min_pixel_auc = plan["min_pixel_auc"] if args.min_pixel_auc is None else args.min_pixel_auc
    text = seed_report(read_runs(records), min_auc=min_auc, min_pixel_auc=min_pixel_auc,
                       tuning_seeds=plan["tuning_seeds"], planned_seeds=plan["planned_seeds"],
                       history=plan["history"], planned_variants=plan["variants"])
    (args.results / "seed_statistics.md").write_text(f"# Seed-level statistics of {args.results.name}\n\n"
                                                     f"Written by `pcut seed-statistics {args.results}`.\n\n{text}")
    print(text, end="")
    print(f"wrote {args.results / 'seed_statistics.md'}")
    return 0
