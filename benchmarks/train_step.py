"""Speed and memory of a full training step (generator + discriminator updates), pcut's
optimized step against the baseline step, in one run.

Baseline: ``Trainer.baseline_step`` (FOMM's straightforward order of operations: the
discriminator's weight gradients are computed in the generator step and thrown away; Adam
updates one parameter tensor after another) in the config's own memory layout (NCHW, except
synthetic-64, whose config sets channels_last).
Optimized: pcut's step (discriminator frozen in the generator step, Adam's fused kernel) with
channels_last. tests/test_training.py checks both give the same losses and updates. Setups:

- synthetic-64, the CPU default (reconstruction phase, batch 8);
- synthetic-64 adversarial: U-Net D, none / cutmix / prioritycut (mixing every step);
- vox-256 FOMM: FOMM's vox-256 (patch D with keypoints, feature matching, VGG19 pyramid with
  random weights: the same cost as ImageNet's) at 128x128, batch 4;
- vox-256 U-Net: the same with the U-Net D and each regularizer;
- on CUDA also vox-256 at 256x256;
- with ``--compile``, every row also as the optimized step with the generator, keypoint detector
  and reconstruction loss compiled by ``torch.compile`` (compile time printed, not timed);
- every row also under bf16 autocast (the optimized step; ``--no-low-precision`` leaves it out):
  on a GPU and on a CPU with bf16 kernels (AMX, AVX512-BF16) the convolutions run in bf16.

Printed: samples/s, ms/step, the share of the step spent building and applying the mask,
peak memory, the optimized/baseline ratio and, for a mixing regularizer, its cost over the
same step without mixing; the TFLOP/s the step sustains (the FLOPs of one step as
``torch.utils.flop_counter`` counts them: convolutions and matrix products, forward and backward)
and, on a GPU that benchmarks/gpu_peaks.py lists, that as a share of the GPU's dense TF32 peak
(cuDNN's float32 convolutions use TF32 by default; the bf16 rows too, since only the generator
runs under autocast there).

    python benchmarks/train_step.py [--steps 5] [--rounds 3] [--batch-size 8] [--device auto] [--quick]
                                    [--setups LABEL ...] [--sizes PX ...] [--compile] [--no-low-precision]

All modes and regularizers of a setup are timed in interleaved blocks (median of --rounds), so
a slow moment of the machine hits each alike; peak MB on the CPU is the process's peak RSS.
"""
from __future__ import annotations

import argparse
import copy
import resource
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from gpu_peaks import peak_tflops
from pcutlib.training import adversaries
from pcutlib.training.trainer import build_trainer
from pcutlib.training.device import choose_device
from pcutlib.training.step import train_step
from pcutlib.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def architecture(name: str, size: int, discriminator: str = "unet", adversarial: bool = True) -> dict:
    """A resolved config for ``name`` at ``size`` px: its own discriminator (``discriminator="own"``)
    or the U-Net D, the adversarial term on or off, mixing every step."""
    config = load_config(CONFIGS / f"{name}.yaml")
    config["dataset_params"]["frame_shape"] = [size, size, 3]
    weights = config["train_params"]["loss_weights"]
    if discriminator == "unet":
        params = config["model_params"]["discriminator_params"]
        params.update(kind="unet", scales=[1], use_kp=False, num_blocks=max(3, size.bit_length() - 3))
        weights.update(feature_matching=[0] * len(weights["feature_matching"]))
    weights.update(generator_gan=1 if adversarial else 0)
    if sum(weights["perceptual"]):
        config["train_params"]["perceptual_weights"] = "random"   # same cost as ImageNet weights
    config["regularizer"].update(mix_probability=1.0, mix_warmup_epochs=0.0)   # mix every step
    return config


class MaskTimer:
    """Accumulates the seconds spent in make_mask + mix_images (patched around the trainer's calls)."""

    def __init__(self):
        self.seconds = 0.0
        self.originals = (adversaries.make_mask, adversaries.mix_images)

    def __enter__(self):
        def timed(function):
            def wrapper(*args, **kwargs):
                synchronize()
                started = time.perf_counter()
                result = function(*args, **kwargs)
                synchronize()
                self.seconds += time.perf_counter() - started
                return result
            return wrapper
        adversaries.make_mask, adversaries.mix_images = (timed(f) for f in self.originals)
        return self

    def __exit__(self, *exc):
        adversaries.make_mask, adversaries.mix_images = self.originals


def low_precision_dtype(device: torch.device) -> str:
    """The autocast dtype of the low-precision rows: bf16 (fp16 on a GPU without bf16)."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return "bf16"


def synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 10   # process peak RSS (KiB on Linux)


def step_flops(trainer, batch: dict) -> int:
    """FLOPs of one train_step (convolutions and matrix products, forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(trainer, batch, epoch_float=1.0)
    return counter.get_total_flops()


def reference_precision() -> str:
    """The precision whose peak every row's share is taken of: tf32 where cuDNN may use it for
    float32 convolutions (PyTorch's default), else fp32. The bf16 rows too: only the generator
    runs under autocast, the keypoint detector and discriminator stay float32."""
    return "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"


def peak_share(device: torch.device, tflops: float) -> float | None:
    """``tflops`` as a share of this GPU's dense peak (``reference_precision``); None on a CPU or
    a GPU that benchmarks/gpu_peaks.py does not list."""
    if device.type != "cuda":
        return None
    peak = peak_tflops(torch.cuda.get_device_name(device), reference_precision())
    return None if peak is None else tflops / peak


def build(config: dict, device: torch.device, batch_size: int, baseline: bool, compiled: bool = False):
    config = copy.deepcopy(config)
    config["train_params"]["batch_size"] = batch_size
    config["train_params"]["channels_last"] = config["train_params"]["channels_last"] or not baseline
    torch.manual_seed(0)
    trainer = build_trainer(config, device, baseline_step=baseline)
    if compiled:     # in place: the state_dict keys stay the same
        for module in (trainer.models.generator, trainer.models.kp_detector, *trainer.reconstruction_loss):
            module.compile()
    return trainer


def measure(configs: dict, device: torch.device, batch_size: int, steps: int, rounds: int = 3,
            warmup: int = 3) -> dict:
    """{mode: result} for the trainers of ``configs`` ({mode: (config, baseline)}), timed in
    interleaved blocks of ``steps`` steps, ``rounds`` times (the median block counts), so that
    a slow moment of the machine hits every mode alike."""
    trainers = {mode: build(config, device, batch_size, baseline, compiled=mode[-1] == "compiled")
                for mode, (config, baseline) in configs.items()}
    size = next(iter(configs.values()))[0]["dataset_params"]["frame_shape"][0]
    batch = {"source": torch.rand(batch_size, 3, size, size), "driving": torch.rand(batch_size, 3, size, size)}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for mode, trainer in trainers.items():
        started = time.perf_counter()
        for _ in range(warmup):
            train_step(trainer, batch, epoch_float=1.0)
        if mode[-1] == "compiled":
            print(f"  ({' '.join(mode)}: compiling and {warmup} warm-up steps took {time.perf_counter() - started:.0f} s)")
    # a compiled step is counted as its optimized twin (the same FLOPs): counting under a
    # dispatch mode could leave the compiled modules running eagerly
    flops = {mode: step_flops(trainer, batch) for mode, trainer in trainers.items() if mode[-1] != "compiled"}
    flops.update({mode: flops[(*mode[:-1], "optimized")] for mode in trainers if mode[-1] == "compiled"})
    blocks = {mode: [] for mode in trainers}
    mask_seconds = {mode: 0.0 for mode in trainers}
    for _ in range(rounds):
        for mode, trainer in trainers.items():
            with MaskTimer() as mask_timer:
                synchronize()
                started = time.perf_counter()
                for _ in range(steps):
                    train_step(trainer, batch, epoch_float=1.0)
                synchronize()
                blocks[mode].append(time.perf_counter() - started)
            mask_seconds[mode] += mask_timer.seconds
    results = {}
    for mode, times in blocks.items():
        seconds = sorted(times)[len(times) // 2]
        tflops = flops[mode] * steps / seconds / 1e12
        results[mode] = {"samples_per_s": steps * batch_size / seconds, "ms_per_step": 1000 * seconds / steps,
                         "mask_share": mask_seconds[mode] / sum(times), "peak_mb": peak_memory_mb(device),
                         "tflops": tflops, "peak_share": peak_share(device, tflops)}
    return results


def setups(device: torch.device, batch_size: int, quick: bool) -> list[tuple]:
    """(label, config, batch size, regularizers) of every measured configuration."""
    rows = [("synthetic-64", architecture("synthetic-64", 64, "own", adversarial=False), batch_size, ["none"]),
            ("synthetic-64 U-Net", architecture("synthetic-64", 64), batch_size, ["none", "cutmix", "prioritycut"])]
    if not quick:
        half = max(1, batch_size // 2)
        rows += [("vox-256 FOMM", architecture("vox-256", 128, "own"), half, ["none"]),
                 ("vox-256 U-Net", architecture("vox-256", 128), half, ["none", "cutmix", "prioritycut"])]
        if device.type == "cuda":
            rows.append(("vox-256 U-Net", architecture("vox-256", 256), half, ["none", "prioritycut"]))
    return rows


def read_rows(text: str) -> list[dict]:
    """The table rows of a printed run (what ``main`` prints), as dicts: setup, size, batch,
    regularizer, step, samples_per_s, ms_per_step, speed_up, tflops, peak_share (percent; None
    for '-'), for documents that quote a stored run."""
    rows = []
    for line in text.splitlines():
        if not line.startswith(("synthetic-64", "vox-256")):
            continue
        setup, rest = line[:20].strip(), line[20:].split()
        size, batch, regularizer, step, samples, ms = rest[:6]
        rows.append({"setup": setup, "size": int(size), "batch": int(batch), "regularizer": regularizer,
                     "step": step, "samples_per_s": float(samples), "ms_per_step": float(ms),
                     "speed_up": float(rest[8].rstrip("x")), "tflops": float(rest[-2]),
                     "peak_share": None if rest[-1] == "-" else float(rest[-1].rstrip("%"))})
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per row (after 2 warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=8, help="synthetic-64's batch; vox-256 uses half")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (the median counts)")
    parser.add_argument("--quick", action="store_true", help="synthetic-64 only")
    parser.add_argument("--setups", nargs="+", metavar="LABEL",
                        help="only these setups, by the label of the table's first column (e.g. 'vox-256 FOMM')")
    parser.add_argument("--sizes", nargs="+", type=int, metavar="PX",
                        help="only setups at these frame sizes (e.g. 256: the CUDA-only vox-256 row)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the optimized step with torch.compile (minutes of compiling on a CPU)")
    parser.add_argument("--low-precision", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the optimized step under bf16 autocast (fp16 on a GPU without bf16); "
                             "on a CPU it pays where oneDNN has bf16 kernels (AMX or AVX512-BF16)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    device = choose_device(args.device)
    print(f"device: {device}  torch {torch.__version__}  threads {torch.get_num_threads()}  steps {args.steps}"
          f"  CPU capability {torch.backends.cpu.get_cpu_capability()}")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        precision = reference_precision()
        print(f"GPU: {name}; 'of peak': every row's TFLOP/s over the dense {precision} peak, "
              f"{peak_tflops(name, precision)} TFLOP/s (None: not listed in benchmarks/gpu_peaks.py)")
    print(f"{'setup':<20}{'size':>5}{'batch':>6}  {'regularizer':<12}{'step':<10}"
          f"{'samples/s':>10}{'ms/step':>9}{'mask+mix':>9}{'peak MB':>9}{'speed-up':>9}{'mix cost':>9}"
          f"{'TFLOP/s':>9}{'of peak':>8}")
    low_precision = low_precision_dtype(device)
    chosen = setups(device, args.batch_size, args.quick)
    if args.setups:
        labels = {row[0] for row in chosen}
        unknown = set(args.setups) - labels
        if unknown:
            parser.error(f"--setups: unknown {sorted(unknown)}; setups of this run: {sorted(labels)}")
        chosen = [row for row in chosen if row[0] in args.setups]
    if args.sizes:
        chosen = [row for row in chosen if row[1]["dataset_params"]["frame_shape"][0] in args.sizes]
        if not chosen:
            parser.error(f"--sizes {args.sizes}: no setup of this run has that frame size")
    for label, base, batch_size, regularizers in chosen:
        size = base["dataset_params"]["frame_shape"][0]
        configs = {}
        for regularizer in regularizers:
            config = copy.deepcopy(base)
            config["regularizer"]["type"] = regularizer
            configs[(regularizer, "baseline")] = (config, True)
            configs[(regularizer, "optimized")] = (config, False)
            if args.compile:
                configs[(regularizer, "compiled")] = (config, False)
            if args.low_precision:
                low = copy.deepcopy(config)
                low["train_params"]["mixed_precision"] = low_precision
                configs[(regularizer, low_precision)] = (low, False)
        results = measure(configs, device, batch_size, args.steps, args.rounds)
        for (regularizer, mode), result in results.items():
            reference = results[(regularizer, "baseline")]["samples_per_s"]
            plain = results.get(("none", mode))
            cost = (f"{100 * (result['ms_per_step'] / plain['ms_per_step'] - 1):>+8.0f}%"
                    if regularizer != "none" and plain is not None else f"{'':>9}")
            share = "-" if result["peak_share"] is None else f"{100 * result['peak_share']:.2f}%"
            print(f"{label:<20}{size:>5}{batch_size:>6}  {regularizer:<12}{mode:<10}"
                  f"{result['samples_per_s']:>10.2f}{result['ms_per_step']:>9.0f}"
                  f"{100 * result['mask_share']:>8.1f}%{result['peak_mb']:>9.0f}"
                  f"{result['samples_per_s'] / reference:>8.2f}x{cost}{result['tflops']:>9.3f}{share:>8}", flush=True)
    if device.type == "cpu":
        print("peak MB on the CPU is the process's peak resident memory so far (it only grows).")


if __name__ == "__main__":
    main()
