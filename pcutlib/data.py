"""FOMM-layout video datasets: reading videos, training pairs, whole test videos,
the repeater, animation pairs and clip augmentation.

A dataset root holds `train/` and `test/` (or, without them, all videos, split 80/20 by
a seeded shuffle). A video is a folder of frames (sorted by name), an `.mp4`/`.gif`/`.mov`
file, or one horizontally stacked `.png`/`.jpg`. Ground-truth keypoints of a video `X`
live beside it (see `keypoints_path`). Frames are float32 in [0,1].

Differences from FOMM's `frames_dataset.py`, on purpose:
- training frames are two *distinct* indices (FOMM draws two with replacement, so a pair
  may be the same frame), sorted;
- the horizontal and time flips are drawn independently (FOMM skips the horizontal flip
  whenever it flips time);
- each item's randomness (frames, augmentation) comes from its own numpy generator: seeded
  from (item_seed, epoch, repeat, index) when the trainer sets ``item_seed``, so two runs
  with one seed see the same items whatever else they draw; else from torch's global RNG,
  so DataLoader workers differ and `torch.manual_seed` reproduces a run (FOMM's global
  numpy state is copied into every worker);
- every video is inspected when the dataset is built (``inspect_video``) and all bad files
  are reported at once, naming them; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import imageio.v3 as iio
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

VIDEO_FILE_EXTENSIONS = (".mp4", ".gif", ".mov")
STACKED_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
KEYPOINTS_SUFFIX = ".keypoints.npy"
TRUTH_SUFFIX = ".truth.npz"       # synthetic ground truth beside a video (pcutlib.synthetic)
TEST_FRACTION = 0.2  # FOMM's random split: train_test_split(test_size=0.2)


# ----------------------------------------------------------------------------- paths

def keypoints_path(video_path: str | Path, suffix: str = KEYPOINTS_SUFFIX) -> Path:
    """Where the ground-truth keypoints (or, with suffix=TRUTH_SUFFIX, the synthetic ground
    truth) of a video are written.

    `dir/abc.png` -> `dir/abc.keypoints.npy` (stem of a file); `dir/abc/` (a folder of
    frames) -> `dir/abc.keypoints.npy`. Readers also accept `dir/abc.png.keypoints.npy`.
    """
    path = Path(video_path)
    name = path.name if path.is_dir() or not path.suffix else path.stem
    return path.with_name(name + suffix)


def find_keypoints(video_path: str | Path) -> Path | None:
    """The existing keypoints file of a video, or None (see `keypoints_path`)."""
    path = Path(video_path)
    for candidate in (keypoints_path(path), path.with_name(path.name + KEYPOINTS_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def _is_listed(path: Path) -> bool:
    """Entries of a dataset folder that are videos: not hidden, not keypoints or truth files."""
    return not path.name.startswith(".") and not path.name.endswith((KEYPOINTS_SUFFIX, TRUTH_SUFFIX))


def list_videos(folder: str | Path) -> list[Path]:
    """Video entries of a folder, sorted by name (hidden files and keypoints excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {str(folder)!r} does not exist")
    return sorted(p for p in folder.iterdir() if _is_listed(p))


def _frame_files(folder: Path) -> list[Path]:
    """Frame images of a video folder, sorted by name; other files are an error."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    others = [p.name for p in entries if p.suffix.lower() not in FRAME_EXTENSIONS]
    if others:
        raise ValueError(f"video folder {str(folder)!r} holds files that are not frames "
                         f"{FRAME_EXTENSIONS}: {others[:5]}")
    return entries


def check_video_entry(path: str | Path) -> str | None:
    """Quick check without decoding: the reason `path` is not a usable video, or None."""
    path = Path(path)
    if not path.exists():
        return "does not exist"
    if path.is_dir():
        try:
            frames = _frame_files(path)
        except ValueError as error:
            return str(error)
        if len(frames) < 2:
            return f"folder holds {len(frames)} frame(s), a video needs at least 2"
        return None
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FILE_EXTENSIONS + STACKED_IMAGE_EXTENSIONS:
        return (f"unsupported extension {suffix!r} (expected a folder of frames or one of "
                f"{VIDEO_FILE_EXTENSIONS + STACKED_IMAGE_EXTENSIONS})")
    if path.stat().st_size == 0:
        return "file is empty (0 bytes)"
    return None


def inspect_video(path: str | Path, frame_shape: Sequence[int] | None = None) -> str | None:
    """A cheap deep check when a dataset is built: the reason `path` cannot be trained on, or None.

    Beyond ``check_video_entry``: a frame folder's frames all have one size (headers) and its
    first and last frames decode; a stacked image decodes and splits into >= 2 frames; a
    video file's first frame decodes; a keypoint file beside it loads with one row per frame.
    """
    from PIL import Image

    path = Path(path)
    reason = check_video_entry(path)
    if reason is not None:
        return reason
    try:
        if path.is_dir():
            files = _frame_files(path)
            sizes = {}
            for file in files:
                with Image.open(file) as image:
                    sizes.setdefault(image.size, file.name)
            if len(sizes) > 1:
                return f"frames differ in size: {', '.join(f'{n} is {w}x{h}' for (w, h), n in sizes.items())}"
            _read_frame_folder(path, [0, len(files) - 1])
            num_frames = len(files)
        elif path.suffix.lower() in STACKED_IMAGE_EXTENSIONS:
            frames = _split_stacked_image(_imread(path), path, _check_frame_shape(frame_shape))
            if len(frames) < 2:
                return f"holds {len(frames)} frame(s), a video needs at least 2"
            num_frames = len(frames)
        else:
            _imread(path, index=0)
            num_frames = None
        if num_frames is not None:
            load_keypoints(path, num_frames)
        elif find_keypoints(path) is not None:
            np.load(find_keypoints(path), allow_pickle=False)
    except (ValueError, OSError) as error:
        return str(error).replace(f"{str(path)!r}: ", "").replace(f"video {str(path)!r} ", "")
    return None


# ----------------------------------------------------------------------------- reading

def _to_float_rgb(image: np.ndarray, path: Path, sequence: bool = False) -> np.ndarray:
    """(H,W[,C]) image, or (T,H,W[,C]) when `sequence` -> (...,H,W,3) float32 in [0,1]."""
    if np.issubdtype(image.dtype, np.integer):
        image = image.astype(np.float32) / np.iinfo(image.dtype).max
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if image.size and (image.min() < 0 or image.max() > 1):
            raise ValueError(f"{str(path)!r}: float pixels outside [0,1] "
                             f"({image.min():.3g}..{image.max():.3g})")
    else:
        raise ValueError(f"{str(path)!r}: unsupported pixel type {image.dtype}")
    spatial_ndim = 3 if sequence else 2
    if image.ndim == spatial_ndim:
        image = image[..., None]  # no channel axis: grayscale
    if image.ndim != spatial_ndim + 1 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{str(path)!r}: cannot interpret pixel array of shape {image.shape}")
    if image.shape[-1] <= 2:
        return np.repeat(image[..., :1], 3, axis=-1)  # gray (+ alpha) -> RGB
    return np.ascontiguousarray(image[..., :3])  # RGBA -> RGB: alpha dropped


def _plugin_for(path: Path) -> str:
    """imageio plugin by extension: no guessing through every backend (clearer errors)."""
    return "FFMPEG" if path.suffix.lower() in (".mp4", ".mov") else "pillow"


def _imread(path: Path, **kwargs) -> np.ndarray:
    """imageio read whose errors name the file."""
    try:
        return np.asarray(iio.imread(path, plugin=_plugin_for(path), **kwargs))
    except Exception as error:  # imageio raises OSError, ValueError, RuntimeError, ...
        message = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(f"cannot read {str(path)!r} (unreadable or corrupt): "
                         f"{type(error).__name__}: {message}") from error


def _read_frame_folder(folder: Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Folder of frames -> (T,H,W,3); only `indices` (into the sorted names) when given."""
    files = _frame_files(folder)
    if not files:
        raise ValueError(f"video folder {str(folder)!r} is empty (no frames)")
    if indices is not None:
        files = [files[i] for i in indices]
    frames = [_to_float_rgb(_imread(f), f) for f in files]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"frames of {str(folder)!r} differ in size: {sorted(shapes)}")
    return np.stack(frames)


def _split_stacked_image(image: np.ndarray, path: Path,
                         frame_shape: Sequence[int] | None) -> np.ndarray:
    """(H, T*W[, C]) image -> (T,H,W,C); W = H unless frame_shape gives another aspect."""
    if image.ndim == 2:
        image = image[..., None]
    height, width, channels = image.shape
    frame_width = height if frame_shape is None else round(height * frame_shape[1] / frame_shape[0])
    if frame_width == 0 or width % frame_width:
        raise ValueError(f"{str(path)!r}: width {width} is not a multiple of the frame width "
                         f"{frame_width} (height {height}, frame_shape {frame_shape})")
    # (H, T*W, C) -> (H, T, W, C) -> (T, H, W, C)
    return image.reshape(height, width // frame_width, frame_width, channels).transpose(1, 0, 2, 3)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T,H,W,3) -> (T,h,w,3) by bilinear interpolation, anti-aliased when shrinking."""
    if frames.shape[1:3] == tuple(size):
        return frames
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T,3,H,W)
    video = F.interpolate(video, size=tuple(size), mode="bilinear", align_corners=False,
                          antialias=True)
    # Bilinear weights are convex, so only float rounding can leave [0,1].
    return video.clamp_(0.0, 1.0).permute(0, 2, 3, 1).contiguous().numpy()


def _check_frame_shape(frame_shape: Sequence[int] | None) -> tuple[int, int, int] | None:
    if frame_shape is None:
        return None
    shape = tuple(int(s) for s in frame_shape)
    if len(shape) != 3 or shape[2] != 3 or min(shape) < 1:
        raise ValueError(f"frame_shape must be (H, W, 3), got {tuple(frame_shape)}")
    return shape


def _decode(path: Path, frame_shape: tuple[int, int, int] | None) -> np.ndarray:
    """A checked video path -> its frames as stored, (T,H,W[,C]) uint8/uint16/float."""
    reason = check_video_entry(path)
    if reason == "does not exist":
        raise FileNotFoundError(f"video {str(path)!r} does not exist")
    if reason is not None:
        raise ValueError(f"video {str(path)!r}: {reason}")
    if path.suffix.lower() in STACKED_IMAGE_EXTENSIONS and path.is_file():
        frames = _split_stacked_image(_imread(path), path, frame_shape)
    else:
        frames = _imread(path, index=None)
    if len(frames) < 2:
        raise ValueError(f"video {str(path)!r} has {len(frames)} frame(s), at least 2 are needed")
    return frames


def read_video(path: str | Path, frame_shape: Sequence[int] | None = None) -> np.ndarray:
    """Read a video as (T,H,W,3) float32 in [0,1], resized to frame_shape (H,W,3) if given.

    `path` is a folder of frames (sorted by name), an .mp4/.gif/.mov file, or a
    horizontally stacked .png/.jpg. Errors name the file.
    """
    path = Path(path)
    frame_shape = _check_frame_shape(frame_shape)
    if path.is_dir():
        reason = check_video_entry(path)
        if reason is not None:
            raise ValueError(f"video {str(path)!r}: {reason}")
        frames = _read_frame_folder(path)
    else:
        frames = _to_float_rgb(_decode(path, frame_shape), path, sequence=True)
    if frame_shape is not None:
        frames = resize_frames(frames, frame_shape[:2])
    return frames


def read_source_image(path: str | Path, frame_shape: Sequence[int]) -> np.ndarray:
    """The source of an animation: one image (.png/.jpg of any size, never split into frames)
    or a video's first frame, as (H,W,3) float32 in [0,1] of frame_shape. A resize, and
    dropping an alpha channel, are reported on stderr."""
    import sys

    path = Path(path)
    frame_shape = _check_frame_shape(frame_shape)
    if path.is_file() and path.suffix.lower() in STACKED_IMAGE_EXTENSIONS:
        raw = _imread(path)
        image = _to_float_rgb(raw, path)
        if raw.ndim == 3 and raw.shape[-1] == 4:
            print(f"note: {path.name}: alpha channel dropped", file=sys.stderr)
    elif path.exists():
        image = read_video(path)[0]
    else:
        raise FileNotFoundError(f"source image {str(path)!r} does not exist")
    if image.shape[:2] != frame_shape[:2]:
        print(f"note: {path.name} is {image.shape[1]}x{image.shape[0]}; resized to the model's "
              f"{frame_shape[1]}x{frame_shape[0]} frames (aspect ratio not kept)", file=sys.stderr)
        image = resize_frames(image[None], frame_shape[:2])[0]
    return image


def choose_frame_pair(num_frames: int, rng: np.random.Generator, max_gap: int | None = None) -> np.ndarray:
    """Two distinct frame indices, sorted (2,): any two (FOMM), or at most max_gap frames apart.

    With max_gap the first frame is uniform and the second uniform among the frames within
    max_gap of it, so small motions come first in a curriculum (train_params.frame_gap).
    """
    if num_frames < 2:
        raise ValueError(f"a training pair needs a video of at least 2 frames, got {num_frames}")
    if max_gap is None or max_gap >= num_frames - 1:
        return np.sort(rng.choice(num_frames, size=2, replace=False))
    if max_gap < 1:
        raise ValueError(f"max_gap must be at least 1 frame, got {max_gap}")
    first = int(rng.integers(num_frames))
    near = [j for j in range(max(0, first - max_gap), min(num_frames, first + max_gap + 1)) if j != first]
    return np.sort(np.array([first, near[rng.integers(len(near))]]))


class DecodedVideos:
    """Video files decoded once and kept in memory, up to ``max_bytes`` in all.

    A training item needs two frames, but a .png strip or an .mp4 decodes whole: on the
    synthetic world, 2 quiet CPU cores, loading a batch of 8 took 33 ms of a 374 ms training
    iteration and 5 ms with the cache (benchmarks/training_iteration.py), several times more
    when other work competes for the cores. Videos are kept in the order they are first read until the budget is
    used; later ones are decoded on every read (no eviction: no thrashing, no surprise).
    Each DataLoader worker holds its own copy.
    """

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"the decoded-video cache needs max_bytes >= 0, got {max_bytes}")
        self.max_bytes, self.used_bytes = int(max_bytes), 0
        self.frames: dict[Path, np.ndarray] = {}

    def decode(self, path: Path, frame_shape: tuple[int, int, int] | None) -> np.ndarray:
        """``_decode(path, frame_shape)``: (T,H,W[,C]) as stored, from memory when kept."""
        frames = self.frames.get(path)
        if frames is None:
            frames = _decode(path, frame_shape)
            if self.used_bytes + frames.nbytes <= self.max_bytes:
                frames.setflags(write=False)      # shared by every later read
                self.frames[path] = frames
                self.used_bytes += frames.nbytes
        return frames


def _read_two_frames(path: Path, frame_shape: tuple[int, int, int] | None,
                     rng: np.random.Generator, max_gap: int | None = None,
                     videos: DecodedVideos | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Two distinct random frames (at most max_gap apart when given), sorted:
    ((2,H,W,3) float32, their indices, T).

    A frame folder decodes only those two frames; other layouts convert only them (decoded
    through ``videos`` when given).
    """
    if path.is_dir():
        reason = check_video_entry(path)
        if reason is not None:
            raise ValueError(f"video {str(path)!r}: {reason}")
        num_frames = len(_frame_files(path))
        indices = choose_frame_pair(num_frames, rng, max_gap)
        clip = _read_frame_folder(path, indices.tolist())
    else:
        frames = videos.decode(path, frame_shape) if videos is not None else _decode(path, frame_shape)
        num_frames = len(frames)
        indices = choose_frame_pair(num_frames, rng, max_gap)
        clip = _to_float_rgb(frames[indices], path, sequence=True)
    if frame_shape is not None:
        clip = resize_frames(clip, frame_shape[:2])
    return clip, indices, num_frames


def load_keypoints(video_path: str | Path, num_frames: int) -> np.ndarray | None:
    """Ground-truth keypoints (T,J,2) float32 of a video, or None when it has none."""
    path = find_keypoints(video_path)
    if path is None:
        return None
    try:
        keypoints = np.load(path, allow_pickle=False)
    except Exception as error:
        raise ValueError(f"cannot read keypoints file {str(path)!r}: {error}") from error
    if keypoints.ndim != 3 or keypoints.shape[2] != 2:
        raise ValueError(f"keypoints file {str(path)!r} has shape {keypoints.shape}, "
                         f"expected (T, J, 2)")
    if keypoints.shape[0] != num_frames:
        raise ValueError(f"keypoints file {str(path)!r} has {keypoints.shape[0]} frames, "
                         f"its video has {num_frames}")
    return keypoints.astype(np.float32)


# ----------------------------------------------------------------------------- augmentation

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


def _to_pixels(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(...,2) in [-1,1] (x first) -> pixel coordinates: pixel i of N sits at 2i/(N-1) - 1."""
    return (keypoints + 1.0) * (np.array([width, height], np.float32) - 1.0) / 2.0


def _from_pixels(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    return (2.0 * pixels / (np.array([width, height], np.float32) - 1.0) - 1.0).astype(np.float32)


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
            pixels = (_to_pixels(keypoints, height, width) + 0.5) * scale - 0.5
            keypoints = _from_pixels(pixels, *size)
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
            keypoints = _from_pixels(_to_pixels(keypoints, height, width) + shift, h, w)
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
        """clip (T,H,W,3) in [0,1], keypoints (T,J,2) or None -> clip (T,h,w,3), keypoints."""
        for transform in self.transforms:
            if isinstance(transform, ColorJitter):
                clip = transform(clip, rng)
            else:
                clip, keypoints = transform(clip, keypoints, rng)
        return clip, keypoints


# ----------------------------------------------------------------------------- datasets

def _torch_seeded_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's RNG (per-worker seeded by DataLoader)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


def item_rng(item_seed: int | None, epoch: int, repeat: int, index: int) -> np.random.Generator:
    """The numpy generator of one training item: its frame pair, video (id_sampling) and augmentation.

    item_seed None: drawn from torch's global RNG (``_torch_seeded_rng``). Otherwise seeded
    from (item_seed, epoch, repeat, index) alone, so the item is the same in every run with
    that seed, in any DataLoader worker, whatever the run draws elsewhere; ``repeat`` tells
    the visits of one video within an epoch (``DatasetRepeater``) apart.
    """
    if item_seed is None:
        return _torch_seeded_rng()
    values = {"item_seed": item_seed, "epoch": epoch, "repeat": repeat, "index": index}
    bad = {k: v for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0}
    if bad:
        raise ValueError(f"item_rng needs integers >= 0, got {bad}")
    return np.random.default_rng([int(item_seed), int(epoch), int(repeat), int(index)])


def identity_of(name: str) -> str:
    """VoxCeleb-style identity of a video name `id#video#...`: the part before '#'."""
    return name.split("#")[0]


LAYOUTS_NOTE = ("Accepted layouts: root/train/ and root/test/ holding videos, or a flat root of videos "
                "(split 80/20 by a seeded shuffle); a video is a folder of frames, an .mp4/.gif/.mov "
                "file or a horizontally stacked .png/.jpg.")


def _split_folder(root: Path, is_train: bool, random_seed: int) -> list[Path]:
    """Videos of the chosen split: `root/train|test` if present, else a seeded 80/20 split."""
    train, test = root / "train", root / "test"
    if train.is_dir() or test.is_dir():
        if not (train.is_dir() and test.is_dir()):
            missing = test if train.is_dir() else train
            raise FileNotFoundError(f"dataset root {str(root)!r} has one split folder but "
                                    f"{str(missing)!r} is missing")
        return list_videos(train if is_train else test)
    videos = list_videos(root)
    order = np.random.default_rng(random_seed).permutation(len(videos))
    num_test = math.ceil(TEST_FRACTION * len(videos))
    chosen = order[num_test:] if is_train else order[:num_test]
    return [videos[i] for i in sorted(chosen)]


class FramesDataset(Dataset):
    """Videos of a FOMM-layout root, as training pairs or whole videos.

    Train items: {"source": (3,H,W), "driving": (3,H,W), "name": str} plus
    "source_keypoints"/"driving_keypoints" (J,2) when ground truth exists.
    Test items: {"video": (T,3,H,W), "name": str} plus "keypoints" (T,J,2) when known.
    All float32, images in [0,1]. Decoded video files stay in memory up to
    ``cache_megabytes`` (``DecodedVideos``; dataset_params.cache_megabytes).

    With id_sampling (training only) an epoch visits each identity (name before the
    first '#') once and picks a random video of it.

    Randomness of an item: see :func:`item_rng`. The trainer sets ``item_seed``
    (train_params.seed) and ``epoch``, as it sets ``max_frame_gap``; left at None, items
    draw from torch's global RNG.
    """

    def __init__(self, root: str | Path | None = None, *, root_dir: str | Path | None = None,
                 frame_shape: Sequence[int] = (256, 256, 3), id_sampling: bool = False,
                 is_train: bool = True, random_seed: int = 0, pairs_list: str | Path | None = None,
                 augmentation_params: Mapping[str, Any] | None = None,
                 skip_bad_files: bool = False, cache_megabytes: float = 512, progress: bool = True):
        if (root is None) == (root_dir is None):
            raise ValueError(f"give exactly one of root / root_dir (FOMM's name), got "
                             f"root={root!r}, root_dir={root_dir!r}")
        self.root = Path(root if root is not None else root_dir)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset root {str(self.root)!r} does not exist")
        self.frame_shape = _check_frame_shape(frame_shape)
        self.is_train, self.id_sampling = bool(is_train), bool(id_sampling)
        self.pairs_list = pairs_list
        self.max_frame_gap: int | None = None    # training pairs: any two frames (set by train_params.frame_gap)
        self.item_seed: int | None = None        # None: items draw from torch's global RNG (see item_rng)
        self.epoch = 0                           # with item_seed: part of each item's seed
        self.transform = (VideoAugmentation(**augmentation_params)
                          if is_train and augmentation_params else None)
        self.skipped: list[tuple[str, str]] = []
        self.decoded = DecodedVideos(int(cache_megabytes * 2**20))   # training items' video files
        paths = self._checked(_split_folder(self.root, self.is_train, random_seed), skip_bad_files, progress)
        if not paths:
            raise ValueError(f"dataset root {str(self.root)!r} holds no usable "
                             f"{'train' if is_train else 'test'} videos. {LAYOUTS_NOTE} {self._split_note()}")
        self.paths = paths
        self.videos = [p.name for p in paths]  # FOMM's attribute, used by PairedDataset
        self.identities: dict[str, list[Path]] = {}
        for path in paths:
            self.identities.setdefault(identity_of(path.name), []).append(path)
        self._identity_names = sorted(self.identities)

    def _split_note(self) -> str:
        if (self.root / "train").is_dir():
            return f"Here: {self.root / 'train'} and {self.root / 'test'}."
        listed = list_videos(self.root)
        return (f"Here: no train/ and test/ folders, so the {len(listed)} videos in it were split "
                f"{100 - round(100 * TEST_FRACTION)}/{round(100 * TEST_FRACTION)} by a shuffle with "
                f"random_seed (a set this small may leave no usable video in a split).")

    @classmethod
    def from_config(cls, dataset_params: Mapping[str, Any], is_train: bool = True,
                    **overrides) -> "FramesDataset":
        """Build from FOMM's `dataset_params` section; unknown keys are an error."""
        known = {"root_dir", "frame_shape", "id_sampling", "pairs_list",
                 "augmentation_params", "random_seed", "skip_bad_files", "cache_megabytes"}
        unknown = sorted(set(dataset_params) - known)
        if unknown:
            raise ValueError(f"dataset_params: unknown keys {unknown}; known: {sorted(known)}")
        return cls(is_train=is_train, **{**dict(dataset_params), **overrides})

    def _checked(self, paths: list[Path], skip_bad_files: bool, progress: bool) -> list[Path]:
        """Inspect every video now (``inspect_video``): report all bad ones at once, or skip them
        with one warning when skip_bad_files. A progress bar shows for large sets."""
        from tqdm.auto import tqdm

        split = "train" if self.is_train else "test"
        bar = tqdm(paths, desc=f"checking {len(paths)} {split} videos", leave=False, unit="video",
                   disable=not progress or len(paths) < 500)
        bad = [(path, reason) for path in bar if (reason := inspect_video(path, self.frame_shape)) is not None]
        if not bad:
            return list(paths)
        listing = "; ".join(f"{path.name}: {reason}" for path, reason in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        if not skip_bad_files:
            raise ValueError(f"{len(bad)} of {len(paths)} {split} videos in {str(self.root)!r} are unusable: "
                             f"{listing}{more}. Fix or remove them, or skip them with "
                             f"dataset_params.skip_bad_files: true (pcut train --skip-bad-files)")
        self.skipped.extend((str(path), reason) for path, reason in bad)
        warnings.warn(f"skipping {len(bad)} of {len(paths)} {split} videos in {str(self.root)!r}: {listing}{more}",
                      stacklevel=3)
        dropped = {path for path, _ in bad}
        return [path for path in paths if path not in dropped]

    def __len__(self) -> int:
        return len(self._identity_names) if self.is_train and self.id_sampling else len(self.paths)

    def _path_for(self, index: int, rng: np.random.Generator) -> Path:
        if self.is_train and self.id_sampling:
            videos = self.identities[self._identity_names[index]]
            return videos[rng.integers(len(videos))]
        return self.paths[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get_item(index)

    def get_item(self, index: int, repeat: int = 0) -> dict[str, Any]:
        """Item ``index``, on its ``repeat``-th visit this epoch (``DatasetRepeater``)."""
        rng = item_rng(self.item_seed, self.epoch, repeat, index)
        path = self._path_for(index, rng)
        if self.is_train:
            return self._train_item(path, rng)
        frames = read_video(path, self.frame_shape)
        keypoints = load_keypoints(path, len(frames))
        item = {"video": torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(),  # (T,3,H,W)
                "name": path.name}
        if keypoints is not None:
            item["keypoints"] = torch.from_numpy(keypoints)  # (T,J,2)
        return item

    def _train_item(self, path: Path, rng: np.random.Generator) -> dict[str, Any]:
        clip, indices, num_frames = _read_two_frames(path, self.frame_shape, rng, self.max_frame_gap,
                                                     self.decoded)  # (2,H,W,3)
        keypoints = load_keypoints(path, num_frames)
        keypoints = None if keypoints is None else keypoints[indices]  # (2,J,2)
        if self.transform is not None:
            clip, keypoints = self.transform(clip, keypoints, rng)
        clip = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)  # (2,3,H,W)
        item = {"source": clip[0].contiguous(), "driving": clip[1].contiguous(), "name": path.name}
        if keypoints is not None:
            item["source_keypoints"] = torch.from_numpy(keypoints[0].copy())  # (J,2)
            item["driving_keypoints"] = torch.from_numpy(keypoints[1].copy())
        return item


class DatasetRepeater(Dataset):
    """A dataset seen `num_repeats` times per epoch (fewer, longer epochs; as FOMM's).

    Unlike FOMM's, errors of the wrapped dataset propagate instead of being retried.
    """

    def __init__(self, dataset: Dataset, num_repeats: int = 100):
        if int(num_repeats) != num_repeats or num_repeats < 1:
            raise ValueError(f"num_repeats must be a positive integer, got {num_repeats!r}")
        self.dataset, self.num_repeats = dataset, int(num_repeats)

    def __len__(self) -> int:
        return self.num_repeats * len(self.dataset)

    def __getitem__(self, index: int):
        repeat, inner = divmod(index, len(self.dataset))
        if hasattr(self.dataset, "get_item"):           # FramesDataset: each visit draws its own frames
            return self.dataset.get_item(inner, repeat=repeat)
        return self.dataset[inner]


class PairedDataset(Dataset):
    """(driving video, source video) pairs of a test dataset for animation.

    Without `pairs_list`: `number_of_pairs` pairs drawn without replacement from the
    grid of the first min(number_of_pairs, len) videos (FOMM's rule; a video may be
    paired with itself). With a pairs CSV (columns `source`, `driving`, video names):
    its first `number_of_pairs` rows whose videos are in the dataset.
    Items: {"driving_video", "source_video", "driving_name", "source_name", ...}.
    """

    def __init__(self, initial_dataset: FramesDataset, number_of_pairs: int, seed: int = 0):
        self.initial_dataset = initial_dataset
        pairs_list = getattr(initial_dataset, "pairs_list", None)
        if pairs_list is None:
            count = min(number_of_pairs, len(initial_dataset))
            grid = np.stack(np.meshgrid(np.arange(count), np.arange(count), indexing="ij"),
                            -1).reshape(-1, 2)  # (count*count, 2): (driving, source)
            chosen = np.random.default_rng(seed).choice(len(grid), min(number_of_pairs, len(grid)),
                                                        replace=False)
            self.pairs = [tuple(int(i) for i in grid[c]) for c in chosen]
        else:
            self.pairs = self._read_pairs(Path(pairs_list), number_of_pairs)

    def _read_pairs(self, path: Path, number_of_pairs: int) -> list[tuple[int, int]]:
        if not path.is_file():
            raise FileNotFoundError(f"pairs_list {str(path)!r} does not exist")
        index = {name: i for i, name in enumerate(self.initial_dataset.videos)}
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"source", "driving"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"pairs_list {str(path)!r} lacks columns {sorted(missing)}")
            rows = [r for r in reader if r["source"] in index and r["driving"] in index]
        return [(index[r["driving"]], index[r["source"]]) for r in rows[:number_of_pairs]]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        driving, source = (self.initial_dataset[i] for i in self.pairs[index])
        return {**{"driving_" + k: v for k, v in driving.items()},
                **{"source_" + k: v for k, v in source.items()}}
