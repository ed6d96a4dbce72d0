"""The one conversion between keypoint coordinates and pixel positions.

Keypoints live in [-1, 1], x first (as ``grid_sample(..., align_corners=True)`` reads them):
pixel i of N sits at 2i/(N-1) - 1. Every module converts through these two functions, never by
hand; they take numpy arrays or torch tensors of shape (..., 2).
"""
from __future__ import annotations

import numpy as np
import torch


def _pixel_span(points, height: int, width: int):
    """(W - 1, H - 1): the pixel distance from -1 to 1 along x and y, as the points' type
    (numpy array or torch tensor) and float dtype (float64 / float32 for integer points)."""
    if height < 2 or width < 2:
        raise ValueError(f"converting coordinates to pixels needs at least 2 pixels per side, "
                         f"got {height}x{width} (H x W)")
    if torch.is_tensor(points):
        dtype = points.dtype if points.is_floating_point() else torch.float32
        return torch.tensor([width - 1, height - 1], dtype=dtype, device=points.device)
    dtype = points.dtype if np.issubdtype(points.dtype, np.floating) else np.float64
    return np.array([width - 1, height - 1], dtype=dtype)


def keypoints_to_pixels(points, height: int, width: int):
    """(...,2) coordinates in [-1,1], x first -> (...,2) pixel positions, x first:
        x_px = (x + 1)(W - 1)/2,   y_px = (y + 1)(H - 1)/2,
    so -1 and 1 are the centres of the first and last pixels (pixel i of N sits at
    2i/(N-1) - 1, as in ``warping.make_coordinate_grid``; grid_sample's align_corners=True).

    points: numpy array (or array-like) or torch tensor; returns the same kind, in its float dtype.
    """
    points = points if torch.is_tensor(points) else np.asarray(points)
    return (points + 1) * _pixel_span(points, height, width) / 2


def pixels_to_keypoints(pixels, height: int, width: int):
    """(...,2) pixel positions, x first -> (...,2) coordinates in [-1,1]: x = 2 x_px/(W - 1) - 1,
    y = 2 y_px/(H - 1) - 1 (the inverse of ``keypoints_to_pixels``; same kinds and dtypes)."""
    pixels = pixels if torch.is_tensor(pixels) else np.asarray(pixels)
    return 2 * pixels / _pixel_span(pixels, height, width) - 1
