"""Where the silhouette IoU is lost, body part by body part, and which joints have no keypoint.

The synthetic truth labels every figure pixel with the part that covers it (``PART_NAMES``).
With B the driving frame's figure pixels and A the prediction's (``figure_pixels``), pooled
over the test frames driven from their video's first frame:

    1 - IoU = |B - A| / |A u B|  +  |A - B| / |A u B|
                  missed               ghost

Each missed pixel is charged to the part the driving frame shows there; each ghost pixel (figure
drawn where the driving frame shows background) to the part the *source* frame shows there: a
hand left at its old place. Two labels are not parts: "edge" (figure colour in the frame but
background in the label map: the renderer's anti-aliased rim) and, for ghosts, "neither_frame"
(background in the source as well: figure drawn where neither frame has it, a blurred rim
around the figure or a limb smeared across pixels between its two places). The shares of all labels add up to
1 - IoU, the IoU pooled over those frames: frames 1.. of the videos with label maps, where
``Diagnosis.silhouette_iou`` is the mean of per-frame IoUs over every frame, frame 0 (the source
driving itself) included.

Beside it, each joint's distance to the nearest detected keypoint: a part whose joint has no
keypoint near it moves with a neighbour's affine transform, and its pixels are missed.
"""
from __future__ import annotations

import torch

from pcutlib.data.synthetic import BACKGROUND_LABEL, JOINT_NAMES, PART_NAMES
from pcutlib.evaluation.motion_measures import figure_pixels

EDGE, NEITHER_FRAME = "edge", "neither_frame"
BACKGROUND_BIN = len(PART_NAMES)   # _counts' last entry: "edge" among missed pixels, "neither_frame" among ghosts


def _counts(labels: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """labels (N,H,W) uint8, where (N,H,W) bool -> (P+1,) float64 pixel counts of ``where`` per
    part, the background's last (BACKGROUND_BIN)."""
    index = labels.long()
    unknown = (index >= len(PART_NAMES)) & (index != BACKGROUND_LABEL)
    if unknown.any():
        raise ValueError(f"labels {index[unknown].unique().tolist()} are neither a part (0..{len(PART_NAMES) - 1}) "
                         f"nor the background ({BACKGROUND_LABEL})")
    index = torch.where(index == BACKGROUND_LABEL, torch.full_like(index, BACKGROUND_BIN), index)
    return torch.bincount(index[where], minlength=BACKGROUND_BIN + 1).double()


def _share(count: torch.Tensor, total: torch.Tensor) -> float | None:
    """count / total, or None where total is 0."""
    return float(count / total) if total else None


def iou_loss_by_part(predicted: torch.Tensor, driving: torch.Tensor, driving_labels: torch.Tensor,
                     source_labels: torch.Tensor, warped: torch.Tensor | None = None) -> dict:
    """The pooled IoU's loss split by part (module doc).

    predicted, driving (N,3,H,W) in [0,1]; driving_labels, source_labels (N,H,W) uint8 label
    maps of the driving frame and of the frame the prediction was warped from; warped (N,3,H,W):
    the source warped by the flow alone, optional. Returns {"pooled_iou": float, "parts": {name:
    {"missed": share of the union, "ghost": share of the union, "pixels": the driving frames'
    figure pixels labelled with the part, "missed_share": share of those missed,
    "warp_missed_share": the same for ``warped``}}}, names PART_NAMES then "edge" and "neither_frame"
    (rows with neither pixels nor ghosts left out).
    """
    if not (predicted.shape == driving.shape and driving_labels.shape == source_labels.shape
            and driving_labels.shape == (driving.shape[0], *driving.shape[2:])):
        raise ValueError(f"predicted and driving (N,3,H,W) with label maps (N,H,W) expected, got "
                         f"{tuple(predicted.shape)}, {tuple(driving.shape)}, {tuple(driving_labels.shape)}, "
                         f"{tuple(source_labels.shape)}")
    a, b = figure_pixels(predicted), figure_pixels(driving)
    union = float((a | b).sum())
    if union == 0:
        raise ValueError("no figure pixel in the prediction or the driving frames: the IoU is undefined")
    pixels, missed, ghost = _counts(driving_labels, b), _counts(driving_labels, b & ~a), _counts(source_labels, a & ~b)
    warp_missed = None if warped is None else _counts(driving_labels, b & ~figure_pixels(warped))
    parts = {}
    for index, name in enumerate([*PART_NAMES, EDGE]):
        ghost_count = ghost[index] if index < BACKGROUND_BIN else 0.0       # background ghosts: "neither_frame"
        if pixels[index] == 0 and ghost_count == 0:
            continue
        parts[name] = {"missed": float(missed[index]) / union, "ghost": float(ghost_count) / union,
                       "pixels": int(pixels[index]), "missed_share": _share(missed[index], pixels[index]),
                       "warp_missed_share": None if warp_missed is None else _share(warp_missed[index], pixels[index])}
    if ghost[BACKGROUND_BIN]:
        parts[NEITHER_FRAME] = {"missed": 0.0, "ghost": float(ghost[BACKGROUND_BIN]) / union, "pixels": 0,
                                "missed_share": None, "warp_missed_share": None}
    return {"pooled_iou": float((a & b).sum()) / union, "parts": parts}


def lost_on(loss: dict, names) -> float:
    """The share of the union lost on the rows ``names`` (missed + ghost) of an ``iou_loss_by_part``
    result; a name without a row counts 0."""
    return sum(loss["parts"][name]["missed"] + loss["parts"][name]["ghost"] for name in names if name in loss["parts"])


def nearest_keypoint_px(keypoints: torch.Tensor, joints: torch.Tensor, image_size: int) -> dict:
    """{joint name: mean over frames of its distance to the nearest keypoint, in pixels}.

    keypoints (N,K,2) detected and joints (N,J,2) true (JOINT_NAMES order), both in [-1,1];
    pixels: x (S-1)/2 as in ``linear_probe_error``.
    """
    if keypoints.dim() != 3 or joints.dim() != 3 or len(keypoints) != len(joints):
        raise ValueError(f"keypoints (N,K,2) and joints (N,J,2) with one N expected, got "
                         f"{tuple(keypoints.shape)} and {tuple(joints.shape)}")
    if joints.shape[1] != len(JOINT_NAMES):
        raise ValueError(f"joints: {len(JOINT_NAMES)} expected (JOINT_NAMES), got {joints.shape[1]}")
    distance = (keypoints.double()[:, :, None] - joints.double()[:, None]).norm(dim=-1)      # (N,K,J)
    nearest = distance.amin(dim=1).mean(dim=0) * (image_size - 1) / 2                         # (J,)
    return {name: float(value) for name, value in zip(JOINT_NAMES, nearest)}


def part_figures(diagnosis, parts: dict, test: list) -> None:
    """Fill ``diagnosis.silhouette_loss_by_part`` and ``nearest_keypoint_px`` from diagnose's
    reconstruction (``parts``: lists over videos of "prediction", "driving", "keypoints" and,
    where the generator returns it, "deformed") and its test videos ([(path, frames, joints,
    truth)]); frames t >= 1 of videos with truth; left as None (and named in ``skipped``) without
    label maps or joints."""
    with_truth = [index for index, item in enumerate(test) if item[3] is not None and len(item[1]) > 1]
    if len(with_truth) < len(test):
        diagnosis.skipped.append(f"the IoU by part: {len(test) - len(with_truth)} of {len(test)} test videos have no "
                                 f"label maps (no X.truth.npz, frames resized away from the maps' size, or one frame)"
                                 + ("" if with_truth else ", so none is measured"))
    if with_truth:
        later = {key: torch.cat([parts[key][index][1:] for index in with_truth])
                 for key in ("prediction", "driving", "deformed") if len(parts[key]) == len(test)}
        labels = [torch.from_numpy(test[index][3].labels) for index in with_truth]
        diagnosis.silhouette_loss_by_part = iou_loss_by_part(
            later["prediction"], later["driving"], torch.cat([video[1:] for video in labels]),
            torch.cat([video[:1].expand(len(video) - 1, -1, -1) for video in labels]), later.get("deformed"))
    if any(item[2] is None for item in test):
        diagnosis.skipped.append("the joints' nearest keypoints: some test videos have no X.keypoints.npy")
        return
    keypoints, joints = torch.cat(parts["keypoints"]), torch.cat([item[2] for item in test])
    diagnosis.nearest_keypoint_px = nearest_keypoint_px(keypoints, joints, test[0][1].shape[-1])


def _part_cell(name: str, row: dict) -> str:
    """'left_hand 0.021 (37% of it missed, 42% by the warp alone)'."""
    shares = []
    if row["missed_share"] is not None:
        shares.append(f"{row['missed_share']:.0%} of it missed")
    if row["warp_missed_share"] is not None:
        shares.append(f"{row['warp_missed_share']:.0%} by the warp alone")
    return f"{name} {row['missed'] + row['ghost']:.3f}" + (f" ({', '.join(shares)})" if shares else "")


def part_lines(title: str, diagnosis, top: int = 5) -> list[str]:
    """Printed lines: the parts that cost the IoU most, and the joints farthest from a keypoint."""
    lines = []
    loss = getattr(diagnosis, "silhouette_loss_by_part", None)
    if loss:
        ranked = sorted(loss["parts"], key=lambda name: -lost_on(loss, [name]))[:top]
        lines.append(f"{title}: the pooled IoU {loss['pooled_iou']:.3f} loses most on "
                     + "; ".join(_part_cell(name, loss["parts"][name]) for name in ranked))
    nearest = getattr(diagnosis, "nearest_keypoint_px", None)
    if nearest:
        far = sorted(nearest.items(), key=lambda item: -item[1])[:3]
        lines.append(f"{title}: joints farthest from any keypoint (px): "
                     + ", ".join(f"{name} {value:.1f}" for name, value in far))
    return lines
