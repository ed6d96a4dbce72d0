"""A dataset split held in memory for measuring a model: every video of root/train or root/test with
its joints and its ground truth where the synthetic world wrote them, and the animation pairs
(a video's first frame driven by a video of another identity)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pcutlib.data.datasets import identity_of
from pcutlib.data.synthetic_truth import load_truth, true_animation, true_animation_joints
from pcutlib.data.video_io import list_videos, load_keypoints, read_video


def as_frames(video: np.ndarray) -> torch.Tensor:
    """(T,H,W,3) float in [0,1] -> (T,3,H,W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).contiguous()


def load_split(root: Path, split: str, frame_shape=None, max_videos: int | None = None) -> list:
    """[(path, frames (T,3,H,W), joints (T,J,2) or None, VideoTruth or None)] of root/split, the
    first ``max_videos`` videos (None: every one)."""
    if max_videos is not None and max_videos < 1:
        raise ValueError(f"max_videos must be at least 1 (or None: every video), got {max_videos}")
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(root)!r} has no {split}/ folder (diagnose needs a FOMM-layout root "
                                f"with train/ and test/, e.g. from pcut make-synthetic)")
    items = []
    for path in list_videos(folder)[:max_videos]:
        frames = read_video(path, frame_shape)
        joints = load_keypoints(path, len(frames))
        truth = load_truth(path)
        if truth is not None and truth.labels.shape[1:] != frames.shape[1:3]:
            truth = None   # resized frames: the label maps no longer match pixel for pixel
        items.append((path, as_frames(frames), None if joints is None else torch.from_numpy(joints), truth))
    if not items:
        raise ValueError(f"no videos in {str(folder)!r}")
    return items


def animation_case(items: list, index: int) -> tuple | None:
    """Test video ``index``'s first frame driven by its partner (``animation_partner``), with
    the truth: (source (3,H,W), driving (T,3,H,W), true animation (T,3,H,W)), or None when no
    other identity exists or a video lacks its truth. items: ``load_split``'s list."""
    partner = animation_partner([item[0].name for item in items], index)
    if partner is None or items[index][3] is None or items[partner][3] is None:
        return None
    frames, truth = items[index][1], items[index][3]
    target = as_frames(true_animation(truth, 0, items[partner][3]).frames.astype(np.float32) / 255)
    return frames[0], items[partner][1], target


def fomm_rule_gap(items: list, index: int) -> torch.Tensor | None:
    """How far FOMM's relative rule lies from the true animation of ``animation_case(items, index)``:
    (T,J) distances in [-1,1] units between the true (pose-space) animation's joints and the
    source's first-frame joints moved by the driving joints' displacement since the driving
    video's first frame (what FOMM does with keypoints); None without joints or truth."""
    partner = animation_partner([item[0].name for item in items], index)
    if partner is None or any(items[i][2] is None or items[i][3] is None for i in (index, partner)):
        return None
    pose_space = torch.from_numpy(true_animation_joints(items[index][3], 0, items[partner][3])).double()
    driving = items[partner][2].double()
    rule = items[index][2][0].double() + driving - driving[0]
    return (pose_space - rule).norm(dim=-1)


def animation_partner(names: list[str], index: int) -> int | None:
    """The index of the next video (cyclically after ``index``) of another identity, else None.
    names: video file or folder names (``identity_of`` reads the identity from them)."""
    own = identity_of(names[index])
    for step in range(1, len(names)):
        other = (index + step) % len(names)
        if identity_of(names[other]) != own:
            return other
    return None
