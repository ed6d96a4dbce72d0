"""What one training step of each shipped config costs at its native frame size: parameters per
network, FLOPs, CPU seconds and memory measured here, and ESTIMATES of the time and memory per
step on an H100 / A100-class GPU derived from them. Written as a markdown page (default
docs/gpu.md) and printed.

    python benchmarks/config_costs.py [--configs NAME ...] [--out docs/gpu.md]

Default configs: every configs/*.yaml of a real dataset (all but synthetic-64* and smoke, listed
from the folder, as tests/test_configs.py does) plus synthetic-64.

Per config, on the CPU, at batch size 1 and the native frame size, with random frames:
  1. one train_step under torch.utils.flop_counter.FlopCounterMode (also the warm-up step):
     FLOPs of the forward and backward passes as the counter reports them;
  2. one train_step timed (CPU seconds, this machine's threads);
  3. one train_step at batch 1 and one at batch 2 under torch.profiler with profile_memory:
     the peak of the tensor memory allocated during the step; their difference is the memory
     one more sample takes.
The GPU numbers are estimates from these (formulas in ``estimate_gpu`` and in the page).
"""
from __future__ import annotations

import argparse
import datetime
import fnmatch
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from gpu_peaks import PEAK_TFLOPS as GPU_PEAKS  # noqa: E402
from pcutlib.config import load_config  # noqa: E402
from pcutlib.training.step import train_step  # noqa: E402
from pcutlib.training.trainer import Trainer, build_trainer, seed_everything  # noqa: E402

CONFIGS = REPO / "configs"
NOT_REAL_DATA = ("synthetic-64*", "smoke")      # as tests/test_configs.py
ALSO = ("synthetic-64",)                         # the CPU default, for scale
DEFAULT_OUT = REPO / "docs" / "gpu.md"

# Dense peak TFLOP/s (benchmarks/gpu_peaks.py, from NVIDIA's datasheets) of the GPUs estimated for.
PEAK_TFLOPS = {(gpu, precision): GPU_PEAKS[gpu][precision] for gpu in ("H100", "A100") for precision in ("tf32", "fp32")}
SUSTAINED_SHARE = 0.30          # assumed share of the peak a training step sustains
CUDA_OVERHEAD_GIB = 1.0         # assumed: CUDA context, cuDNN workspaces, allocator slack
FLOAT_BYTES = 4                 # the configs train in float32 (mixed_precision: none)
ADAM_COPIES = 2                 # Adam keeps exp_avg and exp_avg_sq per trained parameter


# --------------------------------------------------------------------------- which configs

def default_configs() -> list[str]:
    """The real-dataset configs of configs/ (sorted file stems) followed by ALSO."""
    stems = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    real = [s for s in stems if not any(fnmatch.fnmatch(s, pattern) for pattern in NOT_REAL_DATA)]
    return real + [name for name in ALSO if name in stems]


def check_names(names: list[str]) -> list[str]:
    """``names`` if each is a config in configs/, else a ValueError naming the unknown ones."""
    known = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown config(s) {unknown}; configs/ holds: {', '.join(known)}")
    return names


def step_config(name: str) -> dict:
    """Config ``name`` as shipped, for measuring one step: batch 1, random VGG19 weights (the
    same FLOPs as ImageNet's, no download) and, with a regularizer, mixing on every step (the
    dearer kind of discriminator step)."""
    config = load_config(CONFIGS / f"{name}.yaml")
    config["train_params"].update(batch_size=1, num_workers=0, perceptual_weights="random")
    if config["regularizer"]["type"] != "none":
        config["regularizer"].update(mix_probability=1.0, mix_warmup_epochs=0.0)
    return config


# --------------------------------------------------------------------------- measuring

def parameter_counts(trainer: Trainer) -> dict[str, int]:
    """Parameters of each network (kp_detector, generator, discriminator) and of the frozen loss
    network (``loss``: VGG19 of the perceptual loss, 0 without it)."""
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in trainer.models.networks().items()}
    counts["loss"] = sum(p.numel() for p in trainer.reconstruction_loss.parameters())
    return counts


def random_batch(frame_shape: list[int], batch_size: int) -> dict[str, torch.Tensor]:
    """{"source", "driving": (B,3,H,W)} of uniform noise at the config's frame_shape (H, W, C)."""
    height, width, channels = frame_shape
    generator = torch.Generator().manual_seed(0)
    return {key: torch.rand(batch_size, channels, height, width, generator=generator) for key in ("source", "driving")}


def count_flops(trainer: Trainer, batch: dict, epoch_float: float) -> int:
    """FLOPs of one train_step as FlopCounterMode counts them (convolutions and matrix products,
    forward and backward; element-wise operations, grid_sample and the optimizer are not counted)."""
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(trainer, batch, epoch_float)
    return counter.get_total_flops()


def time_step(trainer: Trainer, batch: dict, epoch_float: float) -> float:
    """Wall-clock seconds of one train_step (the losses are read back, so the step is complete)."""
    started = time.perf_counter()
    train_step(trainer, batch, epoch_float)
    return time.perf_counter() - started


def step_peak_bytes(trainer: Trainer, batch: dict, epoch_float: float) -> int:
    """Peak of the tensor memory allocated during one train_step and not yet freed, in bytes:
    activations, temporaries and the step's new gradients (torch.profiler's memory events, summed
    in time order). What existed before the step (weights, Adam state, the previous step's
    gradients) is not counted, nor is its release during the step."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        train_step(trainer, batch, epoch_float)
    events = [e for e in profiler.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def measure(name: str) -> dict:
    """Everything measured for config ``name``: see the module docstring."""
    config = step_config(name)
    seed_everything(0)
    trainer = build_trainer(config, torch.device("cpu"))
    frame_shape = config["dataset_params"]["frame_shape"]
    # past the discriminator warm-up, so that the step updates every network it trains
    epoch_float = float(config["train_params"]["discriminator_warmup_epochs"])
    one = random_batch(frame_shape, 1)
    flops = count_flops(trainer, one, epoch_float)
    seconds = time_step(trainer, one, epoch_float)
    peak_one = step_peak_bytes(trainer, one, epoch_float)
    peak_two = step_peak_bytes(trainer, random_batch(frame_shape, 2), epoch_float)
    counts = parameter_counts(trainer)
    shipped_batch_size = load_config(CONFIGS / f"{name}.yaml")["train_params"]["batch_size"]
    return {"name": name, "frame_shape": frame_shape, "batch_size": shipped_batch_size, "counts": counts,
            "trained": sum(counts[network] for network in trainer.optimizers),     # networks with an optimizer
            "flops_one": flops, "cpu_seconds": seconds, "peak_one": peak_one,
            "per_sample": max(0, peak_two - peak_one), "adversarial": trainer.adversary is not None,
            "regularizer": config["regularizer"]["type"]}


# --------------------------------------------------------------------------- estimating

def estimate_gpu(row: dict) -> dict:
    """ESTIMATES for the config's batch size B (nothing here is measured on a GPU):

        FLOPs(B)    = B * FLOPs(1)
        seconds     = FLOPs(B) / (SUSTAINED_SHARE * peak)                    per GPU and precision
        memory(B)   = FLOAT_BYTES * (all parameters + (1 + ADAM_COPIES) * trained parameters)
                      + peak(1) + (B - 1) * per-sample + CUDA_OVERHEAD_GIB
    (all parameters: the three networks and the loss network; trained: their gradients and Adam's
    two copies; peak(1), per-sample: measured on the CPU, ``step_peak_bytes``).
    """
    batch = row["batch_size"]
    flops = batch * row["flops_one"]
    seconds = {key: flops / (SUSTAINED_SHARE * peak * 1e12) for key, peak in PEAK_TFLOPS.items()}
    state = FLOAT_BYTES * (sum(row["counts"].values()) + (1 + ADAM_COPIES) * row["trained"])
    memory = state + row["peak_one"] + (batch - 1) * row["per_sample"] + CUDA_OVERHEAD_GIB * 2 ** 30
    return {"flops": flops, "seconds": seconds, "state_bytes": state, "memory_bytes": memory}


# --------------------------------------------------------------------------- the page

def millions(count: int) -> str:
    """A parameter count in millions; "-" for none."""
    return f"{count / 1e6:.2f}" if count else "-"


def figures(value: float) -> str:
    """A number to about three significant figures (whole numbers from 100 on)."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:#.3g}".rstrip(".") if value >= 1e-3 else f"{value:.1e}"


def measured_table(rows: list[dict]) -> list[str]:
    """Markdown lines of the table of what was measured here."""
    lines = ["| config | frame | D | kp_detector M | generator M | discriminator M | VGG19 M (frozen) "
             "| GFLOP, batch 1 | CPU s, batch 1 | CPU GFLOP/s | step peak MB, batch 1 | MB per further sample |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        counts, (height, width, _) = row["counts"], row["frame_shape"]
        kind = (f"trained{', ' + row['regularizer'] if row['regularizer'] != 'none' else ''}"
                if row["adversarial"] else "not trained")
        lines.append(f"| {row['name']} | {height}x{width} | {kind} | {millions(counts['kp_detector'])} "
                     f"| {millions(counts['generator'])} | {millions(counts['discriminator'])} "
                     f"| {millions(counts['loss'])} | {row['flops_one'] / 1e9:,.1f} | {row['cpu_seconds']:.2f} "
                     f"| {row['flops_one'] / 1e9 / row['cpu_seconds']:.0f} "
                     f"| {row['peak_one'] / 2 ** 20:,.0f} | {row['per_sample'] / 2 ** 20:,.0f} |")
    return lines


def estimate_table(rows: list[dict]) -> list[str]:
    """Markdown lines of the table of GPU estimates at each config's batch size."""
    columns = [f"{gpu} {precision.upper()} s" for gpu, precision in PEAK_TFLOPS]
    lines = ["| config | batch | TFLOP per step | " + " | ".join(columns) + " | memory GiB |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in columns) + " | ---: |"]
    for row in rows:
        estimate = estimate_gpu(row)
        seconds = " | ".join(figures(estimate["seconds"][key]) for key in PEAK_TFLOPS)
        lines.append(f"| {row['name']} | {row['batch_size']} | {figures(estimate['flops'] / 1e12)} | {seconds} "
                     f"| {estimate['memory_bytes'] / 2 ** 30:.1f} |")
    return lines


def page(rows: list[dict], command: str, total_seconds: float) -> str:
    """The markdown page: what was measured, the estimates, and every assumption behind them."""
    today = datetime.date.today().isoformat()
    peaks = ", ".join(f"{gpu} {precision.upper()} {value:g}" for (gpu, precision), value in PEAK_TFLOPS.items())
    text = [
        "# What a training step costs, per shipped config",
        "",
        f"Written by `{command}` on {today} with torch {torch.__version__} on a CPU "
        f"({torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s)) in "
        f"{total_seconds / 60:.1f} minutes. Do not edit the numbers by hand: run the command again "
        f"(`--configs NAME ...` for some configs, `--out PATH` for another file).",
        "",
        "**Measured here, on the CPU:** parameters, FLOPs of one training step at batch 1, its CPU "
        "seconds, and the peak memory of a step at batch 1 and 2. **Estimated, not measured:** every "
        "GPU number (second table), derived from those by the formulas below. No GPU was used. When a "
        "GPU is available, a measurement there replaces these estimates: time a few steps of the config "
        "at its batch size (the `seconds` column of a run's `log.jsonl`) and read "
        "`torch.cuda.max_memory_allocated()`.",
        "",
        "One step is `pcutlib.training.step.train_step` on the config as shipped, at its native frame "
        "size, on random frames: a generator and keypoint-detector update and, when the config is "
        "adversarial (generator_gan != 0), a discriminator update. Changed for measuring only: the "
        "perceptual loss's VGG19 has random weights (the same FLOPs as ImageNet's; no download), and a "
        "config with a regularizer mixes on every step (the dearer discriminator step; the shipped "
        "configs mix with probability regularizer.mix_probability, 0.5, after their warm-up). "
        "Float32 throughout (the configs' "
        "mixed_precision is none).",
        "",
        "## Measured on this CPU",
        "",
        *measured_table(rows),
        "",
        "M: millions of parameters. D: the discriminator, trained or not (it only trains when "
        "generator_gan != 0), with the regularizer. GFLOP: `torch.utils.flop_counter.FlopCounterMode` "
        "over one whole step, forward and backward as the counter reports them: convolutions and "
        "matrix products only (element-wise operations, normalization, `grid_sample` and the "
        "optimizer are not counted). CPU s: wall-clock seconds of one step after a warm-up step (one "
        "timing, not a median: other work on the machine slows it). Step "
        "peak: the largest amount of tensor memory allocated during the step and not yet freed "
        "(torch.profiler's memory events: activations, temporaries and the step's gradients; not the "
        "weights and Adam state that exist before it); MB per further sample: the batch-2 peak minus "
        "the batch-1 peak.",
        "",
        "## ESTIMATES for one GPU at the config's batch size (not measured)",
        "",
        *estimate_table(rows),
        "",
        "How each estimate is made (`estimate_gpu` in `benchmarks/config_costs.py`):",
        "",
        "```text",
        "TFLOP per step = batch size x GFLOP at batch 1 (convolutions scale linearly with the batch)",
        f"seconds        = TFLOP per step / ({SUSTAINED_SHARE:g} x peak TFLOP/s)",
        f"memory         = {FLOAT_BYTES} bytes x (all parameters + {1 + ADAM_COPIES} x trained parameters)",
        "                 + step peak at batch 1 + (batch size - 1) x MB per further sample",
        f"                 + {CUDA_OVERHEAD_GIB:g} GiB",
        "```",
        "",
        f"- Peak throughput (dense, TFLOP/s, NVIDIA datasheets; H100 is the SXM5 part, the PCIe card "
        f"is about 25% slower, an H200 computes as the H100 SXM with more memory): {peaks}. "
        f"Assumed sustained: {SUSTAINED_SHARE:.0%} of the peak.",
        "- Which column applies: PyTorch lets cuDNN convolutions use TF32 by default "
        "(`torch.backends.cudnn.conv.fp32_precision` is `tf32`; older name `torch.backends.cudnn.allow_tf32`) "
        "and pcut does not change it, so the TF32 columns are the default, the convolutions being "
        "nearly all the counted FLOPs; FP32 is the step with that setting `ieee` (`allow_tf32 = False`).",
        "- The FLOP count leaves out the memory-bound work (element-wise operations, batch norm, "
        "`grid_sample`, the optimizer), which on a GPU takes a larger share of the step than on a CPU. "
        "So the TF32 figures are optimistic: read them as a lower bound of the step time. For "
        "comparison, the CPU GFLOP/s column is the counted FLOPs over the whole measured CPU step.",
        "- A small model (synthetic-64) is bound by kernel launches and Python on a GPU, not by its "
        "FLOPs: its time estimate is far too low (expect milliseconds per step, not microseconds). "
        "Measured on one H200 (docs/benchmarks.md, \"On a GPU\"), synthetic-64 (batch 8 and 64) and vox-256 at 128 px "
        "(batch 4) sustained far less of the TF32 peak than the 30% assumed here.",
        "- Memory: all parameters are the three networks and the frozen VGG19, once each in float32; "
        f"trained parameters (the networks with an optimizer) add their gradients and Adam's "
        f"{ADAM_COPIES} state copies. The step's activation memory is the CPU measurement: the GPU "
        "step computes the same tensors, but cuDNN workspaces and the caching allocator's slack come on "
        f"top (the assumed {CUDA_OVERHEAD_GIB:g} GiB covers the CUDA context and some of it). The "
        "gradients are counted in the state and again, as far as the step has made them by its peak, in "
        "the step peak, so the estimate errs high by at most their size (4 bytes x trained parameters).",
        "- One GPU: with torchrun over N GPUs, each holds the whole state and batch/N samples; the time "
        "per step divides by about N.",
        "",
    ]
    return "\n".join(text)


# --------------------------------------------------------------------------- command

def progress_line(index: int, total: int, row: dict, seconds: float) -> str:
    """One line per measured config."""
    return (f"[{index}/{total}] {row['name']}: {row['flops_one'] / 1e9:,.0f} GFLOP at batch 1, "
            f"{row['cpu_seconds']:.2f} CPU s/step, step peak {row['peak_one'] / 2 ** 20:,.0f} MB "
            f"(+{row['per_sample'] / 2 ** 20:,.0f} MB per sample); measured in {seconds:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", metavar="NAME",
                        help="config names in configs/ (default: the real-dataset configs and synthetic-64)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown page to write (default docs/gpu.md)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="VGG19 with RANDOM weights")   # chosen on purpose (step_config)
    try:
        names = check_names(args.configs) if args.configs else default_configs()
    except ValueError as error:
        parser.error(str(error))
    threads = [f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"] if os.environ.get("OMP_NUM_THREADS") else []
    command = shlex.join([*threads, "python", "benchmarks/config_costs.py",
                          *(argv if argv is not None else sys.argv[1:])])
    print(f"torch {torch.__version__}, CPU {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} thread(s); {len(names)} config(s)", flush=True)
    started, rows = time.perf_counter(), []
    for index, name in enumerate(names, 1):
        config_started = time.perf_counter()
        rows.append(measure(name))
        print(progress_line(index, len(names), rows[-1], time.perf_counter() - config_started), flush=True)
    text = page(rows, command, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
