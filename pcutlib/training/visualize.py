"""Figures of a run: the loss curves and one image grid per epoch."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure  # no pyplot: works headless, in workers and in notebooks

from pcutlib.prioritycut import make_mask, mix_images


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0,1] -> (H, W, C) numpy for imshow (1 channel -> grey RGB)."""
    tensor = tensor.detach().float().cpu().clamp(0, 1)
    if tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    return tensor.permute(1, 2, 0).numpy()


def upsample(tensor: torch.Tensor, size) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, H, W) nearest, to show low-resolution maps pixel by pixel."""
    return F.interpolate(tensor.detach().float(), size=size, mode="nearest")


def training_panels(batch: dict, generated: dict, mixing=None, regularizer=None) -> dict:
    """The columns of the per-epoch figure: name -> (B, C, H, W) tensors in [0,1]. mixing: the
    step's ``adversaries.Mixing`` (its mask is shown), or None."""
    source, driving = batch["source"], batch["driving"]
    size = driving.shape[2:]
    prediction = generated["prediction"].detach().float().cpu()
    panels = {"source": source, "driving": driving, "prediction": prediction}
    if "deformed" in generated:
        panels["deformed source"] = generated["deformed"].detach().float().cpu()
    if "occlusion_map" in generated:
        panels["occlusion map"] = upsample(generated["occlusion_map"], size).cpu()
    mask = None if mixing is None else mixing.mask
    if mask is None and regularizer is not None and regularizer.type != "none":
        # a CutMix box is random: draw it from a generator of its own, never from the global
        # RNG or the trainer's streams, which the run's checkpoint has already saved (exact resume)
        mask, _ = make_mask(regularizer, {k: v.detach().float().cpu() for k, v in generated.items()
                                          if torch.is_tensor(v)}, driving, generator=torch.Generator().manual_seed(0))
    if mask is not None:
        mask = mask.detach().float().cpu()
        panels[f"{regularizer.type} mask (white = real)"] = mask
        panels["mixed image"] = mix_images(driving, prediction, mask)
    return panels


def save_training_visualization(path, batch: dict, generated: dict, mixing=None, regularizer=None,
                                max_rows: int = 4) -> None:
    """A grid: one row per sample, columns from :func:`training_panels`."""
    panels = training_panels(batch, generated, mixing, regularizer)
    rows = min(max_rows, batch["source"].shape[0])
    fig = Figure(figsize=(1.6 * len(panels), 1.6 * rows))
    axes = fig.subplots(rows, len(panels), squeeze=False)
    for column, (name, images) in enumerate(panels.items()):
        for row in range(rows):
            ax = axes[row, column]
            ax.imshow(to_image(images[row]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def read_log(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


LOG_FIELDS = {"step", "epoch", "seconds", "mixed", "empty_foreground"}


def plot_losses(log_path, out_path, smoothing: int = 20) -> None:
    """One panel per loss term against the step, raw (faint) and moving average."""
    rows = read_log(log_path)
    if not rows:
        return
    names = [k for k in rows[-1] if k not in LOG_FIELDS]
    names += [k for row in rows for k in row if k not in LOG_FIELDS and k not in names]
    names = list(dict.fromkeys(names))
    columns = min(4, len(names))
    lines = (len(names) + columns - 1) // columns
    fig = Figure(figsize=(3.2 * columns, 2.4 * lines))
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax, name in zip(axes.flat, names):
        points = [(r["step"], r[name]) for r in rows if name in r]
        steps, values = np.array(points).T
        ax.plot(steps, values, alpha=0.3, linewidth=0.8)
        if len(values) >= smoothing:
            kernel = np.ones(smoothing) / smoothing
            ax.plot(steps[smoothing - 1:], np.convolve(values, kernel, mode="valid"), linewidth=1.5)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
