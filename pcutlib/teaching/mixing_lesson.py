"""Notebooks 4 and 5, CutMix and PriorityCut: mixed images, the U-Net discriminator's per-pixel
maps, the PriorityCut mask beside the true dis-occlusion, and a toy case to count by hand.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from pcutlib.models.warping import make_coordinate_grid
from pcutlib.prioritycut import cutmix_mask, foreground_pixels, mix_images, prioritycut_mask
from pcutlib.teaching.drawing import TRUTH_COLOUR, _map_panel, mask_legend, outline, to_numpy_image

# A CutMix seed whose box is neither tiny nor inverted nor nearly the whole image: seed 9 draws
# lambda = 0.25 and no inversion, a box of 27% of a 64x64 image (seed 0 gives an inverted mask
# with 99% generated pixels, a poor first example). See ``cutmix_mask``.
DEFAULT_CUTMIX_SEED = 9


def discriminator_maps(unet, images: dict) -> dict:
    """D's per-pixel verdict sigmoid(pixel_logits) (H,W) for each named (1,3,H,W) image, titled with the
    encoder head's image verdict sigmoid(D_enc)."""
    maps = {}
    with torch.no_grad():
        for name, image in images.items():
            out = unet(image)
            maps[f"{name}: σ(D_enc)={torch.sigmoid(out['logit'])[0]:.2f}"] = torch.sigmoid(out["pixel_logits"])[0, 0]
    return maps


def toy_prioritycut_inputs(size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A small deterministic occlusion map (1,1,s,s) and region mask (1,2,s,s), no randomness.

    Occlusion O(z) = min(1, |z - c| / 2) grows with the distance from c = (0.4, -0.2): the most
    occluded pixels sit near c. The foreground is the disc |z| < 0.6: there the background
    region has probability 0.1, elsewhere 0.9.
    """
    grid = make_coordinate_grid(size, size)                                              # (s, s, 2)
    occlusion = ((grid - torch.tensor([0.4, -0.2])).norm(dim=-1) / 2).clamp(max=1)       # (s, s)
    background = torch.where(grid.norm(dim=-1) < 0.6, torch.tensor(0.1), torch.tensor(0.9))
    region_mask = torch.stack([background, 1 - background])                              # (2, s, s)
    return occlusion[None, None], region_mask[None]


def prioritycut_counts(occlusion_map: torch.Tensor, region_mask: torch.Tensor, top_k_percent: float,
                       foreground_threshold: float = 0.5) -> dict:
    """|F|, n = ceil(k|F|/100) and the pixels PriorityCut hands to the generator, for sample 0."""
    foreground = foreground_pixels(region_mask, foreground_threshold)[0]
    mask = prioritycut_mask(occlusion_map, region_mask, top_k_percent, foreground_threshold)[0, 0]
    return {"foreground": int(foreground.sum()), "n": math.ceil(int(foreground.sum()) * top_k_percent / 100),
            "generated_pixels": int((mask == 0).sum()), "pixels": mask.numel()}


def mixed_panel(ax, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor, title: str,
                truth: torch.Tensor | None = None) -> None:
    """The mixed image M * real + (1 - M) * fake with the generated pixels outlined.

    real, fake (1,3,H,W); mask (1,1,H,W); truth: an optional (H,W) bool region filled in translucent magenta.
    """
    ax.imshow(to_numpy_image(mix_images(real, fake, mask)[0]), interpolation="nearest")
    if truth is not None:                             # a translucent fill: the truth is ragged at 64 px

        overlay = np.zeros((*truth.shape, 4))
        overlay[truth.detach().cpu().numpy().astype(bool)] = to_rgba(TRUTH_COLOUR, 0.5)
        ax.imshow(overlay, interpolation="nearest")
    outline(ax, mask[0, 0] == 0)
    share = float((mask == 0).float().mean())
    ax.set_title(f"{title}\n{100 * share:.1f}% of pixels generated", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def prioritycut_figure(driving: torch.Tensor, prediction: torch.Tensor, occlusion_map: torch.Tensor,
                       region_mask: torch.Tensor, top_k_percent: float = 10.0, foreground_threshold: float = 0.5,
                       cutmix_seed: int = DEFAULT_CUTMIX_SEED, truth: torch.Tensor | None = None) -> Figure:
    """PriorityCut step by step beside CutMix, for one sample.

    driving, prediction: (1,3,H,W); occlusion_map: (1,1,h,w); region_mask: (1,K+1,h,w);
    truth: optional (H,W) bool true dis-occlusion, shown on the PriorityCut mix.
    Panels: occlusion map, foreground F, the PriorityCut mask (black = generated), the mixed
    image with the generated pixels outlined, a CutMix mask and its mixed image.
    """
    size = tuple(driving.shape[2:])
    foreground = foreground_pixels(region_mask, foreground_threshold)[0].float()
    mask = prioritycut_mask(occlusion_map, region_mask, top_k_percent, foreground_threshold, size=size)
    box = cutmix_mask(1, *size, generator=torch.Generator().manual_seed(int(cutmix_seed)))
    counts = prioritycut_counts(occlusion_map, region_mask, top_k_percent, foreground_threshold)
    figure = Figure(figsize=(12.0, 2.9))
    axes = figure.subplots(1, 6)
    _map_panel(axes[0], occlusion_map[0, 0], "occlusion map O\n(1 = visible)", cmap="magma")
    _map_panel(axes[1], foreground, f"foreground F\n|F| = {counts['foreground']} of {counts['pixels']}")
    _map_panel(axes[2], mask[0, 0], f"PriorityCut M (black: M = 0)\nn = {counts['n']} (k = {top_k_percent:g}%)")
    mixed_panel(axes[3], driving, prediction, mask, "PriorityCut mix", truth)
    _map_panel(axes[4], box[0, 0], f"CutMix M, seed {int(cutmix_seed)}\n(black: M = 0)")
    mixed_panel(axes[5], driving, prediction, box, "CutMix mix")
    mask_legend(axes[3], truth=truth is not None)
    figure.tight_layout()
    return figure


def prioritycut_small_multiples(driving: torch.Tensor, prediction: torch.Tensor, occlusion_map: torch.Tensor,
                                region_mask: torch.Tensor, top_k_percents=(5, 10, 30, 100),
                                foreground_threshold: float = 0.5, truth: torch.Tensor | None = None) -> Figure:
    """The static twin of the PriorityCut widget: masks (top) and mixed images (bottom) for a few k."""
    size = tuple(driving.shape[2:])
    figure = Figure(figsize=(2.3 * len(top_k_percents), 5.6))
    axes = figure.subplots(2, len(top_k_percents), squeeze=False)
    for column, k in enumerate(top_k_percents):
        mask = prioritycut_mask(occlusion_map, region_mask, k, foreground_threshold, size=size)
        counts = prioritycut_counts(occlusion_map, region_mask, k, foreground_threshold)
        _map_panel(axes[0, column], mask[0, 0], f"M, k = {k:g}%: n = {counts['n']}")
        mixed_panel(axes[1, column], driving, prediction, mask, f"mix, k = {k:g}%", truth)
    mask_legend(axes[1, 0], truth=truth is not None)
    figure.tight_layout()
    return figure


def cutmix_figure(real: torch.Tensor, fake: torch.Tensor, seeds=(0, 1, 2, 3)) -> Figure:
    """CutMix masks for a few seeds (top) and the mixed images with the box outlined (bottom);
    real, fake (1,3,H,W)."""
    size = tuple(real.shape[2:])
    figure = Figure(figsize=(2.3 * len(seeds), 5.6))
    axes = figure.subplots(2, len(seeds), squeeze=False)
    for column, seed in enumerate(seeds):
        mask = cutmix_mask(1, *size, generator=torch.Generator().manual_seed(int(seed)))
        _map_panel(axes[0, column], mask[0, 0], f"M, seed {seed} (black: M = 0)")
        mixed_panel(axes[1, column], real, fake, mask, f"mix, seed {seed}")
    mask_legend(axes[1, 0])
    figure.tight_layout()
    return figure
