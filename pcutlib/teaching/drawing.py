"""Drawing basics shared by the notebooks' figures: images as arrays, a grid of panels, keypoints,
mask outlines and legends. Every figure is a ``matplotlib.figure.Figure`` made without pyplot
(no global state, nothing piles up across slider moves); a notebook shows one by leaving it as
the last expression of a cell.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pcutlib.coordinates import keypoints_to_pixels
from pcutlib.training.visualize import to_image


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(3,H,W) / (1,3,H,W) in [0,1] -> (H,W,3) (``training.visualize.to_image``); a map (H,W),
    (1,H,W) or (1,1,H,W) -> (H,W), its values kept (for a colour map)."""
    image = image.detach().float().cpu()
    while image.dim() > 3:
        image = image[0]
    if image.dim() == 3 and image.shape[0] == 3:
        return to_image(image)
    return image.reshape(image.shape[-2:]).numpy()


def show_images(images: dict, columns: int | None = None, size: float = 2.2, title: str | None = None,
                cmap: str = "viridis", colorbar: bool | str = False, vmin=0.0, vmax=1.0,
                colorbar_label: str | None = None) -> Figure:
    """One panel per entry: name -> image (colour (3,H,W) or a map (H,W) shown with ``cmap``).

    All maps share one colour scale [vmin, vmax]. colorbar: False, True (one bar per map) or
    "shared" (one bar for all maps, which says that they share the scale).
    """
    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    shared = colorbar == "shared"
    figure = Figure(figsize=(size * columns + (0.6 if shared else 0), size * rows + (0.3 if title else 0)),
                    layout="constrained" if shared else None)
    axes = figure.subplots(rows, columns, squeeze=False)
    last_map = None
    for ax, (name, image) in zip(axes.flat, images.items()):
        array = to_numpy_image(image) if torch.is_tensor(image) else np.asarray(image)
        shown = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if array.ndim == 2:
            last_map = shown
            if colorbar is True:
                figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(images):]:
        ax.axis("off")
    if shared and last_map is not None:
        bar = figure.colorbar(last_map, ax=list(axes.flat), fraction=0.03, pad=0.02)
        if colorbar_label:
            bar.set_label(colorbar_label, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    if not shared:
        figure.tight_layout()
    return figure


def shared_vmax(*maps: torch.Tensor, quantile: float = 0.99) -> float:
    """One upper end for the colour scale of several maps: their joint ``quantile`` (so that a
    few extreme pixels do not turn everything else black), rounded up to 2 decimals."""
    values = torch.cat([m.detach().float().flatten().cpu() for m in maps])
    return max(0.01, math.ceil(round(float(torch.quantile(values, quantile)) * 100, 6)) / 100)


KEYPOINT_LABEL_SIZE = 9    # points: readable at the notebooks' panel sizes (6 pt was not)


def draw_keypoints(ax, points: torch.Tensor, size: int, highlight: int | None = None, labels: bool = True,
                   fontsize: float = KEYPOINT_LABEL_SIZE) -> None:
    """Mark (K,2) keypoints in [-1,1] on an image axis of side ``size``; ``highlight`` one in red.

    Labels are the keypoint indices in bold white with a black outline, readable on any colour.
    """
    outline = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    pixels = keypoints_to_pixels(points.detach().float().cpu().numpy(), size, size)      # (K,2)
    for k, (x, y) in enumerate(pixels):
        chosen = highlight is not None and k == highlight
        ax.scatter([x], [y], s=40 if chosen else 16, c="red" if chosen else "white",
                   edgecolors="black", linewidths=0.6, zorder=3)
        if labels:
            ax.annotate(str(k), (x, y), xytext=(3, -3), textcoords="offset points", fontsize=fontsize,
                        fontweight="bold", color="red" if chosen else "white", path_effects=outline, zorder=4)


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (what the widgets display)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def checkerboard(size: int = 64, squares: int = 8) -> torch.Tensor:
    """A (1,3,H,W) colour checkerboard with a red-green gradient: every warp shows on it."""
    coords = torch.arange(size, dtype=torch.float32)
    cells = ((coords[:, None] * squares // size) + (coords[None, :] * squares // size)) % 2    # (H, W)
    gradient = coords / (size - 1)
    red = 0.3 + 0.7 * gradient[None, :].expand(size, size) * (0.5 + 0.5 * cells)
    green = 0.3 + 0.7 * gradient[:, None].expand(size, size) * (0.5 + 0.5 * cells)
    blue = 0.2 + 0.6 * cells
    return torch.stack([red, green, blue])[None]


GENERATED_COLOUR = "white"        # outline of the generated pixels (M = 0) on mixed images


TRUTH_COLOUR = "#ff2bd6"          # fill of the true dis-occlusion


def outline(ax, region: torch.Tensor, colour: str = GENERATED_COLOUR, linewidth: float = 1.2) -> None:
    """Draw the border of a boolean (H,W) region (e.g. M == 0) on an image axis."""
    region = region.detach().float().cpu().numpy()
    if 0 < region.sum() < region.size:
        height, width = region.shape
        padded = np.pad(region, 1)                    # closes regions that touch the border
        for line_colour, line_width in (("black", linewidth + 1.4), (colour, linewidth)):   # readable on any colour
            ax.contour(np.arange(-1, width + 1), np.arange(-1, height + 1), padded, levels=[0.5],
                       colors=[line_colour], linewidths=line_width)
    ax.set_xlim(-0.5, region.shape[1] - 0.5)
    ax.set_ylim(region.shape[0] - 0.5, -0.5)


def _black_edge():

    return [patheffects.Stroke(linewidth=3.4, foreground="black"), patheffects.Normal()]


def mask_legend(ax, truth: bool = False) -> None:
    """The legend of mixed images: what the outline and the two sides of it are."""
    handles = [Line2D([], [], color=GENERATED_COLOUR, linewidth=2, label="inside: generated G (M = 0)",
                      path_effects=_black_edge()),
               Line2D([], [], color="none", label="outside: real x (M = 1)")]
    if truth:

        handles.append(Patch(facecolor=TRUTH_COLOUR, alpha=0.5, label="true dis-occlusion"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.02), fontsize=7, frameon=False,
              handlelength=1.2, borderaxespad=0)


def _map_panel(ax, image: torch.Tensor, title: str, cmap: str = "gray") -> None:
    ax.imshow(to_numpy_image(image), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
