"""``pcut experiment``: does PriorityCut reduce warping artifacts? An equal-budget comparison.

Every variant differs from the others only in its discriminator and regularizer, trains with
the same seeds (each seed: the same batches, warps and mixing steps, and a discriminator freshly
initialised from it) and the same loss terms and schedule (the adversarial term at
GENERATOR_GAN_WEIGHT, feature matching on every discriminator's features at
FEATURE_MATCHING_WEIGHT per block, DISCRIMINATOR_STEPS_PER_GENERATOR_STEP discriminator updates
per generator update; a mixing variant's consistency loss at CONSISTENCY_WEIGHT, its mixed terms
ramped in over MIXED_TERMS_WARMUP_EPOCHS), in two settings (``--setting``), each with its own
run folders (``<runs>/<setting>/<variant>-seed<seed>``) and results (``<results>/experiment-<setting>/``):

    finetune   adversarial fine-tune of the shared reconstruction checkpoint (``--init-from``):
               ``--warmup-epochs`` in which only the fresh discriminator trains (the generator as
               it is), then ``--epochs`` adversarial epochs (CPU-sized choices)
    scratch    each variant trained from a fresh model with the adversarial term on from the first
               step, as the paper trains (FOMM's ``vox-adv`` is such a standalone run), with the
               reconstruction recipe otherwise

The main comparison (``MAIN_VARIANTS``, the default):

    baseline-patch      FOMM's patch discriminator (LSGAN)
    unet                the U-Net discriminator, no mixing
    cutmix              + CutMix (random boxes)
    prioritycut-k10     + PriorityCut, top-10% most occluded foreground pixels

and the ablations (``ABLATIONS``, run when named in ``--variants``, or all with ``ablations``):
k in {5, 30, 50}; the foreground restriction off (``-all``); masks that mix in nothing trained as
fake (``-ones-fake``, ``regularizer.all_ones_masks``); U-Net GAN's weights on mixed steps
(``-unetgan-weights``, ``regularizer.mixed_round_weights``) for PriorityCut and CutMix.

Each run, the reconstruction checkpoint and copying the source frame are scored on the held-out
test videos of the synthetic world (``artifacts.evaluate_test_videos``): the error inside and
outside the true dis-occlusion (the claim), animation L1 against the true animation, the
PriorityCut mask's precision against the true dis-occlusion, pcut's pooled metrics and FOMM's
per-frame ones (``<metric>_fomm``); and each run's discriminator on held-out frames
(``discriminator_quality``). Per-video values go to ``<run>/metrics.json`` (and
``metrics_per_video.csv``); variants are compared with references by paired bootstrap intervals
over seeds and videos (``bootstrap``), with a verdict only where the interval excludes zero and
the compared runs' discriminator image AUC is at least MIN_AUC (``gate_on_discriminators``).

Writes per setting ``experiment_runs.csv`` (one row per run), ``experiment.csv`` (mean and
spread over seeds), ``experiment_comparisons.csv`` (every difference, interval, verdict and
whether it is valid), ``experiment.md`` (tables), ``metrics_vs_k.png``, ``artifacts.png`` (with
the true dis-occlusion outlined) and ``section.md``; with ``--readme`` the README's results
section (every setting found). A progress bar counts the runs; finished runs are reused and an
interrupted one continues from its last epoch. ``--quick`` runs the whole pipeline on a tiny
world and model in under a minute (for tests).
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from pcutlib.evaluation.bootstrap import DEFAULT_RESAMPLES, Comparison, compare
from pcutlib.config import load_config, resolve_config

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
INIT_SCRATCH = "reconstruction only"       # the scratch setting's name for the same checkpoint
REFERENCE_ROWS = {"init": INIT, "copy": COPY}
EVALUATION_VERSION = 2     # metrics.json of an older evaluation is recomputed (the run is not retrained)

# The main comparison (run by default) and the ablations (run when named in --variants).
# Keys: kind (discriminator), regularizer (type), top_k, foreground, all_ones_masks,
# mixed_round_weights (the regularizer section's keys of the same meaning).
VARIANTS = {
    "baseline-patch": {"kind": "patch", "regularizer": "none"},
    "unet": {"kind": "unet", "regularizer": "none"},
    "cutmix": {"kind": "unet", "regularizer": "cutmix"},
    "prioritycut-k10": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0},
    # ablations: k; the foreground restriction; masks that mix in nothing; the mixed-step weights
    "prioritycut-k5": {"kind": "unet", "regularizer": "prioritycut", "top_k": 5.0},
    "prioritycut-k30": {"kind": "unet", "regularizer": "prioritycut", "top_k": 30.0},
    "prioritycut-k50": {"kind": "unet", "regularizer": "prioritycut", "top_k": 50.0},
    "prioritycut-k10-all": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0, "foreground": "all"},
    "prioritycut-k10-ones-fake": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0,
                                  "all_ones_masks": "fake"},
    "prioritycut-k10-unetgan-weights": {"kind": "unet", "regularizer": "prioritycut", "top_k": 10.0,
                                        "mixed_round_weights": "unetgan"},
    "cutmix-unetgan-weights": {"kind": "unet", "regularizer": "cutmix", "mixed_round_weights": "unetgan"},
}
MAIN_VARIANTS = ["baseline-patch", "unet", "cutmix", "prioritycut-k10"]
ABLATIONS = [name for name in VARIANTS if name not in MAIN_VARIANTS]
VARIANT_GROUPS = {"main": MAIN_VARIANTS, "ablations": ABLATIONS}     # names --variants also accepts
K_VARIANTS = {5.0: "prioritycut-k5", 10.0: "prioritycut-k10", 30.0: "prioritycut-k30", 50.0: "prioritycut-k50"}
SETTINGS = ("finetune", "scratch")
# The same loss terms for every variant: the adversarial term and feature matching on the
# discriminator's features (the patch D's blocks, the U-Net's encoder blocks), at about FOMM's
# share of the generator's loss. FOMM's vox-adv pairs generator_gan 1 and feature matching 10
# with a VGG19 perceptual pyramid near 100; pcut's pixel pyramid is near 0.5, so FOMM's weights
# here made the adversarial terms rule the generator. Measured with tools/adversarial_probe.py
# (120 adversarial steps after the 60-epoch warm-up, unet, seed 0; held-out L1 0.0204 and
# discriminator image AUC 0.876 at the start): weights 1 / 10 took L1 to 0.0248 and AUC to
# 0.715, 0.1 / 10 to 0.0232 and 0.704, 0.01 / 1 to 0.0207 and 0.816 (reconstruction alone:
# 0.0204 and 0.787).
GENERATOR_GAN_WEIGHT = 0.01
FEATURE_MATCHING_WEIGHT = 1.0
# The consistency loss of a mixed step at a tenth of U-Net GAN's weight (1). It compares decoder
# logits, and a discriminator warmed up on real and generated frames answers with confident
# logits: the first CutMix step of seed 3 had a consistency loss of 81 beside BCE terms near 0.1,
# and one Adam step later the discriminator sat at chance (losses 2 ln 2) for the rest of the
# run. Measured with tools/adversarial_probe.py (the 6 adversarial epochs after the 150-epoch
# warm-up, cutmix, seed 3, image AUC 0.853 at the start): consistency weight 1 ended at AUC 0.49,
# 0.1 at 0.82, 0.01 at 0.79, none at 0.78; mixing less often (probability 0.2) or U-Net GAN's
# mixed-step weights did not help (0.50, 0.50).
CONSISTENCY_WEIGHT = 0.1
# Two discriminator updates for every generator update once the generator trains (every variant;
# train_params.discriminator_steps_per_generator_step). In the 6 adversarial epochs the generator
# learns to fool a discriminator trained once per step, and the U-Net's held-out image AUC fell
# from 0.85-0.94 to 0.70-0.83. Measured with tools/adversarial_probe.py (unet, from the end of
# the 150-epoch warm-up): seed 1 ended at 0.70 with one step, 0.76 with two, 0.80 with three;
# seed 3 at 0.74 with one, 0.80 with two. A discriminator learning rate of 1e-3 instead of 2e-4
# sent it to chance (0.50).
DISCRIMINATOR_STEPS_PER_GENERATOR_STEP = 2
# A mixing variant's mixed terms (mixed-image BCE and consistency) ramp in linearly over the first
# 3 epochs of mixing (regularizer.mixed_terms_warmup_epochs, U-Net GAN's slow_mixup). Without it
# the first mixed steps of PriorityCut seed 4 had a mixed encoder loss of 33 and the discriminator
# ended at image AUC 0.55. Measured with tools/adversarial_probe.py (the 6 adversarial epochs
# after the 150-epoch warm-up, consistency 0.1, 2 D steps): PriorityCut seeds 0-4 ended at
# 0.890 / 0.786 / 0.897 / 0.841 / 0.782 with the ramp (mean 0.84; 0.797 without it).
MIXED_TERMS_WARMUP_EPOCHS = 3.0
# From scratch the occlusion map means nothing at first: mixing ramps up over this share of the run.
SCRATCH_MIX_WARMUP_SHARE = 0.25
# No spectral norm on either discriminator in the experiment. Measured on 620 held-out frames of
# the shipped model's reconstruction (a fresh U-Net D trained alone on 3,720 generated/real
# training frames, batch 8 + 8, Adam 2e-4, betas 0.5/0.999): with spectral norm the image AUC
# was 0.57 / 0.61 / 0.61 after 100 / 200 / 400 steps; without it 0.58 / 0.68 / 0.77, and
# 0.83 / 0.88 after 1,200 / 1,600 steps. Learning rates 5e-4 and 1e-3 stayed at chance.
DISCRIMINATOR_SPECTRAL_NORM = False


# Fine-tuning learning rates: the reconstruction run ends at lr 1e-5 after its drops, so the
# generator continues gently (5e-5; measured: 1e-4 cost 6% of held-out L1 in 6 epochs) while
# the fresh discriminator learns at FOMM's 2e-4.
FINETUNE_LR = {"lr_generator": 5.0e-5, "lr_kp_detector": 5.0e-5, "lr_discriminator": 2.0e-4}


def set_adversarial_parts(config: dict, variant: dict) -> None:
    """In place: the adversarial term on, and the variant's discriminator and regularizer section."""
    config["train_params"]["loss_weights"]["generator_gan"] = 1
    discriminator = config["model_params"]["discriminator_params"]
    discriminator["kind"] = variant["kind"]
    if variant["kind"] == "patch":
        # FOMM's patch D for 64x64 frames: 3 blocks leave a 4x4 map of patch scores
        discriminator.update(num_blocks=3, scales=[1], sn=True)
        config["train_params"]["loss_weights"]["feature_matching"] = [10, 10, 10]
    regularizer = config["regularizer"]
    regularizer["type"] = variant["regularizer"]
    if "top_k" in variant:
        regularizer["top_k_percent"] = variant["top_k"]
    regularizer["foreground"] = variant.get("foreground", "region")
    for key in ("all_ones_masks", "mixed_round_weights"):
        if key in variant:
            regularizer[key] = variant[key]


def variant_config(base: dict, variant: dict, epochs: int, seed: int) -> dict:
    """The fine-tuning config of one variant: adversarial term on, its discriminator and regularizer
    (also the demo's fine-tune: ``demo.finetune_config``)."""
    config = copy.deepcopy(base)
    train_params = config["train_params"]
    train_params.update(num_epochs=epochs, seed=seed, epoch_milestones=[], **FINETUNE_LR)
    # region dropout belongs to the reconstruction phase (keeping keypoints in use from the start)
    train_params["region_dropout"] = {"start": 0.0, "max": 0.0, "ramp_epochs": 0.0, "until_epoch": 0.0}
    set_adversarial_parts(config, variant)
    return resolve_config(config)


def scratch_config(base: dict, variant: dict, epochs: int | None, seed: int) -> dict:
    """One variant trained from a fresh model, adversarial from the first step (as the paper
    trains): the base's own recipe (learning rates, milestones, region dropout) and ``epochs``
    (None: the base's num_epochs), the mixing warm-up over SCRATCH_MIX_WARMUP_SHARE of them."""
    config = copy.deepcopy(base)
    train_params = config["train_params"]
    train_params.update(seed=seed, num_epochs=epochs or train_params["num_epochs"])
    set_adversarial_parts(config, variant)
    warmup = SCRATCH_MIX_WARMUP_SHARE * train_params["num_epochs"]
    config["regularizer"]["mix_warmup_epochs"] = max(config["regularizer"]["mix_warmup_epochs"], warmup)
    return resolve_config(config)


def experiment_config(base: dict, variant: dict, setting: str, epochs: int | None, seed: int,
                      warmup_epochs: int = 0) -> dict:
    """A run of the experiment: ``variant_config`` (setting "finetune": ``warmup_epochs`` of
    discriminator warm-up, then ``epochs`` adversarial ones) or ``scratch_config`` ("scratch"),
    with the adversarial term at GENERATOR_GAN_WEIGHT and feature matching on for every
    discriminator (FEATURE_MATCHING_WEIGHT per block), spectral norm as DISCRIMINATOR_SPECTRAL_NORM,
    the consistency loss of a mixing variant at CONSISTENCY_WEIGHT with its mixed terms ramped in over
    MIXED_TERMS_WARMUP_EPOCHS and, where the generator trains
    (adversarial epochs), DISCRIMINATOR_STEPS_PER_GENERATOR_STEP. A discriminator warm-up alone
    (epochs 0) keeps one step: the key changes nothing there, and the shared warm-ups stay valid."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    if setting == "finetune":
        config = variant_config(base, variant, warmup_epochs + epochs, seed)
        config["train_params"]["discriminator_warmup_epochs"] = float(warmup_epochs)
    else:
        config = scratch_config(base, variant, epochs, seed)
    discriminator = config["model_params"]["discriminator_params"]
    discriminator["sn"] = DISCRIMINATOR_SPECTRAL_NORM
    config["train_params"]["loss_weights"]["generator_gan"] = GENERATOR_GAN_WEIGHT
    config["train_params"]["loss_weights"]["feature_matching"] = [FEATURE_MATCHING_WEIGHT] * discriminator["num_blocks"]
    if config["regularizer"]["type"] != "none":
        config["regularizer"]["consistency_weight"] = CONSISTENCY_WEIGHT
        config["regularizer"]["mixed_terms_warmup_epochs"] = MIXED_TERMS_WARMUP_EPOCHS
    if setting == "scratch" or epochs > 0:
        config["train_params"]["discriminator_steps_per_generator_step"] = DISCRIMINATOR_STEPS_PER_GENERATOR_STEP
    return resolve_config(config)


def expand_variants(names: list[str]) -> list[str]:
    """--variants' names with the groups (main, ablations) expanded, in order, without repeats."""
    unknown = [n for n in names if n not in VARIANTS and n not in VARIANT_GROUPS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join([*VARIANT_GROUPS, *VARIANTS])}")
    return list(dict.fromkeys(v for n in names for v in VARIANT_GROUPS.get(n, [n])))


# ----------------------------------------------------------------------------- training and scoring runs

TRAINING_VERSION = 2   # runs trained before the fair random streams (one per concern) are retrained


def _jsonable(value):
    """A JSON round trip (tuples become lists), for comparing configs with what a file holds."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def run_record(config: dict, init_from: Path | None, warm_start: Path | None = None) -> dict:
    """What experiment_started.json / experiment_run.json hold for a run: how it was made."""
    return _jsonable({"training_version": TRAINING_VERSION, "init_from": str(init_from), "config": config,
                      **({"warm_start": str(warm_start)} if warm_start is not None else {})})


def read_run_record(path: Path) -> dict:
    """A stored run_record with its config resolved against today's schema: a config key added
    after the run was recorded reads back at its default, which reproduces the behaviour from
    before the key existed (a change of behaviour bumps TRAINING_VERSION instead), so a finished
    run stays valid. A config that no longer resolves is returned as stored (and then differs)."""
    record = json.loads(path.read_text())
    if isinstance(record, dict) and isinstance(record.get("config"), dict):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                record["config"] = _jsonable(resolve_config(record["config"]))
        except (ValueError, TypeError, KeyError):
            pass
    return record


def ensure_trained(config: dict, run_dir: Path, init_from: Path | None, device: str, progress: bool,
                   say=print, warm_start: Path | None = None) -> Path:
    """run_dir's last checkpoint, trained first unless run_dir/experiment_run.json says that this
    config (and TRAINING_VERSION, init_from, warm_start) finished there. A run of the same config
    that was interrupted (experiment_started.json, checkpoints/last.pt) continues from its last
    epoch. init_from None: a fresh model (the scratch setting). warm_start: the checkpoint (and
    log) of this run's discriminator warm-up, trained once for every U-Net variant of a seed
    (``ensure_warmed_up``): the run resumes from a copy of it, exactly as if it had trained the
    warm-up itself. Returns the checkpoint path."""
    from pcutlib.training.loop import continue_from, prepare_run_dir, train

    last, marker, started = run_dir / "checkpoints" / "last.pt", run_dir / "experiment_run.json", \
        run_dir / "experiment_started.json"
    expected = run_record(config, init_from, warm_start)
    if last.is_file() and marker.is_file() and read_run_record(marker) == expected:
        return last
    resume = last.is_file() and started.is_file() and read_run_record(started) == expected
    what = "fine-tuning" if init_from is not None else "training from scratch"
    say(f"{'continuing' if resume else what} {run_dir.name}")
    if not resume:
        prepare_run_dir(run_dir, resume=False, overwrite=True)          # clears an older run there
        run_dir.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        if warm_start is not None:
            continue_from(warm_start, run_dir)
            resume = True
        started.write_text(json.dumps(expected, indent=1) + "\n")
    train(config, run_dir, device=device, init_from=None if resume else init_from, resume=resume, progress=progress)
    marker.write_text(json.dumps(expected, indent=1) + "\n")
    return last


def _source(checkpoint: Path | None) -> str:
    """What a stored evaluation was made from: the checkpoint and its modification time."""
    return COPY if checkpoint is None else f"{checkpoint}@{Path(checkpoint).stat().st_mtime_ns}"


def evaluate_checkpoint(checkpoint: Path | None, test: list, probes: dict, with_discriminator: bool = True,
                        quality_frames: int | None = 8, progress: bool = False) -> tuple[dict, list[dict]]:
    """(summary, per_video rows) of a checkpoint on the held-out videos; checkpoint None: copying
    the source frame. test: ``pcutlib.data.splits.load_split(root, "test")``; probes: {"pose", "identity"}.

    The summary pools the rows (``artifacts.summarize_rows``) and, with a discriminator in the
    checkpoint and ``with_discriminator``, adds ``discriminator_quality`` on frames of the same
    videos (at most ``quality_frames`` per video). Computes with the CPUs other work leaves free
    (``training.threads_for_free_cpus``)."""
    from pcutlib.evaluation.artifacts import evaluate_test_videos, summarize_rows
    from pcutlib.checkpoints.files import load_models
    from pcutlib.evaluation.discriminator_quality import discriminator_quality
    from pcutlib.prioritycut import RegularizerConfig
    from pcutlib.training.device import threads_for_free_cpus

    models, regularizer = None, RegularizerConfig()
    if checkpoint is not None:
        models, state = load_models(checkpoint, with_discriminator=with_discriminator)
        regularizer = RegularizerConfig.from_dict(state["config"].get("regularizer"))
    with threads_for_free_cpus(say=lambda text: None):
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
    from pcutlib.evaluation.protocols import write_metrics

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
        seeds = entry["seeds"] if entry["variant"] not in (INIT, INIT_SCRATCH, COPY) else "–"
        lines.append(f"| {entry['variant']} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_table(comparisons: list[dict], metrics: list[str] = VERDICT_METRICS) -> str:
    """One row per (variant, reference): each metric's paired difference variant - reference,
    its 95% bootstrap interval and the verdict it allows; a pair whose discriminator is near
    chance (``gate_on_discriminators``) says so beside its name and gives no verdict."""
    pairs = list(dict.fromkeys((c["variant"], c["reference"]) for c in comparisons))
    by_key = {(c["variant"], c["reference"], c["metric"]): c for c in comparisons}
    shown = [m for m in metrics if any(c["metric"] == m for c in comparisons)]
    lines = ["| variant vs reference | " + " | ".join(f"Δ {m} {'↓' if LOWER_IS_BETTER[m] else '↑'}" for m in shown)
             + " |", "|" + "---|" * (len(shown) + 1)]
    for variant, reference in pairs:
        cells, reason = [], ""
        for metric in shown:
            c = by_key[(variant, reference, metric)]
            valid = c.get("valid", True)
            reason = reason or ("" if valid else f" — {c['verdict']}")
            cells.append("–" if math.isnan(c["difference"]) else
                         f"{c['difference']:+.3g} [{c['low']:+.3g}, {c['high']:+.3g}] "
                         f"{c['verdict'] if valid else 'no comparison'}")
        lines.append(f"| {variant} vs {reference}{reason} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(comparisons: list[dict], table: list[dict], min_auc: float = MIN_AUC) -> list[str]:
    """Sentences that follow from the intervals: per (variant, reference) the metrics that are
    better and worse (the rest: no difference detected), or, where the discriminators are near
    chance (``gate_on_discriminators``), that there is no comparison; and the runs whose
    discriminator image AUC is below ``min_auc``."""
    sentences = []
    for variant, reference in dict.fromkeys((c["variant"], c["reference"]) for c in comparisons):
        mine = [c for c in comparisons if c["variant"] == variant and c["reference"] == reference]
        invalid = [c for c in mine if not c.get("valid", True)]
        if invalid:
            sentences.append(f"{variant} vs {reference}: {invalid[0]['verdict']}.")
            continue
        parts = [f"{verdict} on {', '.join(c['metric'] for c in mine if c['verdict'] == verdict)}"
                 for verdict in ("better", "worse") if any(c["verdict"] == verdict for c in mine)]
        undecided = sum(c["verdict"] == "no difference detected" for c in mine)
        measured = sum(c["verdict"] != "not measured" for c in mine)
        parts.append(f"no difference detected on {undecided} of {measured} measured metrics")
        sentences.append(f"{variant} vs {reference}: " + "; ".join(parts) + " (95% paired bootstrap intervals).")
    weak = [f"{e['variant']} ({e['d_image_auc_mean']:.3f})" for e in table
            if not math.isnan(e["d_image_auc_mean"]) and e["d_image_auc_mean"] < min_auc]
    if weak:
        sentences.append(f"Discriminator image AUC on held-out frames below {min_auc}: {', '.join(weak)}; at this "
                         f"budget those discriminators do not clearly tell generated frames from real ones, and "
                         f"their comparisons are not made.")
    return sentences


def plot_metrics_vs_k(table: list[dict], path: Path) -> None:
    """Each table metric against k for PriorityCut, with the other rows as horizontal bands
    (mean ± std over seeds). The y axis spans the trained variants and the reconstruction start;
    copying the source frame, far off on most metrics, is written in the corner when off scale."""
    from matplotlib.figure import Figure

    by_name = {entry["variant"]: entry for entry in table}
    ks = [(k, by_name[name]) for k, name in K_VARIANTS.items() if name in by_name]
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
    from matplotlib.figure import Figure

    from pcutlib.checkpoints.files import load_models
    from pcutlib.prioritycut import prioritycut_mask

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
    """Replace the README's results section (between the markers) with ``text``."""
    content = readme.read_text()
    if start not in content or end not in content:
        raise ValueError(f"{readme} has no results markers {start} ... {end}")
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(f"{before}{start}\n{text}\n{end}{after}")


SETTING_TITLES = {"finetune": "Setting (a): adversarial fine-tune from the reconstruction model",
                  "scratch": "Setting (b): adversarial from the first step, as the paper trains"}


def readme_results(results: Path, readme: Path) -> str:
    """The README's results text: the stored section (``section.md``) of every setting found under
    ``results`` (``experiment-<setting>/``), its image links made relative to the README."""
    import os
    import re

    parts = []
    for setting in SETTINGS:
        folder = results / f"experiment-{setting}"
        if (folder / "section.md").is_file():
            prefix = Path(os.path.relpath(folder, readme.parent))
            body = re.sub(r"\]\(([^):/]+\.png)\)", lambda m: f"]({(prefix / m.group(1)).as_posix()})",
                          (folder / "section.md").read_text().strip())
            parts.append(f"### {SETTING_TITLES[setting]}\n\n{body}")
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- command

# Defaults of the full experiment and of --quick (a tiny world and model, about a minute on a
# CPU: the whole pipeline for tests, numbers that mean nothing). Paths of --quick lie under --runs.
FULL_DEFAULTS = {"config": "synthetic-64", "data": Path("data/synthetic-64"),
                 "init_from": Path("runs/synthetic-64-reconstruction/checkpoints/last.pt"), "epochs": 6,
                 "warmup_epochs": 60, "unet_warmup_epochs": 150, "seeds": [0, 1, 2, 3, 4], "variants": ["main"], "runs": Path("runs/experiment"),
                 "results": Path("results"), "probe_steps": 300, "resamples": DEFAULT_RESAMPLES,
                 "quality_frames": 8, "setting": "both"}
QUICK_DEFAULTS = {"config": "smoke", "data": "data", "init_from": "reconstruction/checkpoints/last.pt",
                  "epochs": 1, "warmup_epochs": 1, "unet_warmup_epochs": 2, "seeds": [0, 1], "variants": ["unet", "prioritycut-k10"],
                  "runs": Path("runs/experiment-quick"), "results": "results", "probe_steps": 20, "resamples": 200,
                  "quality_frames": 3, "setting": "both"}
QUICK_WORLD = {"videos": 8, "frames": 6, "size": 32, "identities": 4, "test_fraction": 0.5, "seed": 0}
DEFAULT_REFERENCES = ["unet", "cutmix", "prioritycut-k10", "init"]


def add_experiment_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="the whole pipeline on a tiny world (8 videos of 6 frames, 32 px) and the smoke model "
                             "in about a minute, for tests: 1 epoch, seeds 0 1, variants unet prioritycut-k10, "
                             "everything under --runs (default runs/experiment-quick)")
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default=None,
                        help="finetune: adversarial fine-tune from the reconstruction checkpoint; scratch: each "
                             "variant trained from a fresh model, adversarial from the first step; both (default). "
                             "Run folders <runs>/<setting>/, results <results>/experiment-<setting>/")
    parser.add_argument("--config", default=None, help=f"config file or name in configs/ (default: "
                                                       f"{FULL_DEFAULTS['config']})")
    parser.add_argument("--data", type=Path, default=None, help=f"training world (default: {FULL_DEFAULTS['data']})")
    parser.add_argument("--init-from", type=Path, default=None,
                        help=f"the shared reconstruction checkpoint, trained first when missing (default: "
                             f"{FULL_DEFAULTS['init_from']})")
    parser.add_argument("--epochs", type=int, default=None, help=f"adversarial fine-tuning epochs per run (default: {FULL_DEFAULTS['epochs']})")
    parser.add_argument("--warmup-epochs", type=int, default=None,
                        help=f"finetune: epochs before --epochs in which only the fresh patch discriminator trains "
                             f"(default: {FULL_DEFAULTS['warmup_epochs']})")
    parser.add_argument("--unet-warmup-epochs", type=int, default=None,
                        help=f"finetune: the same for the U-Net discriminators, one warm-up per seed shared by the "
                             f"U-Net variants (default: {FULL_DEFAULTS['unet_warmup_epochs']}; it learns slower)")
    parser.add_argument("--scratch-epochs", type=int, default=None,
                        help="epochs of a scratch run (default: the config's num_epochs, the reconstruction's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default: 0 1 2 3 4)")
    parser.add_argument("--variants", nargs="+", default=None, choices=[*VARIANT_GROUPS, *VARIANTS],
                        help=f"which variants to run; main = {' '.join(MAIN_VARIANTS)} (default), "
                             f"ablations = {' '.join(ABLATIONS)}")
    parser.add_argument("--references", nargs="+", default=None, choices=list(VARIANTS) + list(REFERENCE_ROWS),
                        help="compare every variant with these (init: the reconstruction checkpoint, copy: copying "
                             f"the source frame); default: {' '.join(DEFAULT_REFERENCES)}")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (default: 2000)")
    parser.add_argument("--quality-frames", type=int, default=None,
                        help="held-out frames per test video for the discriminator AUCs (default: 8)")
    parser.add_argument("--runs", type=Path, default=None, help=f"run folders (default: {FULL_DEFAULTS['runs']})")
    parser.add_argument("--results", type=Path, default=None, help="table and plots (default: results)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also rewrite this README's results section (between its results markers) with the "
                             "results of every setting found under --results")
    parser.add_argument("--probe-steps", type=int, default=None, help="training steps of the pose and identity probes")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def resolve_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the arguments left at None from FULL_DEFAULTS, or with --quick from QUICK_DEFAULTS
    (its relative data, init_from and results under --runs); expand the variant groups and the
    settings (a list). Returns a new namespace."""
    args = copy.copy(args)
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    if args.runs is None:
        args.runs = Path(defaults["runs"])
    for key, value in defaults.items():
        if getattr(args, key) is None:
            if args.quick and key in ("data", "init_from", "results"):
                value = args.runs / value
            setattr(args, key, copy.copy(value))
    for key in ("warmup_epochs", "unet_warmup_epochs"):
        if getattr(args, key) < 0:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 0, got {getattr(args, key)}")
    for key in ("epochs", "resamples", "quality_frames", "probe_steps", "scratch_epochs"):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    args.variants = expand_variants(args.variants)
    args.settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    if args.references is None:
        args.references = list(DEFAULT_REFERENCES)
    return args


def synthetic_config(config_name: str, data: Path, progress: bool = True, **train_params) -> dict:
    """``config_name`` resolved, reading the synthetic world at ``data`` (generated when missing)."""
    from pcutlib.experiments.shipped_model import ensure_synthetic_data

    config = load_config(config_name)
    config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(data, progress=progress))
    config["train_params"].update(train_params)
    return resolve_config(config)


def experiment_base(args: argparse.Namespace, progress: bool) -> dict:
    """The reconstruction config every variant starts from; --quick: the tiny world (written
    when missing) and one reconstruction-only epoch of the smoke model."""
    if not args.quick:
        return synthetic_config(args.config, args.data, progress)
    from pcutlib.data.make_synthetic import make_synthetic_dataset

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
    from pcutlib.evaluation.probes import load_probe, save_probe, train_identity_probe, train_pose_probe

    probes = {}
    for kind, trainer in (("pose", train_pose_probe), ("identity", train_identity_probe)):
        path = folder / f"{kind}.pt"
        if not path.exists():
            probe = trainer(str(data), steps=steps, progress=progress)
            folder.mkdir(parents=True, exist_ok=True)
            save_probe(path, probe)
        probes[kind] = load_probe(path)
    return probes


def score_references(args, test: list, probes: dict, progress: bool) -> dict:
    """{"init", "copy"}: (summary, per-video rows) of the reconstruction checkpoint and of copying
    the source frame (shared by both settings)."""
    return {key: scored(args.runs / folder, checkpoint, test, probes, False, progress=progress)
            for key, folder, checkpoint in (("init", "reconstruction-start", args.init_from),
                                            ("copy", "copy-source", None))}


def ensure_warmed_up(args, base: dict, seed: int, say=print) -> Path:
    """The U-Net discriminator warm-up of ``seed`` (runs/finetune/unet-warmup-seed<seed>: the
    "unet" variant's config for its first --unet-warmup-epochs), trained once and shared by every U-Net
    variant of that seed. Mixing waits for the warm-up's end (``UNetAdversary.draw_mixing``), so
    the warm-up draws the same batches, warps and discriminator updates whatever the regularizer:
    sharing it changes no number, and every variant of a seed meets the generator with the same
    discriminator."""
    config = experiment_config(base, VARIANTS["unet"], "finetune", 0, seed, args.unet_warmup_epochs)
    run_dir = args.runs / "finetune" / f"unet-warmup-seed{seed}"
    extend_shorter_warmup(run_dir, config, args.init_from)
    return ensure_trained(config, run_dir, args.init_from, args.device, not args.no_progress, say=say)


def extend_shorter_warmup(run_dir: Path, config: dict, init_from: Path) -> bool:
    """When run_dir holds a finished warm-up of ``config`` that is only shorter (fewer epochs,
    all of them warm-up), mark it as an interrupted run of ``config``, so that ``ensure_trained``
    continues it to config's epochs instead of starting over: a warm-up trains the discriminator
    at a constant learning rate and the resume is exact, so the numbers are those of the longer
    warm-up trained from the start. The new experiment_started.json is dated back by the time the
    shorter warm-up took, so ``run_minutes`` counts both parts. Returns whether it did."""
    marker, started = run_dir / "experiment_run.json", run_dir / "experiment_started.json"
    if not (marker.is_file() and started.is_file() and (run_dir / "checkpoints" / "last.pt").is_file()):
        return False
    done = read_run_record(marker)
    wanted = run_record(config, init_from)
    epochs = wanted["config"]["train_params"]["num_epochs"]
    shorter = done["config"]["train_params"]["num_epochs"]
    if not (shorter < epochs and done["config"]["train_params"]["discriminator_warmup_epochs"] == shorter
            and not wanted["config"]["train_params"]["epoch_milestones"]):
        return False
    for key in ("num_epochs", "discriminator_warmup_epochs"):
        done["config"]["train_params"][key] = wanted["config"]["train_params"][key]
    if done != wanted:
        return False
    took = marker.stat().st_mtime - started.stat().st_mtime
    started.write_text(json.dumps(wanted, indent=1) + "\n")
    now = started.stat().st_mtime
    os.utime(started, (now - took, now - took))
    marker.unlink()
    return True


def train_and_score(args, setting: str, base: dict, test: list, probes: dict, bar) -> tuple[list, dict, dict]:
    """Every (variant, seed) run of one setting, trained where needed and scored. Returns (rows
    {"variant", "seed", summary...}, per_video {variant: {seed: rows}}, {variant: first seed's checkpoint})."""
    from tqdm.auto import tqdm

    rows, per_video, checkpoints = [], {}, {}
    epochs = args.epochs if setting == "finetune" else args.scratch_epochs
    init_from = args.init_from if setting == "finetune" else None
    for seed in args.seeds:                    # seed by seed: an interrupted command leaves whole seeds
        for variant in args.variants:
            run_dir = args.runs / setting / f"{variant}-seed{seed}"
            bar.set_postfix_str(f"{setting}/{run_dir.name}")
            unet = VARIANTS[variant]["kind"] == "unet"
            warmup = args.unet_warmup_epochs if unet else args.warmup_epochs
            config = experiment_config(base, VARIANTS[variant], setting, epochs, seed, warmup)
            warm_start = None
            if setting == "finetune" and warmup > 0 and unet:
                warm_start = ensure_warmed_up(args, base, seed, say=tqdm.write)
            last = ensure_trained(config, run_dir, init_from, args.device, not args.no_progress, say=tqdm.write,
                                  warm_start=warm_start)
            summary, videos = scored(run_dir, last, test, probes, True, args.quality_frames, not args.no_progress)
            per_video.setdefault(variant, {})[seed] = videos
            rows.append({"variant": variant, "seed": seed, **summary})
            checkpoints.setdefault(variant, last)
            bar.update()
    return rows, per_video, checkpoints


def setting_budget(args, setting: str, base: dict, test: list) -> str:
    """One sentence: what each run of ``setting`` trained, and on what it is scored."""
    runs = f"{len(args.variants)} variants x {len(args.seeds)} seeds"
    frames = base["train_params"]["batch_size"]
    if setting == "finetune":
        how = (f"each fine-tuned from `{args.init_from}` (row '{INIT}'): {args.warmup_epochs} (patch) or "
               f"{args.unet_warmup_epochs} (U-Net, shared by the U-Net variants of a seed) epochs in which only "
               f"the fresh discriminator trains, then {args.epochs} adversarial epochs ({frames} frames a step)")
    else:
        epochs = args.scratch_epochs or base["train_params"]["num_epochs"]
        how = (f"each trained from a fresh model for {epochs} epochs ({frames} frames a step) with the adversarial "
               f"term from the first step and the reconstruction recipe otherwise; row '{INIT_SCRATCH}' is "
               f"`{args.init_from}`, that recipe without the adversarial term")
    norm = "with" if DISCRIMINATOR_SPECTRAL_NORM else "without"
    return (f"{runs}, {how}; every discriminator {norm} spectral norm, the adversarial term at weight "
            f"{GENERATOR_GAN_WEIGHT:g} and feature matching at {FEATURE_MATCHING_WEIGHT:g} per block, the consistency "
            f"loss of the mixing variants at {CONSISTENCY_WEIGHT:g} with their mixed terms ramped in over the first "
            f"{MIXED_TERMS_WARMUP_EPOCHS:g} epochs of mixing, {DISCRIMINATOR_STEPS_PER_GENERATOR_STEP} "
            f"discriminator updates per generator update; "
            f"{len(test)} held-out test videos of unseen figures")


def run_minutes(run_dir: Path) -> float:
    """Wall minutes a run took to train and score: from its experiment_started.json (written when
    its training starts) to its metrics.json (written after scoring), or to its experiment_run.json
    for a run that is not scored (a shared warm-up); NaN when either end is missing."""
    started, scored_at, trained_at = (run_dir / name for name in
                                      ("experiment_started.json", "metrics.json", "experiment_run.json"))
    ended = scored_at if scored_at.is_file() else trained_at
    if not (started.is_file() and ended.is_file()):
        return math.nan
    return (ended.stat().st_mtime - started.stat().st_mtime) / 60


def runs_minutes(args, setting: str) -> float:
    """Training and scoring minutes of every (variant, seed) run of ``setting`` and of the shared
    discriminator warm-ups they continued, summed (``run_minutes``), whichever invocations of the
    command did them."""
    runs = [args.runs / setting / f"{variant}-seed{seed}" for variant in args.variants for seed in args.seeds]
    warmups = [args.runs / setting / f"unet-warmup-seed{seed}" for seed in args.seeds]
    return sum(run_minutes(run) for run in runs) + sum(run_minutes(run) for run in warmups if run.is_dir())


def reproducing_command(args, setting: str) -> str:
    """The ``pcut experiment`` command line that makes this setting's results again: the options
    that differ from the defaults (FULL_DEFAULTS, or QUICK_DEFAULTS with --quick)."""
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    parts = ["pcut experiment"] + (["--quick"] if args.quick else []) + ["--setting", setting]
    keys = ["config", "data", "init_from", "epochs" if setting == "finetune" else "scratch_epochs",
            "warmup_epochs" if setting == "finetune" else None,
            "unet_warmup_epochs" if setting == "finetune" else None, "seeds", "variants", "references"]
    for key in filter(None, keys):
        value, default = getattr(args, key, None), defaults.get(key)
        if key == "variants":
            default = expand_variants(default)
        if key == "references":
            default = DEFAULT_REFERENCES
        if args.quick and key in ("data", "init_from"):
            default = args.runs / default
        if value is None or value == default or (isinstance(default, Path) and Path(value) == default):
            continue
        values = value if isinstance(value, list) else [value]
        parts += [f"--{key.replace('_', '-')}", *map(str, values)]
    return " ".join(parts)


def write_setting_results(args, setting: str, rows: list, per_video: dict, checkpoints: dict, test: list,
                          budget: str, minutes: float) -> str:
    """Tables, comparisons (gated on the discriminator AUC) and plots of one setting in
    <results>/experiment-<setting>/; returns the markdown section (``section.md``)."""
    from pcutlib.data.synthetic_truth import disocclusion_from

    folder = args.results / f"experiment-{setting}"
    folder.mkdir(parents=True, exist_ok=True)
    init_label = INIT if setting == "finetune" else INIT_SCRATCH
    labels = [*args.variants, init_label, COPY]
    table = summarize(rows, labels)
    references = [{"init": init_label}.get(r, REFERENCE_ROWS.get(r, r)) for r in args.references]
    comparisons = compare_variants(per_video, args.variants, references, args.seeds, resamples=args.resamples)
    aucs = {e["variant"]: e["d_image_auc_mean"] for e in table if e["variant"] in args.variants}
    comparisons = gate_on_discriminators(comparisons, aucs)
    write_csv(folder / "experiment_runs.csv",
              [{k: v for k, v in row.items() if k in ("variant", "seed", *METRICS, "mask_chance",
                                                           *DISCRIMINATOR_METRICS)} for row in rows])
    write_csv(folder / "experiment.csv", table)
    write_csv(folder / "experiment_comparisons.csv", comparisons)
    plot_metrics_vs_k(table, folder / "metrics_vs_k.png")
    path, video, _, truth = test[0]
    plot_artifacts(checkpoints, video, path.name, folder / "artifacts.png",
                   disoccluded=None if truth is None else disocclusion_from(truth, 0))
    command = reproducing_command(args, setting)
    text = "\n".join([
        f"Budget: {budget}. Command: `{command}` ({minutes:.0f} min of training and scoring here, "
        f"summed over the runs).", "",
        "Mean ± standard deviation over seeds; definitions in the README's Metrics section. Artifact metrics pool "
        "the truly dis-occluded (visible) pixels of frames 2.. of every held-out video reconstructed from its "
        "first frame; mask precision next to a random mask of the same size; D AUCs: the run's discriminator on "
        "held-out real and generated frames (0.5 = chance).", "",
        markdown_table(table), "",
        "Paired differences (variant − reference, same seeds and videos) with 95% bootstrap intervals "
        f"({args.resamples} resamples of seeds and videos); better/worse only where the interval excludes zero, "
        f"and only where the compared runs' discriminator image AUC is at least {MIN_AUC:g}.", "",
        verdict_table(comparisons), "",
        *[f"- {s}" for s in findings(comparisons, table)], "",
        "![metrics against k](metrics_vs_k.png)", "",
        "![the same held-out frames across variants, true dis-occlusion outlined](artifacts.png)"])
    (folder / "section.md").write_text(text + "\n")
    (folder / "experiment.md").write_text(f"# PriorityCut experiment on the synthetic world\n\n"
                                          f"## {SETTING_TITLES[setting]}\n\n{text}\n")
    return text


def run_experiment(args) -> int:
    from tqdm.auto import tqdm

    from pcutlib.data.splits import load_split
    from pcutlib.training.loop import train

    args = resolve_arguments(args)
    progress = not args.no_progress
    base = experiment_base(args, progress)
    data = Path(base["dataset_params"]["root_dir"])
    if not args.init_from.exists():
        print(f"shared reconstruction checkpoint {args.init_from} missing: training it")
        args.init_from = train(base, args.init_from.parent.parent, device=args.device, progress=progress,
                               overwrite=True)
    probes = ensure_probes(args.runs / "probes", data, args.probe_steps, progress)
    test = load_split(data, "test", base["dataset_params"]["frame_shape"])
    references = score_references(args, test, probes, progress)
    bar = tqdm(total=len(args.settings) * len(args.variants) * len(args.seeds), desc="experiment runs", unit="run",
               disable=not progress, dynamic_ncols=True)
    for setting in args.settings:
        rows, per_video, checkpoints = train_and_score(args, setting, base, test, probes, bar)
        init_label = INIT if setting == "finetune" else INIT_SCRATCH
        for key, label in (("init", init_label), ("copy", COPY)):
            summary, videos = references[key]
            per_video[label] = {seed: videos for seed in args.seeds}
            rows.append({"variant": label, "seed": None, **summary})
        text = write_setting_results(args, setting, rows, per_video, checkpoints, test,
                                     setting_budget(args, setting, base, test), runs_minutes(args, setting))
        tqdm.write(f"\n## {SETTING_TITLES[setting]}\n\n{text}")
    bar.close()
    if args.readme is not None:
        update_readme(args.readme, readme_results(args.results, args.readme))
    return 0
