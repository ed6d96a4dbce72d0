"""Notebook 1, warping: one local affine motion and its Jacobian, a grid of affine cases, and the
random thin-plate spline of the equivariance loss.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure

from pcutlib.coordinates import keypoints_to_pixels
from pcutlib.models.warping import RandomTPS, deform, local_affine_motions, make_coordinate_grid
from pcutlib.teaching.drawing import draw_keypoints, to_numpy_image


def affine_jacobian(rotation_degrees: float = 0.0, scale: float = 1.0, j11: float = 1.0, j12: float = 0.0,
                    j21: float = 0.0, j22: float = 1.0) -> torch.Tensor:
    """J = scale * R(rotation) @ [[j11, j12], [j21, j22]] as a (2,2) tensor."""
    angle = math.radians(rotation_degrees)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return scale * rotation @ torch.tensor([[j11, j12], [j21, j22]], dtype=torch.float32)


def local_affine_warp(image: torch.Tensor, source_point, driving_point, jacobian: torch.Tensor) -> tuple:
    """Warp ``image`` (1,C,H,W) by one keypoint's motion T(z) = p^S + J (z - p^D).

    source_point, driving_point: (x, y) in [-1,1]; jacobian: (2,2), the source jacobian
    (the driving one is the identity). Returns (warped (1,C,H,W), grid T (H,W,2)).
    """
    height, width = image.shape[2:]
    kp_source = {"value": torch.tensor([[source_point]], dtype=torch.float32),       # (1,1,2)
                 "jacobian": jacobian.reshape(1, 1, 2, 2).float()}
    kp_driving = {"value": torch.tensor([[driving_point]], dtype=torch.float32),
                  "jacobian": torch.eye(2).reshape(1, 1, 2, 2)}
    motions = local_affine_motions(kp_source, kp_driving, height, width)               # (1, 2, H, W, 2)
    grid = motions[:, 1]                                                                # the keypoint's T
    return deform(image, grid), grid[0]


def _draw_grid_lines(ax, grid: np.ndarray, size: int, every: int = 8, color: str = "white") -> None:
    """Draw the lines of a sampling grid (H,W,2) in [-1,1] in pixel units of an image of side size."""
    pixels = keypoints_to_pixels(grid, size, size)
    for i in range(0, grid.shape[0], every):
        ax.plot(pixels[i, :, 0], pixels[i, :, 1], color=color, linewidth=0.6)
    for j in range(0, grid.shape[1], every):
        ax.plot(pixels[:, j, 0], pixels[:, j, 1], color=color, linewidth=0.6)


def affine_warp_figure(image: torch.Tensor, driving_x: float = 0.0, driving_y: float = 0.0,
                       rotation: float = 0.0, scale: float = 1.0, j11: float = 1.0, j12: float = 0.0,
                       j21: float = 0.0, j22: float = 1.0, source_point=(0.0, 0.0)) -> Figure:
    """Source with p^S and where the driving frame samples it; the warped frame with p^D."""
    jacobian = affine_jacobian(rotation, scale, j11, j12, j21, j22)
    warped, grid = local_affine_warp(image, source_point, (driving_x, driving_y), jacobian)
    size = image.shape[-1]
    figure = Figure(figsize=(7.5, 2.8))
    left, middle, right = figure.subplots(1, 3)
    left.imshow(to_numpy_image(image), interpolation="nearest")
    _draw_grid_lines(left, grid.numpy(), size)
    draw_keypoints(left, torch.tensor([source_point]), size, highlight=0, labels=False)
    left.set_title("source: where T(z) samples", fontsize=9)
    middle.imshow(to_numpy_image(warped), interpolation="nearest")
    draw_keypoints(middle, torch.tensor([[driving_x, driving_y]]), size, highlight=0, labels=False)
    middle.set_title("warped: source at T(z)", fontsize=9)
    right.axis("off")
    j = jacobian.numpy()
    right.text(0.0, 0.5, f"T(z) = p_S + J (z - p_D)\n\np_S = ({source_point[0]:.2f}, {source_point[1]:.2f})\n"
               f"p_D = ({driving_x:.2f}, {driving_y:.2f})\n\nJ = [[{j[0, 0]:+.2f}, {j[0, 1]:+.2f}],\n"
               f"     [{j[1, 0]:+.2f}, {j[1, 1]:+.2f}]]\ndet J = {np.linalg.det(j):+.2f}",
               family="monospace", fontsize=9, va="center")
    _frame_axes((left, middle), size)
    figure.tight_layout()
    return figure


AFFINE_CASES = (  # (title, p^D, rotation, scale, (J11, J12, J21, J22)); p^S = (0, 0)
    ("J = I, p^D = (0.3, 0.2)", (0.3, 0.2), 0.0, 1.0, (1, 0, 0, 1)),
    ("rotation 30 deg", (0.0, 0.0), 30.0, 1.0, (1, 0, 0, 1)),
    ("scale 1.5", (0.0, 0.0), 0.0, 1.5, (1, 0, 0, 1)),
    ("shear J12 = 0.5", (0.0, 0.0), 0.0, 1.0, (1, 0.5, 0, 1)),
    ("mirror J11 = -1 (det < 0)", (0.0, 0.0), 0.0, 1.0, (-1, 0, 0, 1)),
    ("det J = 0 (J21 = J22 = 0)", (0.0, 0.0), 0.0, 1.0, (1, 0, 0, 0)),
)


def affine_small_multiples(image: torch.Tensor, cases=AFFINE_CASES) -> Figure:
    """The static twin of the affine widget: the source warped by T(z) = p^S + J (z - p^D) for a
    few jacobians (top: where T samples the source; bottom: the warped frame with p^D)."""
    size = image.shape[-1]
    figure = Figure(figsize=(2.0 * len(cases), 4.3))
    axes = figure.subplots(2, len(cases), squeeze=False)
    for column, (title, driving_point, rotation, scale, entries) in enumerate(cases):
        jacobian = affine_jacobian(rotation, scale, *entries)
        warped, grid = local_affine_warp(image, (0.0, 0.0), driving_point, jacobian)
        axes[0, column].imshow(to_numpy_image(image), interpolation="nearest")
        _draw_grid_lines(axes[0, column], grid.numpy(), size)
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(to_numpy_image(warped), interpolation="nearest")
        draw_keypoints(axes[1, column], torch.tensor([driving_point]), size, highlight=0, labels=False)
        axes[1, column].set_title(f"det J = {float(torch.det(jacobian)):+.2f}", fontsize=8)
        _frame_axes(axes[:, column], size)
    axes[0, 0].set_ylabel("source, grid T(z)", fontsize=8)
    axes[1, 0].set_ylabel("warped", fontsize=8)
    figure.tight_layout()
    return figure


def _frame_axes(axes, size: int) -> None:
    """Show exactly the size x size pixel area, image orientation, no ticks."""
    for ax in axes:
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])


def tps_figure(image: torch.Tensor, sigma_affine: float = 0.05, sigma_tps: float = 0.005,
               points_tps: int = 5, seed: int = 0) -> Figure:
    """A random affine + thin-plate-spline warp (the equivariance losses' T): image, grid, warped."""
    generator = torch.Generator().manual_seed(int(seed))
    tps = RandomTPS.random(1, sigma_affine, sigma_tps, int(points_tps), generator=generator)
    size = image.shape[-1]
    grid = make_coordinate_grid(size, size).reshape(1, -1, 2)
    warped_grid = tps.warp_coordinates(grid).reshape(size, size, 2)
    figure = Figure(figsize=(6.6, 2.4))
    axes = figure.subplots(1, 3)
    axes[0].imshow(to_numpy_image(image), interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(to_numpy_image(image), interpolation="nearest", alpha=0.5)
    _draw_grid_lines(axes[1], warped_grid.numpy(), size, color="black")
    control = keypoints_to_pixels(tps.control_points.reshape(-1, 2).detach().float().cpu().numpy(), size, size)
    axes[1].scatter(control[:, 0], control[:, 1], s=8, c="red", zorder=3)
    axes[1].set_title("T(z) on a grid (red: control points)", fontsize=9)
    axes[2].imshow(to_numpy_image(tps.transform_frame(image)), interpolation="nearest")
    axes[2].set_title("image sampled at T(z)", fontsize=9)
    _frame_axes(axes, size)
    figure.tight_layout()
    return figure
