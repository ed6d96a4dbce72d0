"""Video files in and out: listing a dataset folder, checking and reading videos, keypoint
files beside them, resizing, the decoded-video cache, and writing frames as a PNG strip or
an mp4.

A video is a folder of frames (sorted by name), an `.mp4`/`.gif`/`.mov` file, or one
horizontally stacked `.png`/`.jpg` (H, T*W). Frames read are (T,H,W,3) float32 in [0,1];
frames written are (T,3,H,W) tensors in [0,1]. Ground-truth keypoints (T,J,2) in [-1,1] of
a video `X` live beside it (see `keypoints_path`). Errors name the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence

import imageio.v2 as imageio_v2
import imageio.v3 as iio
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

VIDEO_FILE_EXTENSIONS = (".mp4", ".gif", ".mov")
STACKED_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
KEYPOINTS_SUFFIX = ".keypoints.npy"
TRUTH_SUFFIX = ".truth.npz"       # synthetic ground truth beside a video (pcutlib.data.synthetic_truth)


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
    video file's first frame decodes (a GIF's every frame); a keypoint file beside it loads with one
    row per frame.
    """
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
            frames = _split_stacked_image(_imread(path), path, check_frame_shape(frame_shape))
            if len(frames) < 2:
                return f"holds {len(frames)} frame(s), a video needs at least 2"
            num_frames = len(frames)
        elif path.suffix.lower() == ".gif":
            num_frames = len(_imread(path))          # GIFs are small: decode every frame (a truncated one fails)
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


def check_frame_shape(frame_shape: Sequence[int] | None) -> tuple[int, int, int] | None:
    """frame_shape (H, W, 3) as a tuple of ints (None stays None); anything else is a ValueError."""
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


def read_video(path: str | Path, frame_shape: Sequence[int] | None = None, say=None) -> np.ndarray:
    """Read a video as (T,H,W,3) float32 in [0,1], resized to frame_shape (H,W,3) if given.

    `path` is a folder of frames (sorted by name), an .mp4/.gif/.mov file, or a
    horizontally stacked .png/.jpg. Errors name the file. ``say`` (e.g. print to stderr), when
    given, is told of a resize in one line (a dataset's loader resizes without a word).
    """
    path = Path(path)
    frame_shape = check_frame_shape(frame_shape)
    if path.is_dir():
        reason = check_video_entry(path)
        if reason is not None:
            raise ValueError(f"video {str(path)!r}: {reason}")
        frames = _read_frame_folder(path)
    else:
        frames = _to_float_rgb(_decode(path, frame_shape), path, sequence=True)
    if frame_shape is not None:
        if say is not None and frames.shape[1:3] != tuple(frame_shape[:2]):
            say(f"note: {path.name} has {frames.shape[2]}x{frames.shape[1]} frames; resized to the model's "
                f"{frame_shape[1]}x{frame_shape[0]} (aspect ratio not kept)")
        frames = resize_frames(frames, frame_shape[:2])
    return frames


def read_source_image(path: str | Path, frame_shape: Sequence[int]) -> np.ndarray:
    """The source of an animation: one image (.png/.jpg of any size, never split into frames)
    or a video's first frame, as (H,W,3) float32 in [0,1] of frame_shape. A resize, and
    dropping an alpha channel, are reported on stderr."""
    path = Path(path)
    frame_shape = check_frame_shape(frame_shape)
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


def read_chosen_frames(path: Path, choose: Callable[[int], np.ndarray],
                       frame_shape: tuple[int, int, int] | None = None,
                       videos: DecodedVideos | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The frames ``choose(T)`` picks from a video of T frames (indices (n,)), resized to
    frame_shape when given: ((n,H,W,3) float32, their indices, T).

    A frame folder decodes only those frames; other layouts convert only them (decoded
    through ``videos`` when given).
    """
    if path.is_dir():
        reason = check_video_entry(path)
        if reason is not None:
            raise ValueError(f"video {str(path)!r}: {reason}")
        num_frames = len(_frame_files(path))
        indices = choose(num_frames)
        clip = _read_frame_folder(path, indices.tolist())
    else:
        frames = videos.decode(path, frame_shape) if videos is not None else _decode(path, frame_shape)
        num_frames = len(frames)
        indices = choose(num_frames)
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



# ----------------------------------------------------------------------------- writing

def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T,3,H,W) in [0,1] -> (T,H,W,3) uint8."""
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (T,3,H,W), got {tuple(frames.shape)}")
    return (frames.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def save_strip_png(frames, path, max_frames: int | None = None) -> Path:
    """Frames side by side in one PNG.

    frames: (T,3,H,W) in [0,1] (one row), or a list of such tensors with equal shapes (one
    row each, e.g. [real, prediction, baseline]). max_frames keeps evenly spaced frames.
    """
    rows = [frames] if isinstance(frames, torch.Tensor) else list(frames)
    if not rows or any(row.shape != rows[0].shape for row in rows):
        raise ValueError(f"rows must be (T,3,H,W) tensors of one shape, got {[tuple(r.shape) for r in rows]}")
    if max_frames is not None and len(rows[0]) > max_frames:
        keep = torch.linspace(0, len(rows[0]) - 1, max_frames).round().long()
        rows = [row[keep] for row in rows]
    images = [_to_uint8(row) for row in rows]                                # each (T,H,W,3)
    strip = np.concatenate([np.concatenate(list(image), axis=1) for image in images], axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, strip)
    return path


def save_video(frames: torch.Tensor, path, fps: float = 25) -> Path:
    """Write frames (T,3,H,W) in [0,1] as an .mp4 (ffmpeg from imageio-ffmpeg).

    Without a working ffmpeg it writes a .gif beside (same stem) and says so. Returns the
    path written.
    """
    images = _to_uint8(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() != ".gif":
        try:
            imageio_v2.mimwrite(path, list(images), fps=fps, format="FFMPEG", macro_block_size=1)
            return path
        except (ImportError, RuntimeError, OSError, ValueError) as error:
            path.unlink(missing_ok=True)
            path = path.with_suffix(".gif")
            reason = str(error).splitlines()[0] if str(error) else ""
            print(f"ffmpeg unavailable ({type(error).__name__}: {reason}); writing {path} instead "
                  f"(install imageio-ffmpeg for mp4)", file=sys.stderr)
    iio.imwrite(path, images, duration=1000 / fps, loop=0)
    return path
