"""Notebook 2, keypoints and dense motion: the region masks R_k (which keypoint's motion each
driving pixel follows) and the dense flow.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from pcutlib.models.warping import make_coordinate_grid
from pcutlib.teaching.drawing import draw_keypoints, to_numpy_image


def region_colours(region_mask: torch.Tensor) -> np.ndarray:
    """(K+1,h,w) softmax -> (h,w,3): each pixel in the colour of its most likely region (black = background)."""
    palette = np.concatenate([[[0.0, 0.0, 0.0]], _palette(region_mask.shape[0] - 1)])
    weights = region_mask.detach().float().cpu().numpy()                        # (K+1, h, w)
    return np.clip(np.einsum("khw,kc->hwc", weights, palette), 0, 1)


def _palette(count: int) -> np.ndarray:

    return np.array([colormaps["tab10"](k % 10)[:3] for k in range(count)])


def region_figure(source: torch.Tensor, driving: torch.Tensor, generated: dict, kp_source: dict,
                  kp_driving: dict, keypoint: int = 0) -> Figure:
    """Keypoint k's part of the dense motion: its warped source copy, its region mask, all regions.

    source, driving: (1,3,H,W); generated: the generator's output for them (batch 1);
    kp_*: keypoints (batch 1); keypoint: k in 0..K-1 (region k+1; region 0 is the background).
    """
    num_kp = kp_source["value"].shape[1]
    if not 0 <= keypoint < num_kp:
        raise ValueError(f"keypoint must be in 0..{num_kp - 1}, got {keypoint}")
    size = source.shape[-1]
    panels = [("source, p_k^S", source, kp_source), ("driving, p_k^D", driving, kp_driving),
              (f"source warped by T_{keypoint + 1}", generated["sparse_deformed"][0, keypoint + 1], None),
              (f"region mask R_{keypoint + 1}", generated["region_mask"][0, keypoint + 1], None),
              ("all regions (argmax colours)", None, None)]
    figure = Figure(figsize=(11, 2.5))
    axes = figure.subplots(1, len(panels))
    for ax, (name, image, kp) in zip(axes, panels):
        if image is None:
            ax.imshow(region_colours(generated["region_mask"][0]), interpolation="nearest")
        elif image.dim() == 2:
            ax.imshow(to_numpy_image(image), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(to_numpy_image(image), interpolation="nearest")
        if kp is not None:
            draw_keypoints(ax, kp["value"][0], size, highlight=keypoint)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def region_small_multiples(driving: torch.Tensor, generated: dict, kp_driving: dict, columns: int = 6) -> Figure:
    """The static twin of the region widget: every region mask R_k (k = 0 is the background)
    over the driving frame (1,3,H,W), where R_k(z) lives (T(z) = sum_k R_k(z) T_k(z) for driving
    pixels z), with the driving keypoint k-1 marked, and all regions in argmax colours."""
    region_mask = generated["region_mask"][0]                                            # (K+1, h, w)
    size = driving.shape[-1]
    panels = region_mask.shape[0] + 1
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(1.9 * columns, 2.0 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    upsampled = torch.nn.functional.interpolate(region_mask[None], size=(size, size), mode="bilinear",
                                                align_corners=False)[0]
    for k, ax in enumerate(axes.flat[:region_mask.shape[0]]):
        ax.imshow(to_numpy_image(driving) * 0.35, interpolation="nearest")
        ax.imshow(upsampled[k].numpy(), cmap="magma", vmin=0, vmax=1, alpha=0.75, interpolation="nearest")
        if k > 0:
            draw_keypoints(ax, kp_driving["value"][0], size, highlight=k - 1, labels=False)
        share = float((region_mask.argmax(0) == k).float().mean())
        ax.set_title(("R_0 background" if k == 0 else f"R_{k}: keypoint {k - 1}") + f"\nwins {100 * share:.0f}%",
                     fontsize=8)
    axes.flat[region_mask.shape[0]].imshow(region_colours(region_mask), interpolation="nearest")
    axes.flat[region_mask.shape[0]].set_title("all regions (argmax)", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    figure.tight_layout()
    return figure


def flow_figure(deformation: torch.Tensor, image: torch.Tensor | None = None, every: int = 2) -> Figure:
    """The dense backward flow T(z) - z (h,w,2) as arrows, over ``image`` (1,3,H,W) if given."""
    deformation = deformation.detach().float().cpu()
    height, width = deformation.shape[:2]
    displacement = (deformation - make_coordinate_grid(height, width)).numpy()           # (h, w, 2)
    figure = Figure(figsize=(3.2, 3.2))
    ax = figure.subplots()
    if image is not None:
        ax.imshow(to_numpy_image(image), extent=(-1, 1, 1, -1), interpolation="nearest")
    grid = make_coordinate_grid(height, width).numpy()
    ax.quiver(grid[::every, ::every, 0], grid[::every, ::every, 1], displacement[::every, ::every, 0],
              displacement[::every, ::every, 1], color="yellow", angles="xy", scale_units="xy", scale=1)
    ax.set_xlim(-1, 1)
    ax.set_ylim(1, -1)
    ax.set_title("T(z) - z: where each pixel samples from", fontsize=9)
    figure.tight_layout()
    return figure
