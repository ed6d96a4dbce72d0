"""Where a training step's time goes: torch.profiler's top operations for the baseline step and
pcut's optimized step (see benchmarks/train_step.py for what each is), side by side.

It also prints the convolutions' share (forward and backward) of each step's operator time and
the largest speed-up over the baseline that a step computing the same convolutions at the
optimized step's speed could reach if every other operation took no time at all (Amdahl's
law): baseline time / optimized convolution time.

    python benchmarks/profile_step.py [--setup synthetic-64|synthetic-64-unet|vox-256] [--steps 4] [--top 12]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import architecture, build  # noqa: E402

from pcutlib.training.step import train_step  # noqa: E402

SETUPS = {
    "synthetic-64": (lambda: architecture("synthetic-64", 64, "own", adversarial=False), 8, "none"),
    "synthetic-64-unet": (lambda: architecture("synthetic-64", 64), 8, "prioritycut"),
    "vox-256": (lambda: architecture("vox-256", 128, "own"), 4, "none"),
}


def profile_step(config: dict, batch_size: int, steps: int, baseline: bool) -> tuple[list, float]:
    """[(operation, self CPU ms per step, share)] sorted by time, and ms per step."""
    trainer = build(config, torch.device("cpu"), batch_size, baseline)     # train_step.py's two steps
    size = config["dataset_params"]["frame_shape"][0]
    batch = {"source": torch.rand(batch_size, 3, size, size), "driving": torch.rand(batch_size, 3, size, size)}
    for _ in range(2):
        train_step(trainer, batch, epoch_float=1.0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(trainer, batch, epoch_float=1.0)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(((e.key, e.self_cpu_time_total / 1000 / steps, e.self_cpu_time_total / total) for e in events),
                  key=lambda row: -row[1])
    return rows, total / 1000 / steps


CONVOLUTIONS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_slow_conv2d_forward",
                "aten::_slow_conv2d_backward")   # the kernels (conv2d and _convolution only dispatch)


def convolution_ms(rows: list) -> float:
    """ms per step spent inside convolution kernels (forward and backward) of a profile's rows."""
    return sum(ms for name, ms, _ in rows if name in CONVOLUTIONS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", choices=list(SETUPS), default="synthetic-64")
    parser.add_argument("--steps", type=int, default=4, help="profiled steps (after 2 warm-up steps)")
    parser.add_argument("--top", type=int, default=12, help="operations shown")
    args = parser.parse_args(argv)
    build, batch_size, regularizer = SETUPS[args.setup]
    config = build()
    config["regularizer"]["type"] = regularizer
    print(f"{args.setup}, batch {batch_size}, regularizer {regularizer}, {torch.get_num_threads()} threads")
    totals = {}
    for label, baseline in (("baseline", True), ("optimized", False)):
        rows, per_step = profile_step(config, batch_size, args.steps, baseline)
        totals[label] = per_step, convolution_ms(rows)
        print(f"\n{label}: {per_step:.0f} ms of operator time per step, "
              f"{100 * totals[label][1] / per_step:.1f}% of it in convolutions")
        print(f"  {'operation':<44}{'ms/step':>9}{'share':>8}")
        for name, ms, share in rows[:args.top]:
            print(f"  {name:<44}{ms:>9.1f}{100 * share:>7.1f}%")
    (baseline_total, _), (optimized_total, optimized_conv) = totals["baseline"], totals["optimized"]
    print(f"\noptimized/baseline in operator time: {baseline_total / optimized_total:.2f}x; "
          f"ceiling with the optimized step's convolutions and everything else free: "
          f"{baseline_total / optimized_conv:.2f}x")


if __name__ == "__main__":
    main()
