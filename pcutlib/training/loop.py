"""The training loop: ``train`` reads as setup (``setup_run``), epochs (``train_epoch``) and the
end of each epoch (``end_epoch``: schedules, checkpoints, figures).

A run folder holds ``config.yaml`` (the resolved config), ``log.jsonl`` (one row per
``log_every`` steps: every loss, whether the step mixed, seconds), ``checkpoints/last.pt`` and
``checkpoints/epoch-N.pt`` (``pcutlib.training.state``), ``vis/epoch-N.png`` and ``loss.png``
(``pcutlib.training.visualize``), and optionally ``tensorboard/``.
SIGINT and SIGTERM stop ``train`` at a safe point with ``TrainingInterrupted`` (``StopSignals``).
"""
from __future__ import annotations

import json
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from pcutlib.config import save_config
from pcutlib.data.datasets import DatasetRepeater, FramesDataset
from pcutlib.training.device import choose_device, init_distributed, threads_for_free_cpus
from pcutlib.training.interrupt import (StopNow, StopSignals, TrainingInterrupted, agreed_signal, ignore_stop_signals,
                                        stop_on_signals)
from pcutlib.training.state import gather_rank_rngs, initialise_from, load_training_checkpoint, save_training_checkpoint
from pcutlib.training.step import max_frame_gap, train_step
from pcutlib.training.tensorboard_writer import TensorBoardWriter
from pcutlib.training.trainer import ProcessGroup, Trainer, build_trainer, seed_everything
from pcutlib.training.visualize import plot_losses, save_training_visualization


def make_dataloader(config: dict, group: ProcessGroup, dataset=None,
                    generator: torch.Generator | None = None) -> DataLoader:
    """The training loader: ``dataset`` (default: the config's FramesDataset) x num_repeats, in
    batches of train_params.batch_size, shuffled by ``generator`` (the trainer's data_order
    stream; None: torch's global RNG), or split across ranks by a DistributedSampler under DDP.
    The items' own randomness is the dataset's (``train`` seeds a FramesDataset's items per epoch).
    """
    train_params = config["train_params"]
    if dataset is None:
        dataset = FramesDataset.from_config(config["dataset_params"], is_train=True)
    # the oracle regularizer's pairs, and the labelled oracle of O's revealed term, carry their true dis-occlusion
    dataset.with_disocclusion = (config["regularizer"]["type"] == "oracle"
                                 or train_params["occlusion_revealed_label"] == "truth")
    dataset = DatasetRepeater(dataset, train_params["num_repeats"])
    batch_size = train_params["batch_size"]
    if len(dataset) < batch_size * group.world_size:
        raise ValueError(f"{len(dataset)} training items (x num_repeats) cannot fill one batch of "
                         f"batch_size={batch_size} on {group.world_size} process(es)")
    sampler = (DistributedSampler(dataset, group.world_size, group.rank, shuffle=True, drop_last=True,
                                  seed=train_params["seed"]) if group.distributed else None)
    workers = train_params["num_workers"]
    return DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                      drop_last=True, num_workers=workers, persistent_workers=False,
                      pin_memory=torch.cuda.is_available(), generator=generator,
                      worker_init_fn=ignore_stop_signals)


def append_log(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log rows past the checkpoint we resume from (they will be recomputed), and a last
    row torn by a kill mid-write (with a warning)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}: dropping a torn last line (the run was killed while writing it)")
                continue
            raise ValueError(f"{path}: line {number} is not JSON ({line[:60]!r}); the log is damaged") from None
        if row["step"] <= last_step:
            rows.append(line)
    path.write_text("".join(row + "\n" for row in rows))


def remove_partial_files(checkpoint_dir: Path) -> list[Path]:
    """Delete temporary files that a kill during atomic_save left behind; returns them."""
    partial = sorted(checkpoint_dir.glob(".*.tmp")) if checkpoint_dir.is_dir() else []
    for path in partial:
        path.unlink()
    return partial


def check_finite(values: dict, trainer: Trainer, checkpoint: Path) -> None:
    """Stop the run at the first non-finite loss, naming the step and the loss."""
    bad = {name: value for name, value in values.items() if not np.isfinite(value)}
    if bad:
        kept = f"the last finite checkpoint {checkpoint} is kept" if checkpoint.exists() else "no checkpoint was written"
        raise FloatingPointError(f"training diverged at step {trainer.step + 1} (epoch {trainer.epoch + 1}): "
                                 f"{', '.join(f'{k} = {v}' for k, v in bad.items())}; {kept}. Lower the learning "
                                 f"rates (train_params.lr_*) and resume or restart.")


def check_finite_weights(trainer: Trainer, checkpoint: Path) -> None:
    """Never save a checkpoint whose weights are not finite."""
    for name in trainer.models.networks():
        for key, tensor in trainer.network(name).state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise FloatingPointError(f"training diverged by step {trainer.step} (epoch {trainer.epoch}): {name}.{key} "
                                         f"holds non-finite values although every loss was finite (see the losses "
                                         f"in log.jsonl); not saving, {checkpoint} stays as it was. Lower the "
                                         f"learning rates (train_params.lr_*) and resume or restart.")


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to train into a run folder that holds a run, unless resuming or overwriting (cleared)."""
    holds_run = (run_dir / "checkpoints").is_dir() or (run_dir / "log.jsonl").exists()
    if resume or not holds_run:
        return
    if not overwrite:
        raise FileExistsError(f"run folder {str(run_dir)!r} already holds a run; continue it with --resume, "
                              f"replace it with --overwrite, or choose another --name")
    shutil.rmtree(run_dir)


def continue_from(checkpoint: Path, run_dir: Path) -> None:
    """Make ``run_dir`` a run to resume (``train(..., resume=True)``) from another run's
    ``checkpoint`` (e.g. its epoch-N.pt): a copy of it as checkpoints/last.pt and of that run's
    log.jsonl (the resume drops the rows past the checkpoint's step)."""
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, run_dir / "checkpoints" / "last.pt")
    shutil.copyfile(Path(checkpoint).parent.parent / "log.jsonl", run_dir / "log.jsonl")


def interruption(run: Run, first_step: int, signal_number: int) -> TrainingInterrupted:
    """The TrainingInterrupted for stopping now: ``first_step`` is trainer.step when the epoch
    in progress began; last.pt holds the finished epochs (trainer.epoch), if it exists."""
    trainer = run.trainer
    run.stop.answered = True
    last = run.checkpoint_dir / "last.pt"
    return TrainingInterrupted(signal_number, run.run_dir, epoch=trainer.epoch + 1,
                               steps_in_epoch=trainer.step - first_step, step=trainer.step,
                               checkpoint_epoch=trainer.epoch if last.exists() else None,
                               num_epochs=trainer.config["train_params"]["num_epochs"],
                               steps_per_epoch=trainer.steps_per_epoch,
                               rank=trainer.group.rank, world_size=trainer.group.world_size)


def train(config: dict, run_dir: str | Path, device: str | None = None, resume: bool = False,
          init_from: str | Path | None = None, progress: bool = True, dataset=None,
          stop_after_steps: int | None = None, overwrite: bool = False, tensorboard: bool = False) -> Path:
    """Train as ``config`` says and write the run folder; returns the path of checkpoints/last.pt.

    resume: continue from ``run_dir/checkpoints/last.pt`` exactly (models, optimizers,
    schedulers, epoch, step, RNG states and the trainer's random streams). init_from: a
    checkpoint whose keypoint detector and generator weights start this run; the discriminator
    starts fresh from this run's seed, never from the checkpoint (``training.state.initialise_from``).
    stop_after_steps: stop early (tests, profiling).
    overwrite: clear a run folder that already holds a run (otherwise that is an error).
    tensorboard: also log losses, learning rates and per-epoch images to ``run_dir/tensorboard``
    (``pcutlib.training.tensorboard_writer``; log.jsonl stays the record).
    A non-finite loss or weight stops the run with FloatingPointError; no checkpoint is
    overwritten by a non-finite one. SIGINT or SIGTERM (handled in the main thread, the previous
    handlers restored on return) stops the run after the step or the checkpoints in progress with
    TrainingInterrupted; last.pt then holds the last finished epoch (``StopSignals``). On the CPU
    the thread count leaves room for other work (``choose_cpu_threads``) and denormal floats are
    flushed to zero; both are restored afterwards.
    """
    device = choose_device(device)
    with cpu_settings(device), stop_on_signals() as stop:
        run = setup_run(config, Path(run_dir), device, resume=resume, init_from=init_from, progress=progress,
                        dataset=dataset, overwrite=overwrite, tensorboard=tensorboard)
        run.stop = stop
        return run_epochs(run, stop_after_steps)


@contextmanager
def cpu_settings(device: torch.device):
    """Inside the block, on a CPU device: denormal floats flushed to zero and the thread count of
    ``threads_for_free_cpus``; both restored afterwards. Anything that times training (the
    benchmarks) trains inside it, as ``train`` does.

    Denormal floats (below 1.2e-38) take a slow path on x86 CPUs. The keypoint heatmaps and
    Gaussians (exp of large negative numbers) fill up with them as the keypoints sharpen (a
    synthetic-64 step took 0.20 s early in a 10,000-step run and 0.38 s late in it); from that
    run's last checkpoint an iteration took 276 ms with them flushed to zero and 324 ms without
    (benchmarks/training_iteration.py --init-from CHECKPOINT)."""
    flush = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        with threads_for_free_cpus(device):
            yield
    finally:
        if flush:
            torch.set_flush_denormal(False)


@dataclass
class Run:
    """A training run's surroundings: its folder, log, loader, optional TensorBoard writer, and
    the stop signals it watches (``stopped_by``: the signal the ranks agreed to stop on, 0: none)."""
    trainer: Trainer
    run_dir: Path
    loader: DataLoader
    board: object | None = None          # a TensorBoardWriter, or None
    progress: bool = True
    stop: StopSignals = field(default_factory=StopSignals)
    stopped_by: int = 0

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log.jsonl"


def run_epochs(run: Run, stop_after_steps: int | None = None) -> Path:
    """Epochs until train_params.num_epochs (or ``stop_after_steps``); returns checkpoints/last.pt.

    A stop signal (``run.stop``) ends the run with TrainingInterrupted after the step in progress
    (a partial epoch is not checkpointed), or after end_epoch's checkpoints when it came during them.
    """
    trainer, num_epochs = run.trainer, run.trainer.config["train_params"]["num_epochs"]
    trainer.models.train()
    try:
        while trainer.epoch < num_epochs:
            first_step = trainer.step
            try:
                last_step = train_epoch(run, stop_after_steps)
            except StopNow:
                raise interruption(run, first_step, run.stop.received) from None
            if run.stopped_by:
                raise interruption(run, first_step, run.stopped_by)
            if stop_after_steps is not None and trainer.step >= stop_after_steps:
                break       # a partial epoch is not checkpointed: resume repeats it exactly
            end_epoch(run, last_step)          # a signal meanwhile waits until the checkpoints are written
            run.stopped_by = agreed_signal(run.stop, trainer.group, trainer.device)
            if run.stopped_by:
                raise interruption(run, trainer.step, run.stopped_by)
    finally:
        if run.board is not None:
            run.board.close()
        if trainer.group.distributed and dist.is_initialized():
            dist.barrier()
    return run.checkpoint_dir / "last.pt"


def setup_run(config: dict, run_dir: Path, device: torch.device, *, resume: bool = False,
              init_from: str | Path | None = None, progress: bool = True, dataset=None, overwrite: bool = False,
              tensorboard: bool = False) -> Run:
    """Processes, run folder, trainer (resumed, initialised from a checkpoint, or fresh), loader."""
    group = init_distributed(device)
    if device.type == "cuda" and group.distributed:
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
    if group.is_main:
        prepare_run_dir(run_dir, resume, overwrite)
    seed_everything(config["train_params"]["seed"] + group.rank)
    trainer = build_trainer(config, device, group)
    if group.is_main and config["train_params"]["mixed_precision"] == "auto":
        print(trainer.precision_note)
    if group.is_main and (curriculum := config["train_params"]["resolution_curriculum"])["size"]:
        print(f"resolution curriculum: frames shown at {curriculum['size']}x{curriculum['size']} (area-averaged) "
              f"before epoch {curriculum['until_epoch']:g}, then at {config['dataset_params']['frame_shape'][0]}x"
              f"{config['dataset_params']['frame_shape'][1]}")
    checkpoint_dir = run_dir / "checkpoints"
    if resume:
        last = checkpoint_dir / "last.pt"
        if not last.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {last}")
        load_training_checkpoint(trainer, last)
        if group.is_main:
            truncate_log(run_dir / "log.jsonl", trainer.step)
            for partial in remove_partial_files(checkpoint_dir):
                print(f"resume: removed {partial.name}, a checkpoint left half-written by an interrupted run")
    elif init_from is not None:
        initialise_from(trainer, Path(init_from))
    board = None
    if group.is_main:
        (run_dir / "vis").mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
        if tensorboard:
            board = TensorBoardWriter(run_dir / "tensorboard")
    loader = make_dataloader(config, group, dataset, generator=trainer.rngs["data_order"])
    trainer.steps_per_epoch = len(loader)
    return Run(trainer, run_dir, loader, board, progress)


def train_epoch(run: Run, stop_after_steps: int | None = None) -> tuple | None:
    """The steps of epoch ``trainer.epoch`` (or up to ``stop_after_steps``, or up to a stop
    signal: then ``run.stopped_by`` is set), logged every log_every steps. Returns the last
    (batch, generated, mixing) for the epoch's figures."""
    trainer, config = run.trainer, run.trainer.config
    epoch, num_epochs = trainer.epoch, config["train_params"]["num_epochs"]
    if isinstance(run.loader.sampler, DistributedSampler):
        run.loader.sampler.set_epoch(epoch)
    frames = getattr(run.loader.dataset, "dataset", None)      # DatasetRepeater -> FramesDataset
    if hasattr(frames, "max_frame_gap"):
        frames.max_frame_gap = max_frame_gap(config["train_params"]["frame_gap"], epoch)
    if hasattr(frames, "item_seed"):                            # each item's seed: (seed, epoch, repeat, index)
        frames.item_seed, frames.epoch = config["train_params"]["seed"], epoch
    last_step = None
    # a second stop signal may end a step midway (nothing is saved in a step), except under DDP:
    # a rank leaving mid-step would leave the others waiting in a collective
    with run.stop.interruptible(not trainer.group.distributed), \
            tqdm(run.loader, desc=f"epoch {epoch + 1}/{num_epochs}", leave=False, dynamic_ncols=True,
                 disable=not (run.progress and trainer.group.is_main)) as bar:
        for i, batch in enumerate(bar):
            started = time.perf_counter()
            values, generated, mixing = train_step(trainer, batch, epoch + i / trainer.steps_per_epoch)
            check_finite(values, trainer, run.checkpoint_dir / "last.pt")
            trainer.step += 1
            last_step = (batch, generated, mixing)
            if trainer.group.is_main and trainer.step % config["train_params"]["log_every"] == 0:
                append_log(run.log_path, {"step": trainer.step, "epoch": epoch + 1, **values, "mixed": mixing.mixed,
                                          "empty_foreground": mixing.empty_foreground,
                                          "seconds": round(time.perf_counter() - started, 4)})
                if run.board is not None:
                    run.board.scalars(trainer.step, values, trainer.optimizers)
            bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
            run.stopped_by = agreed_signal(run.stop, trainer.group, trainer.device)
            if run.stopped_by:
                break           # a safe point, this step complete: run_epochs raises TrainingInterrupted
            if stop_after_steps is not None and trainer.step >= stop_after_steps:
                break
    return last_step


def end_epoch(run: Run, last_step: tuple | None) -> None:
    """Learning-rate schedules, checkpoints (epoch-N.pt, then last.pt), figures and loss plot."""
    trainer, train_params = run.trainer, run.trainer.config["train_params"]
    trainer.epoch += 1
    with warnings.catch_warnings():
        # the schedules count epochs, also those in which an optimizer took no step (the
        # generator's during the discriminator warm-up): torch's order warning does not apply
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
        for scheduler in trainer.schedulers.values():
            scheduler.step()
    rank_rngs = gather_rank_rngs(trainer)                   # every rank takes part (DDP)
    if not trainer.group.is_main:
        return
    last = run.checkpoint_dir / "last.pt"
    check_finite_weights(trainer, last)
    final = trainer.epoch == train_params["num_epochs"]
    # epoch-N.pt before last.pt: a kill between the two repeats this epoch on resume and
    # writes epoch-N.pt again, instead of losing it
    if trainer.epoch % train_params["checkpoint_freq"] == 0 or final:
        save_training_checkpoint(trainer, run.checkpoint_dir / f"epoch-{trainer.epoch}.pt", rank_rngs)
    save_training_checkpoint(trainer, last, rank_rngs)
    figures = trainer.epoch % train_params["visualize_every"] == 0 or final
    if last_step is not None and figures:
        save_training_visualization(run.run_dir / "vis" / f"epoch-{trainer.epoch}.png", *last_step,
                                    regularizer=trainer.regularizer)
    if last_step is not None and run.board is not None:
        run.board.epoch_images(trainer.epoch, *last_step)
    if figures:
        plot_losses(run.log_path, run.run_dir / "loss.png")
