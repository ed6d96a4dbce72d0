"""Each body part's own coordinate frame, and the patterns painted in it.

A part frame is (origin x, origin y, angle, scale) in pixels: ``part_coordinates`` takes pixels
into it, ``part_to_pixels`` back. A pattern fixed in these coordinates moves with its part, so a
warp that follows the part carries it along (stripes, ``stripe_factor``; an isotropic grain,
``part_grain_factor``).
"""
from __future__ import annotations

import numpy as np

TEXTURE_PERIOD = 0.16  # stripe period in figure units (about 6 px for a 40 px figure)
TEXTURE_LOW = 0.78  # darkest stripe: value x 0.78 keeps chroma >= 142 x 0.78 > FIGURE_MIN_CHROMA
PART_GRAIN_PERIOD = 0.12  # wavelength of the part grain's waves in figure units (about 5 px for a 40 px figure)
PART_GRAIN_WAVES = 16  # plane waves summed into each part's grain


def part_coordinates(part_frames: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels -> each part's own coordinates. part_frames (...,P,4), points (...,P,N,2) -> (...,P,N,2)."""
    origin, angle, scale = part_frames[..., None, :2], part_frames[..., 2, None], part_frames[..., 3, None]
    d = points - origin
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]], -1) / scale[..., None]


def part_to_pixels(part_frames: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Inverse of ``part_coordinates``: (...,P,4), (...,P,N,2) -> pixels (...,P,N,2)."""
    origin, angle, scale = part_frames[..., None, :2], part_frames[..., 2, None], part_frames[..., 3, None]
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = local[..., 0] * scale, local[..., 1] * scale
    return np.stack([cos * x - sin * y, sin * x + cos * y], -1) + origin


def pixels_in_parts(part_frames: np.ndarray, size: int) -> np.ndarray:
    """Every pixel of an SxS frame in each part's own coordinates: (T,P,4) -> (T,P,S*S,2)."""
    frames, parts = part_frames.shape[:2]
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    pixels = np.broadcast_to(np.stack([x, y], -1).reshape(1, 1, -1, 2), (frames, parts, size * size, 2))
    return part_coordinates(part_frames, pixels)


def stripe_factor(part_frames: np.ndarray, size: int) -> np.ndarray:
    """(T,P,S,S) value factor in [TEXTURE_LOW, 1]: stripes across each part, fixed in its own
    coordinates (period TEXTURE_PERIOD figure units, a phase per part)."""
    frames, parts = part_frames.shape[:2]
    local = pixels_in_parts(part_frames, size)                                     # (T,P,S*S,2)
    phase = np.arange(parts)[None, :, None] * 1.7
    wave = np.cos(2 * np.pi * (local[..., 0] + 0.5 * local[..., 1]) / TEXTURE_PERIOD + phase)
    factor = 1.0 - (1.0 - TEXTURE_LOW) * (0.5 + 0.5 * wave)
    return factor.reshape(frames, parts, size, size).astype(np.float32)


def part_grain_factor(part_frames: np.ndarray, size: int) -> np.ndarray:
    """(T,P,S,S) value factor in (TEXTURE_LOW, 1): on each part a sum of PART_GRAIN_WAVES plane
    waves of random direction and phase (wavelength PART_GRAIN_PERIOD figure units, +-30%), squashed
    by tanh; fixed in the part's own coordinates and the same for every video (one pattern per part)."""
    frames, parts = part_frames.shape[:2]
    local = pixels_in_parts(part_frames, size)                                     # (T,P,S*S,2)
    rng = np.random.default_rng(2103)
    direction = rng.uniform(0, 2 * np.pi, (parts, PART_GRAIN_WAVES))
    frequency = rng.uniform(0.7, 1.3, (parts, PART_GRAIN_WAVES)) / PART_GRAIN_PERIOD
    phase = rng.uniform(0, 2 * np.pi, (parts, PART_GRAIN_WAVES))
    waves = np.stack([np.cos(direction), np.sin(direction)], -1) * frequency[..., None]  # (P,W,2)
    argument = 2 * np.pi * np.einsum("tpnc,pwc->tpnw", local, waves) + phase[None, :, None, :]
    grain = np.cos(argument).sum(-1) * np.sqrt(2.0 / PART_GRAIN_WAVES)              # about N(0, 1)
    factor = 1.0 - (1.0 - TEXTURE_LOW) * (0.5 + 0.5 * np.tanh(grain))
    return factor.reshape(frames, parts, size, size).astype(np.float32)
