"""Wall time of whole training iterations of synthetic-64 (load a batch, then the step), today's
settings against the settings this benchmark pins as the baseline, in one run.

``benchmarks/train_step.py`` times the step alone on a batch already in memory. A real epoch
also reads its batches: on 2 CPU cores with ``num_workers: 0`` (synthetic-64's setting, measured
faster than worker processes there) that is the same process's time. Modes:

- baseline: the step and data settings before the decoded-video cache (``cache_megabytes: 0``,
  every item decodes its whole 32-frame strip), ``Trainer.baseline_step``, NCHW layout;
- cache only: the baseline with the decoded-video cache on;
- no flush: pcut's step (cache, discriminator frozen in the generator step, fused Adam,
  channels_last) with denormal floats computed as such;
- optimized: what ``pcut train`` runs on a CPU: the same with denormals flushed to zero.

Denormals appear as a model's keypoints sharpen (their Gaussians underflow), so the last two
differ on a trained model: ``--init-from`` starts every mode from a checkpoint's weights.

Each mode runs ``--iterations`` iterations per round, in interleaved rounds (median counts), on
the real synthetic world (``data/synthetic-64``, made when missing) after a warm-up that fills
the cache and takes two steps. Printed: ms per iteration, of which loading, samples/s and the ratio to the
baseline.

    python benchmarks/training_iteration.py [--iterations 25] [--rounds 3] [--regularizer none]
                                           [--init-from runs/.../checkpoints/last.pt]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from pcutlib.training.device import ProcessGroup  # noqa: E402
from pcutlib.training.trainer import build_trainer  # noqa: E402
from pcutlib.training.loop import make_dataloader  # noqa: E402
from pcutlib.training.step import train_step  # noqa: E402
from pcutlib.training.state import initialise_from  # noqa: E402
from pcutlib.config import load_config, resolve_config  # noqa: E402
from pcutlib.experiments.shipped_model import ensure_synthetic_data  # noqa: E402

MODES = {  # mode: (cache_megabytes, baseline_step, channels_last, flush denormal floats)
    "baseline": (0, True, False, False),
    "cache only": (512, True, False, False),
    "no flush": (512, False, True, False),
    "optimized": (512, False, True, True),
}


def mode_config(mode: str, regularizer: str, data: Path) -> dict:
    cache, _, channels_last, _ = MODES[mode]
    config = load_config("synthetic-64")
    config["dataset_params"].update(root_dir=str(data), cache_megabytes=cache)
    config["train_params"]["channels_last"] = channels_last
    if regularizer != "none":
        config["train_params"]["loss_weights"]["generator_gan"] = 1
        config["regularizer"].update(type=regularizer, mix_probability=1.0, mix_warmup_epochs=0.0)
    return resolve_config(config)


class Mode:
    """One mode's trainer and an endless iterator over its training loader."""

    def __init__(self, mode: str, regularizer: str, data: Path, init_from: Path | None):
        self.config = mode_config(mode, regularizer, data)
        torch.manual_seed(0)
        self.trainer = build_trainer(self.config, torch.device("cpu"), baseline_step=MODES[mode][1])
        if init_from is not None:
            initialise_from(self.trainer, init_from)
        self.flush_denormal = MODES[mode][3]
        self.loader = make_dataloader(self.config, ProcessGroup(),
                                               generator=self.trainer.rngs["data_order"])
        self.trainer.steps_per_epoch = len(self.loader)
        self.batches = iter(self.loader)

    def next_batch(self) -> dict:
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def run(self, iterations: int) -> tuple[float, float]:
        """(seconds in all, seconds loading) for ``iterations`` iterations."""
        torch.set_flush_denormal(self.flush_denormal)
        loading, started = 0.0, time.perf_counter()
        for _ in range(iterations):
            before = time.perf_counter()
            batch = self.next_batch()
            loading += time.perf_counter() - before
            train_step(self.trainer, batch, epoch_float=1.0)
        return time.perf_counter() - started, loading


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=25, help="iterations per mode and round (default: 25)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median counts (default: 3)")
    parser.add_argument("--regularizer", default="none", choices=["none", "cutmix", "prioritycut"],
                        help="none: the reconstruction phase; else the U-Net fine-tune, mixing every step")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"))
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start every mode from this checkpoint's keypoint detector and generator")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.rounds < 1:
        parser.error(f"--iterations and --rounds must be >= 1, got {args.iterations} and {args.rounds}")
    data = ensure_synthetic_data(args.data, progress=False)
    modes = {name: Mode(name, args.regularizer, data, args.init_from) for name in MODES}
    for mode in modes.values():                      # warm-up: fill the cache, then two steps
        if mode.config["dataset_params"]["cache_megabytes"]:
            for _ in mode.loader:
                pass
        mode.run(2)
    times = {name: [] for name in modes}
    for _ in range(args.rounds):
        for name, mode in modes.items():
            times[name].append(mode.run(args.iterations))
    batch = next(iter(modes.values())).config["train_params"]["batch_size"]
    print(f"synthetic-64 training iterations ({args.regularizer}), batch {batch}, {torch.get_num_threads()} "
          f"threads, median of {args.rounds} rounds of {args.iterations}")
    print(f"{'mode':<12} {'ms/iteration':>12} {'of which loading':>17} {'samples/s':>10} {'vs baseline':>12}")
    base = None
    for name, rounds in times.items():
        seconds, loading = sorted(rounds)[len(rounds) // 2]
        per_iteration = 1000 * seconds / args.iterations
        base = base or per_iteration
        print(f"{name:<12} {per_iteration:>12.0f} {1000 * loading / args.iterations:>14.0f} ms "
              f"{batch * args.iterations / seconds:>10.1f} {base / per_iteration:>11.2f}x")


if __name__ == "__main__":
    main()
