"""Stopping training on SIGINT (Ctrl-C) or SIGTERM (what job schedulers send) at a safe point.

The first signal is recorded and answered after the step in progress (or after the checkpoint
being written): ``checkpoints/last.pt`` is always complete and holds the last finished epoch, whose
partial successor is repeated on resume, so a resumed run continues exactly. ``train`` then raises
:class:`TrainingInterrupted`, which says where it stopped and the command that resumes it; the
``pcut`` command prints that in one line and exits 128 + the signal (130, 143). Under DDP the ranks
agree on the step to stop after (:func:`agreed_signal`), so none waits in a collective.
"""
from __future__ import annotations

import shlex
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from pcutlib.training.device import ProcessGroup

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """``train`` stopped by SIGINT (Ctrl-C) or SIGTERM (a job scheduler) at a safe point.

    checkpoints/last.pt is complete and holds ``checkpoint_epoch`` (None: no epoch finished,
    nothing to resume): the steps of an unfinished epoch are not checkpointed and are repeated
    on resume, so the resumed run continues exactly as an uninterrupted one. ``epoch`` is the
    1-based epoch in progress, ``steps_in_epoch`` its finished steps, ``step`` all finished steps.
    A KeyboardInterrupt, so that ``except Exception`` does not swallow it; ``exit_code`` is the
    shell's 128 + signal number (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signal_number: int, run_dir: str | Path, *, epoch: int, steps_in_epoch: int, step: int,
                 checkpoint_epoch: int | None, num_epochs: int, steps_per_epoch: int,
                 rank: int = 0, world_size: int = 1):
        self.signal_number, self.run_dir = signal.Signals(signal_number), Path(run_dir)
        self.epoch, self.steps_in_epoch, self.step = epoch, steps_in_epoch, step
        self.checkpoint_epoch, self.num_epochs, self.steps_per_epoch = checkpoint_epoch, num_epochs, steps_per_epoch
        self.rank, self.world_size = rank, world_size
        self.command_options: list[str] = []     # further `pcut train` flags for command() (the CLI sets them)
        super().__init__(self.describe())

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal_number)

    def describe(self) -> str:
        """Where training stopped and which epoch last.pt holds, as one sentence."""
        if self.steps_in_epoch:
            where = (f"in epoch {self.epoch} of {self.num_epochs} after {self.steps_in_epoch} of its "
                     f"{self.steps_per_epoch} steps (step {self.step} in all)")
        elif self.epoch > 1:
            where = f"after epoch {self.epoch - 1} of {self.num_epochs} (step {self.step})"
        else:
            where = "before its first step finished"
        if self.checkpoint_epoch is None:
            kept = "no epoch finished, so no checkpoint was written"
        else:
            last = self.run_dir / "checkpoints" / "last.pt"
            kept = f"{last} holds epoch {self.checkpoint_epoch} of {self.num_epochs}"
            if self.steps_in_epoch:
                steps = "step" if self.steps_in_epoch == 1 else "steps"
                kept += f"; the {self.steps_in_epoch} {steps} of epoch {self.epoch} will be repeated on resume"
        return f"training stopped by {self.signal_number.name} {where}; {kept}"

    def command(self) -> str:
        """The `pcut train` command that continues the run from last.pt (--resume) with the run
        folder's config.yaml, or starts it again (--overwrite) when no epoch finished."""
        how = "--overwrite" if self.checkpoint_epoch is None else "--resume"
        return shlex.join(["pcut", "train", "--config", str(self.run_dir / "config.yaml"),
                           "--run-dir", str(self.run_dir), how, *self.command_options])

    def message(self, with_command: bool = True) -> str:
        """describe(), and (with_command) the command that continues the run on a line of its own."""
        text, finished = self.describe() + ".", self.checkpoint_epoch == self.num_epochs
        if finished or not with_command:
            return text + (" The run is complete." if finished else "")
        launch = f" (launched by torchrun as before, {self.world_size} processes)" if self.world_size > 1 else ""
        verb = "Start it again" if self.checkpoint_epoch is None else "Resume"
        return f"{text} {verb} with{launch}:\n  {self.command()}"


class StopNow(KeyboardInterrupt):
    """A second stop signal during an epoch's steps (one process): stop at once, mid-step."""


class StopSignals:
    """SIGINT and SIGTERM as a request to stop at the next safe point. The handler records the
    first signal (``received``); the loop looks at it after every step and after each epoch's
    checkpoints. A second signal inside ``interruptible()`` (an epoch's steps, one process) raises
    StopNow at once; anywhere else (setup, checkpoints, figures) it is recorded like the first,
    so a checkpoint being written is always finished."""

    def __init__(self):
        self.received = 0            # the first signal's number; 0: none
        self.count = 0               # signals received
        self.answered = False        # the loop raised TrainingInterrupted for it
        self._interruptible = False
        self._previous: dict[int, object] = {}

    def handle(self, number: int, frame=None) -> None:
        """The signal handler: record, or (a second signal inside ``interruptible``) raise StopNow."""
        self.count += 1
        self.received = self.received or number
        if self.count > 1 and self._interruptible:
            raise StopNow(f"a second {signal.Signals(number).name}: stopping at once")

    @contextmanager
    def interruptible(self, enabled: bool = True):
        """Inside the block (when ``enabled``) a second signal stops at once, mid-step."""
        self._interruptible = enabled
        try:
            yield
        finally:
            self._interruptible = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM, in the main thread only (elsewhere Python cannot: nothing is
        installed). A signal that the process ignores (SIGINT in a background job) stays ignored."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in STOP_SIGNALS:
            previous = signal.getsignal(number)
            if previous != signal.SIG_IGN:
                self._previous[number] = previous
                signal.signal(number, self.handle)

    def restore(self) -> None:
        """Put back the handlers that ``install`` replaced (SIG_DFL for one not set from Python)."""
        for number, previous in self._previous.items():
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()


@contextmanager
def stop_on_signals():
    """A StopSignals handling SIGINT and SIGTERM inside the block; the previous handlers come back
    after it, and a signal that the block received but did not answer with TrainingInterrupted
    (e.g. one during the last moments of a run) is delivered to them then."""
    stop = StopSignals()
    stop.install()
    try:
        yield stop
    finally:
        stop.restore()
        if stop.received and not stop.answered:
            signal.raise_signal(stop.received)


def ignore_stop_signals(worker_id: int | None = None) -> None:
    """Ignore SIGINT and SIGTERM from now on (main thread only): in a DataLoader worker (its
    ``worker_id``; the training process stops at a safe point, then ends its workers), and in a
    command on its way out after TrainingInterrupted (another Ctrl-C would print a traceback)."""
    if threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


def agreed_signal(stop: StopSignals, group: ProcessGroup, device: torch.device) -> int:
    """The stop signal to act on now (0: none): under DDP the largest that any rank received, in
    a collective that every rank calls after the same step, so that all ranks stop together and
    none waits in a collective for a rank that has left."""
    if not group.distributed:
        return stop.received
    flag = torch.tensor([stop.received], dtype=torch.int64, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item())
