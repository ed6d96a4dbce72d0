"""FOMM's clip augmentation (`dataset_params.augmentation_params`): flips, resize, crop and
colour jitter of a clip (T,H,W,3) float32 in [0,1], with its keypoints (T,J,2) in [-1,1]
(x first), when given, moved with the pixels.

Each transform draws from the numpy generator it is given (one per training item, see
`pcutlib.data.datasets.item_rng`). Difference from FOMM's `augmentation.py`, on purpose: the
horizontal and time flips are drawn independently (FOMM skips the horizontal flip whenever
it flips time).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from pcutlib.coordinates import keypoints_to_pixels, pixels_to_keypoints
from pcutlib.data.video_io import resize_frames


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """(...,3) RGB in [0,1] -> (...,3) HSV in [0,1] (hue as a fraction of a turn)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(-1)
    chroma = value - rgb.min(-1)
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(value == r, (g - b) / safe,
                   np.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = np.where(chroma > 0, (hue / 6.0) % 1.0, 0.0)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1.0), 0.0)
    return np.stack([hue, saturation, value], -1).astype(rgb.dtype)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """(...,3) HSV in [0,1] -> (...,3) RGB in [0,1]."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # Each channel n in (5, 3, 1): v - v*s*clip(min(k, 4-k), 0, 1) with k = (n + 6h) mod 6.
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + 6.0 * h) % 6.0
        channels.append(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(channels, -1).astype(hsv.dtype)


def _grayscale(rgb: np.ndarray) -> np.ndarray:
    """(...,3) -> (...,1) luma (ITU-R 601 weights, as torchvision uses)."""
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=rgb.dtype))[..., None]


class ColorJitter:
    """Random brightness, contrast, saturation and hue, the same for every frame of a clip.

    Factors as in torchvision's ColorJitter: brightness/contrast/saturation factor drawn
    from [max(0, 1-x), 1+x], hue shift from [-hue, hue] (a fraction of a turn, <= 0.5);
    the four operations run in a random order. Each operation ends by clamping to [0,1],
    as torchvision's adjust_* functions define them.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0,
                 saturation: float = 0.0, hue: float = 0.0):
        for name, value in dict(brightness=brightness, contrast=contrast,
                                saturation=saturation, hue=hue).items():
            if value < 0:
                raise ValueError(f"jitter_param.{name} must be >= 0, got {value}")
        if hue > 0.5:
            raise ValueError(f"jitter_param.hue must be <= 0.5, got {hue}")
        self.brightness, self.contrast = brightness, contrast
        self.saturation, self.hue = saturation, hue

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(T,H,W,3) in [0,1] -> (T,H,W,3) in [0,1]."""
        operations = []
        if self.brightness > 0:
            f = rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness)
            operations.append(lambda x, f=f: x * f)
        if self.contrast > 0:
            f = rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast)
            # Blend with the mean gray level of each frame.
            operations.append(lambda x, f=f: (x - _grayscale(x).mean((1, 2, 3), keepdims=True)) * f
                              + _grayscale(x).mean((1, 2, 3), keepdims=True))
        if self.saturation > 0:
            f = rng.uniform(max(0.0, 1 - self.saturation), 1 + self.saturation)
            operations.append(lambda x, f=f: (x - _grayscale(x)) * f + _grayscale(x))
        if self.hue > 0:
            shift = rng.uniform(-self.hue, self.hue)
            operations.append(lambda x, s=shift: _shift_hue(x, s))
        for index in rng.permutation(len(operations)):
            clip = np.clip(operations[index](clip), 0.0, 1.0).astype(np.float32)
        return clip


def _shift_hue(rgb: np.ndarray, shift: float) -> np.ndarray:
    hsv = rgb_to_hsv(rgb)
    hsv[..., 0] = (hsv[..., 0] + shift) % 1.0
    return hsv_to_rgb(hsv)


class RandomFlip:
    """Flip a clip left-right and/or reverse it in time, each with probability 0.5.

    Keypoints (T,J,2), x first, follow: a horizontal flip negates x, a time flip reverses T.
    """

    def __init__(self, horizontal_flip: bool = False, time_flip: bool = False):
        self.horizontal_flip, self.time_flip = bool(horizontal_flip), bool(time_flip)

    def __call__(self, clip: np.ndarray, keypoints: np.ndarray | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """clip (T,H,W,3), keypoints (T,J,2) or None -> the same shapes."""
        if self.time_flip and rng.random() < 0.5:
            clip = clip[::-1]
            keypoints = None if keypoints is None else keypoints[::-1]
        if self.horizontal_flip and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
            keypoints = None if keypoints is None else keypoints * np.array([-1.0, 1.0], np.float32)
        return np.ascontiguousarray(clip), (None if keypoints is None
                                            else np.ascontiguousarray(keypoints))


class RandomResize:
    """Rescale a clip by a factor drawn from `ratio` (low, high); None does nothing."""

    def __init__(self, ratio: Sequence[float] | None = None):
        if ratio is not None and (len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]):
            raise ValueError(f"resize_param.ratio must be (low, high) with 0 < low <= high, got {ratio}")
        self.ratio = ratio

    def __call__(self, clip: np.ndarray, keypoints: np.ndarray | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """clip (T,H,W,3) -> (T,h,w,3), keypoints (T,J,2) moved with the pixels."""
        if self.ratio is None:
            return clip, keypoints
        height, width = clip.shape[1:3]
        factor = rng.uniform(*self.ratio)
        size = (max(2, int(height * factor)), max(2, int(width * factor)))
        resized = resize_frames(clip, size)
        if keypoints is not None:
            # interpolate (align_corners=False) maps pixel p to (p + 0.5) * new / old - 0.5
            scale = np.array([size[1] / width, size[0] / height], np.float32)
            pixels = (keypoints_to_pixels(keypoints, height, width) + 0.5) * scale - 0.5
            keypoints = pixels_to_keypoints(pixels, *size).astype(np.float32)
        return resized, keypoints


class RandomCrop:
    """Crop a clip to `size` (h, w) at a random place, edge-padding it first if smaller."""

    def __init__(self, size: Sequence[int] | int | None = None):
        if isinstance(size, int):
            size = (size, size)
        if size is not None and (len(size) != 2 or min(size) < 2):
            raise ValueError(f"crop_param.size must be (h, w) with h, w >= 2, got {size}")
        self.size = None if size is None else tuple(int(v) for v in size)

    def __call__(self, clip: np.ndarray, keypoints: np.ndarray | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """clip (T,H,W,3) -> (T,h,w,3), keypoints (T,J,2) moved with the pixels."""
        if self.size is None:
            return clip, keypoints
        (h, w), (height, width) = self.size, clip.shape[1:3]
        pad_y, pad_x = max(0, h - height), max(0, w - width)
        clip = np.pad(clip, ((0, 0), (pad_y // 2, pad_y - pad_y // 2),
                             (pad_x // 2, pad_x - pad_x // 2), (0, 0)), mode="edge")
        top = int(rng.integers(clip.shape[1] - h + 1))
        left = int(rng.integers(clip.shape[2] - w + 1))
        if keypoints is not None:
            shift = np.array([pad_x // 2 - left, pad_y // 2 - top], np.float32)
            pixels = keypoints_to_pixels(keypoints, height, width) + shift
            keypoints = pixels_to_keypoints(pixels, h, w).astype(np.float32)
        return np.ascontiguousarray(clip[:, top:top + h, left:left + w]), keypoints


# FOMM's order: flip, (rotation), resize, crop, jitter.
_AUGMENTATION_OPTIONS = {"flip_param": RandomFlip, "resize_param": RandomResize,
                         "crop_param": RandomCrop, "jitter_param": ColorJitter}
_FOMM_UNSUPPORTED = ("rotation_param",)


class VideoAugmentation:
    """FOMM's `augmentation_params` (flip_param, resize_param, crop_param, jitter_param).

    FOMM's rotation_param (no config of FOMM uses it) is not implemented and raises, as
    does any unknown key. Keypoints (T,J,2), when given, move with the pixels.
    """

    def __init__(self, **augmentation_params: Mapping[str, Any] | None):
        unsupported = [k for k in augmentation_params if k in _FOMM_UNSUPPORTED]
        unknown = [k for k in augmentation_params
                   if k not in _AUGMENTATION_OPTIONS and k not in _FOMM_UNSUPPORTED]
        if unknown or unsupported:
            raise ValueError(f"augmentation_params: unknown keys {unknown}, unsupported FOMM "
                             f"keys {unsupported}; known: {list(_AUGMENTATION_OPTIONS)}")
        self.transforms = []
        for key, cls in _AUGMENTATION_OPTIONS.items():
            params = augmentation_params.get(key)
            if params is None:
                continue
            try:
                self.transforms.append(cls(**params))
            except TypeError as error:
                raise ValueError(f"augmentation_params.{key}: {error}") from error

    def __call__(self, clip: np.ndarray, keypoints: np.ndarray | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """clip (T,H,W,C) in [0,1], keypoints (T,J,2) or None -> clip (T,h,w,C), keypoints. Channels
        beyond the first 3 (a label such as the true dis-occlusion) move with the pixels and are not
        colour-jittered."""
        for transform in self.transforms:
            if isinstance(transform, ColorJitter):              # colour only: extra channels are labels
                clip = np.concatenate([transform(clip[..., :3], rng), clip[..., 3:]], axis=-1)
            else:
                clip, keypoints = transform(clip, keypoints, rng)
        return clip, keypoints
