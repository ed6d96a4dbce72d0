"""Speed and memory of a full training step (generator + discriminator updates).

For each architecture (synthetic-64; vox-256's architecture at 128x128, and at 256x256 on
CUDA) and each regularizer (none / cutmix / prioritycut, all with the U-Net discriminator
and the adversarial term on), prints samples/s, peak memory, and the share of the step
spent building the PriorityCut or CutMix mask and mixing. On CUDA it also compares fp32,
bf16 autocast and channels_last in the same run, as ratios against fp32.

    python benchmarks/train_step.py [--steps 5] [--batch-size 8] [--device auto]
"""
from __future__ import annotations

import argparse
import copy
import resource
import time
from pathlib import Path

import torch

from pcutlib import training
from pcutlib.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def architecture(name: str, size: int) -> dict:
    """A resolved config for ``name`` at ``size`` px with the U-Net D and the adversarial term on."""
    config = load_config(CONFIGS / f"{name}.yaml")
    config["dataset_params"]["frame_shape"] = [size, size, 3]
    discriminator = config["model_params"]["discriminator_params"]
    discriminator.update(kind="unet", scales=[1], use_kp=False, num_blocks=max(3, size.bit_length() - 3))
    weights = config["train_params"]["loss_weights"]
    weights.update(generator_gan=1, feature_matching=[0] * len(weights["feature_matching"]))
    if sum(weights["perceptual"]):
        config["train_params"]["perceptual_weights"] = "random"   # same cost as ImageNet weights
    config["regularizer"].update(mix_probability=1.0, mix_warmup_epochs=0.0)   # mix every step
    return config


class MaskTimer:
    """Accumulates the seconds spent in make_mask + mix_images (patched around the trainer's calls)."""

    def __init__(self):
        self.seconds = 0.0
        self.originals = (training.make_mask, training.mix_images)

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
        training.make_mask, training.mix_images = (timed(f) for f in self.originals)
        return self

    def __exit__(self, *exc):
        training.make_mask, training.mix_images = self.originals


def synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 10   # process peak RSS (KiB on Linux)


def measure(config: dict, device: torch.device, batch_size: int, steps: int, warmup: int = 2) -> dict:
    config = copy.deepcopy(config)
    config["train_params"]["batch_size"] = batch_size
    trainer = training.build_trainer(config, device)
    size = config["dataset_params"]["frame_shape"][0]
    batch = {"source": torch.rand(batch_size, 3, size, size), "driving": torch.rand(batch_size, 3, size, size)}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        training.train_step(trainer, batch, epoch_float=1.0)
    with MaskTimer() as mask_timer:
        synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            training.train_step(trainer, batch, epoch_float=1.0)
        synchronize()
        seconds = time.perf_counter() - started
    return {"samples_per_s": steps * batch_size / seconds, "ms_per_step": 1000 * seconds / steps,
            "mask_share": mask_timer.seconds / seconds, "peak_mb": peak_memory_mb(device)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = training.choose_device(args.device)
    torch.manual_seed(0)

    setups = [("synthetic-64", 64, args.batch_size), ("vox-256", 128, max(1, args.batch_size // 2))]
    if device.type == "cuda":
        setups.append(("vox-256", 256, max(1, args.batch_size // 2)))
    print(f"device: {device}  torch {torch.__version__}  threads {torch.get_num_threads()}  steps {args.steps}")
    print(f"{'architecture':<16}{'size':>5}{'batch':>6}  {'regularizer':<12}{'precision':<16}"
          f"{'samples/s':>10}{'ms/step':>9}{'mask+mix':>9}{'peak MB':>9}{'vs fp32':>8}")
    for name, size, batch_size in setups:
        base = architecture(name, size)
        for regularizer in ("none", "cutmix", "prioritycut"):
            variants = [("fp32", {})]
            if device.type == "cuda" and regularizer == "prioritycut":
                bf16 = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
                variants += [(bf16, {"mixed_precision": bf16}), ("channels_last", {"channels_last": True}),
                             (f"{bf16}+ch_last", {"mixed_precision": bf16, "channels_last": True})]
            reference = None
            for label, train_params in variants:
                config = copy.deepcopy(base)
                config["regularizer"]["type"] = regularizer
                config["train_params"].update(train_params)
                result = measure(config, device, batch_size, args.steps)
                reference = reference or result["samples_per_s"]
                print(f"{name:<16}{size:>5}{batch_size:>6}  {regularizer:<12}{label:<16}"
                      f"{result['samples_per_s']:>10.2f}{result['ms_per_step']:>9.0f}"
                      f"{100 * result['mask_share']:>8.1f}%{result['peak_mb']:>9.0f}"
                      f"{result['samples_per_s'] / reference:>8.2f}")
    if device.type == "cpu":
        print("peak MB on the CPU is the process's peak resident memory so far (it only grows).")


if __name__ == "__main__":
    main()
