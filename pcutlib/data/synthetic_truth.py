"""The synthetic world's ground truth: which driving pixels are truly dis-occluded (their surface
point is hidden or absent in the source frame), stored beside each video as X.truth.npz, and the
true animation of one figure by another figure's motion.

The truth measures a trained model; it never trains one.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from pcutlib.data.part_frames import part_coordinates, part_to_pixels
from pcutlib.data.synthetic import (BACKGROUND_LABEL, Motion, Rendering, World, make_background, make_identity,
                                    relative_motion, render, world_background)
from pcutlib.data.video_io import TRUTH_SUFFIX, keypoints_path


def disocclusion(labels_source: np.ndarray, frames_source: np.ndarray, labels_driving: np.ndarray,
                 frames_driving: np.ndarray) -> np.ndarray:
    """True dis-occlusion of a (source, driving) pair: (S,S) bool, True at driving pixels whose
    surface point is hidden or absent in the source.

    labels_* (S,S) and frames_* (P,4) are one frame's ``Rendering.labels`` / ``part_frames``.
    A driving pixel x of part p shows the point q = T_p,driving^-1(x) of p; it is visible in the
    source when the source pixel nearest T_p,source(q) lies in the frame and shows part p. A
    background pixel (the background is static) is visible when the source shows background there.
    """
    size = labels_driving.shape[0]
    y, x = np.mgrid[0:size, 0:size]
    pixels = np.stack([x, y], -1).reshape(1, -1, 2).astype(np.float64)          # (1,S*S,2)
    parts = len(frames_driving)
    local = part_coordinates(frames_driving.astype(np.float64), np.broadcast_to(pixels, (parts, size * size, 2)))
    in_source = np.rint(part_to_pixels(frames_source.astype(np.float64), local)).astype(int)  # (P,S*S,2)
    label = labels_driving.reshape(-1).astype(int)                              # (S*S,)
    is_part = label != BACKGROUND_LABEL
    where = in_source[np.where(is_part, label, 0), np.arange(size * size)]      # (S*S,2) for part pixels
    inside = ((where >= 0) & (where < size)).all(-1)
    seen = labels_source[np.clip(where[:, 1], 0, size - 1), np.clip(where[:, 0], 0, size - 1)].astype(int)
    visible_part = inside & (seen == label)
    visible_background = labels_source.reshape(-1) == BACKGROUND_LABEL
    visible = np.where(is_part, visible_part, visible_background)
    return ~visible.reshape(size, size)


def disocclusion_from(truth: "VideoTruth", source_frame: int = 0) -> np.ndarray:
    """(T,S,S) bool: the true dis-occlusion of every frame t driven from frame ``source_frame``
    of the same video (``disocclusion`` of the pair (source_frame, t); all False at t = source_frame)."""
    frames = len(truth.labels)
    if not 0 <= source_frame < frames:
        raise ValueError(f"source_frame must be in [0, {frames}), got {source_frame}")
    return np.stack([disocclusion(truth.labels[source_frame], truth.part_frames[source_frame],
                                  truth.labels[t], truth.part_frames[t]) for t in range(frames)])


def truth_arrays(rendering: Rendering, motion: Motion, identity_seed: int, video_seed: int,
                 stripes: bool, world: World) -> dict:
    """What ``X.truth.npz`` holds for one video (see ``write_truth``)."""
    arrays = {"labels": rendering.labels, "part_frames": rendering.part_frames,
              "paint_order": rendering.paint_order,
              "identity_seed": np.int64(identity_seed), "video_seed": np.int64(video_seed),
              "stripes": np.bool_(stripes),
              **{name: np.asarray(value) for name, value in world.record().items()}}
    arrays.update({f"motion_{name}": value for name, value in motion.arrays().items()})
    return arrays


def write_truth(path: str | Path, arrays: dict) -> None:
    """Write a compressed .npz with fixed zip timestamps (byte-identical for the same arrays)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


@dataclass
class VideoTruth:
    """The ground truth of one synthetic video, read from ``X.truth.npz``.

    labels (T,S,S) uint8 (index into PARTS, BACKGROUND_LABEL for background), part_frames
    (T,P,4), motion (Motion), and what re-renders the video: identity_seed, video_seed (its
    background and motion), stripes, world.
    """
    labels: np.ndarray
    part_frames: np.ndarray
    motion: Motion
    identity_seed: int
    video_seed: int
    stripes: bool
    world: World

    @property
    def size(self) -> int:
        return self.labels.shape[1]


def load_truth(video_path: str | Path) -> VideoTruth | None:
    """The ground truth beside a video (``X.truth.npz``), or None when there is none."""
    path = keypoints_path(video_path, TRUTH_SUFFIX)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        motion = Motion(**{f.name: arrays[f"motion_{f.name}"] for f in fields(Motion)})
        return VideoTruth(arrays["labels"], arrays["part_frames"], motion, int(arrays["identity_seed"]),
                          int(arrays["video_seed"]), bool(arrays["stripes"]),
                          World.from_record(arrays))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read ground-truth file {str(path)!r}: {error}") from error


def true_animation(source: VideoTruth, source_frame: int, driving: VideoTruth) -> Rendering:
    """What FOMM's relative animation should produce: the source video's figure and background,
    posed by ``relative_motion`` (source pose at `source_frame` plus the driving pose's change
    since the driving video's first frame). Frame 0 equals the source frame."""
    if source.size != driving.size:
        raise ValueError(f"source and driving videos differ in size: {source.size} vs {driving.size}")
    motion = relative_motion(source.motion, source_frame, driving.motion)
    return render(make_identity(source.identity_seed), motion,
                  world_background(source.video_seed, source.size, source.stripes, source.world), source.world)


def true_animation_joints(source: VideoTruth, source_frame: int, driving: VideoTruth) -> np.ndarray:
    """(T,J,2) in [-1,1]: the joints of ``true_animation`` (the figure is not painted)."""
    motion = relative_motion(source.motion, source_frame, driving.motion)
    return render(make_identity(source.identity_seed), motion, make_background(source.video_seed, source.size,
                  source.stripes), source.world, draw_figure=False).keypoints
