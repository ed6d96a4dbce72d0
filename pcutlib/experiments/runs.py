"""The experiment's runs on disk: trained once (a finished run is reused, an interrupted one
continues), scored once on the held-out videos (``metrics.json`` records what it was made from).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from pcutlib.checkpoints.files import load_models
from pcutlib.config import resolve_stored
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation.artifacts import evaluate_test_videos, summarize_rows
from pcutlib.evaluation.discriminator_quality import discriminator_quality
from pcutlib.evaluation.protocols import write_metrics
from pcutlib.experiments.design import design_name
from pcutlib.experiments.recipes import experiment_config, variant
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training.device import threads_for_free_cpus
from pcutlib.training.loop import continue_from, prepare_run_dir, train

# rows that are not trained variants: the reconstruction starting point and copying the source frame
INIT, COPY = "reconstruction start", "copy the source frame"


INIT_SCRATCH = "reconstruction only"       # the scratch setting's name for the same checkpoint


REFERENCE_ROWS = {"init": INIT, "copy": COPY}


EVALUATION_VERSION = 3     # metrics.json of an older evaluation is recomputed (the run is not retrained)


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
    resolved = resolve_stored(record.get("config")) if isinstance(record, dict) else None
    if resolved is not None:
        record["config"] = _jsonable(resolved)
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
    (``training.device.threads_for_free_cpus``)."""
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
            truths = [None if truth is None else disocclusion_from(truth, 0) for _, _, _, truth in test]
            summary.update(discriminator_quality(models, [video for _, video, _, _ in test], regularizer,
                                                 max_frames_per_video=quality_frames, truths=truths))
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
    to run_dir/metrics.json and metrics_per_video.csv (``protocols.write_metrics``)."""
    stored = load_metrics(run_dir, _source(checkpoint))
    if stored is None:
        summary, rows = evaluate_checkpoint(checkpoint, test, probes, with_discriminator, quality_frames, progress)
        write_metrics(run_dir, summary, rows)
        stored = load_metrics(run_dir, summary["source"])
    return stored


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


def warmup_dir(args, seed: int) -> Path:
    return args.runs / design_name("finetune", args.world) / f"unet-warmup-seed{seed}"


def ensure_warmed_up(args, base: dict, seed: int, say=print) -> Path:
    """The U-Net discriminator warm-up of ``seed`` (runs/finetune/unet-warmup-seed<seed>: the
    "unet" variant's config for its first --warmup-epochs), trained once and shared by every U-Net
    variant of that seed. Mixing waits for the warm-up's end (``UNetAdversary.draw_mixing``), so
    the warm-up draws the same batches, warps and discriminator updates whatever the regularizer:
    sharing it changes no number, and every variant of a seed meets the generator with the same
    discriminator."""
    config = experiment_config(base, variant("unet"), "finetune", 0, seed, args.warmup_epochs)
    run_dir = warmup_dir(args, seed)
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


# how pretrained/synthetic-64-reconstruction.pt, the fine-tune's committed start, was made
START_COMMANDS = ("`pcut calibrate small-motion+full-res-long` then `pcut export-pretrained --checkpoint "
                  "runs/calibration/small-motion+full-res-long/checkpoints/last.pt --out "
                  "pretrained/synthetic-64-reconstruction.pt`")


# the scratch setting's reconstruction row: synthetic-64 as it is, trained for reconstruction alone, as
# long as a scratch run (SCRATCH_RECONSTRUCTION_COMMAND makes it; pcut demo's first step no longer does:
# the demo adds keypoint separation); scored when here, else read from its record
SCRATCH_RECONSTRUCTION = Path("runs/synthetic-64-reconstruction-only/checkpoints/last.pt")
SCRATCH_RECONSTRUCTION_COMMAND = "pcut train --config synthetic-64 --name synthetic-64-reconstruction-only"


def reconstruction_row(args, setting: str) -> Path:
    """The checkpoint of a setting's reconstruction row: the fine-tune's start; from scratch, a
    reconstruction of the scratch runs' own recipe and length (SCRATCH_RECONSTRUCTION_COMMAND; with
    --quick the quick start, which is one)."""
    return args.init_from if setting == "finetune" or args.quick else SCRATCH_RECONSTRUCTION


def ensure_start(args, base: dict, missing: dict, progress: bool) -> None:
    """The fine-tune's start must be here when fine-tune runs are to train: with --quick it is
    trained (``base``, one epoch) when missing; else a missing start is an error that says how the
    committed one was made (records compare runs only from the same start file)."""
    if args.init_from.exists() or not missing.get("finetune") or args.records_only:
        return
    if not args.quick:
        raise FileNotFoundError(f"no fine-tune start at {args.init_from}: pass --init-from, or make the shared "
                                f"one with {START_COMMANDS}")
    print(f"shared reconstruction checkpoint {args.init_from} missing: training it")
    args.init_from = train(base, args.init_from.parent.parent, device=args.device, progress=progress,
                           overwrite=True)
