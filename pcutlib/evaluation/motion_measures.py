"""Has the model learned motion? The single measures of ``pcut diagnose``, each on tensors.

- ``distinct_keypoints``: keypoints whose nearest other keypoint is farther than 0.1 ([-1,1]
  units, about 3 px at 64 px), per frame; keypoints that share a spot (within 0.1
  of another) all count as none.
- ``moving_distinct_keypoints``: the same, counting only keypoints that move with the body
  (an untrained detector spreads its keypoints but they barely move, or move at random).
- ``linear_probe_error``: a ridge least-squares map from keypoints (or any features per frame)
  to the true joints, fitted on train frames and scored on test frames, in pixels, beside
  always answering the mean training pose.
- ``silhouette_statistics``: six numbers per frame from the figure's pixels alone (centroid,
  second moments, area), the features of the keypoint-free probe baseline.
- ``figure_pixels`` and ``silhouette_iou``: the renderer's chroma rule and the IoU of two frames'
  figures.
"""
from __future__ import annotations

import math

import torch

from pcutlib.data.synthetic import BACKGROUND_MAX_CHROMA, FIGURE_MIN_CHROMA

DISTINCT_DISTANCE = 0.1          # in [-1,1] units: nearest other keypoint farther than this
FIGURE_CHROMA_THRESHOLD = (FIGURE_MIN_CHROMA + BACKGROUND_MAX_CHROMA) / 2 / 255   # 0.29
PROBE_RIDGE = 1e-3               # ridge on the linear probe (keypoints are near-collinear when collapsed)


def distinct_keypoints(keypoints: torch.Tensor, min_distance: float = DISTINCT_DISTANCE) -> float:
    """keypoints (N,K,2) -> mean over frames of #keypoints whose nearest other is > min_distance away."""
    return float(distinct_mask(keypoints, min_distance).sum(dim=1).double().mean())


def distinct_mask(keypoints: torch.Tensor, min_distance: float = DISTINCT_DISTANCE) -> torch.Tensor:
    """keypoints (N,K,2) -> (N,K) bool: the keypoint's nearest other keypoint is > min_distance away."""
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N,K,2), got {tuple(keypoints.shape)}")
    distances = torch.cdist(keypoints.double(), keypoints.double())                  # (N,K,K)
    distances.diagonal(dim1=1, dim2=2).fill_(math.inf)
    return distances.amin(dim=2) > min_distance


def _with_bias(features: torch.Tensor) -> torch.Tensor:
    return torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], dim=1)


def ridge_fit(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """W minimising |y - x W|^2 + PROBE_RIDGE N |W|^2: x (N,D), y (N,E) float64 -> (D,E)."""
    gram = x.T @ x + PROBE_RIDGE * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    return torch.linalg.solve(gram, x.T @ y)


def linear_probe_error(train_keypoints: torch.Tensor, train_joints: torch.Tensor,
                       test_keypoints: torch.Tensor, test_joints: torch.Tensor, image_size: int) -> dict:
    """Fit joints ~ W [keypoints, 1] on train (ridge least squares), score on test, in pixels.

    *_keypoints (N,K,2) detected (or any features per frame, (N,...)), *_joints (N,J,2) true,
    both in [-1,1]. Returns
    {"probe_px": mean Euclidean joint error of the probe, "mean_pose_px": the same for
    always answering the mean training pose}. Coordinates -> pixels: x (S-1)/2.
    """
    x = _with_bias(train_keypoints.flatten(1).double())                            # (N,2K+1)
    y = train_joints.flatten(1).double()                                             # (N,2J)
    weights = ridge_fit(x, y)                                                        # (2K+1,2J)
    predicted = (_with_bias(test_keypoints.flatten(1).double()) @ weights).view(test_joints.shape)
    to_px = (image_size - 1) / 2
    mean_pose = train_joints.double().mean(dim=0, keepdim=True)
    error = lambda guess: float((guess - test_joints.double()).norm(dim=-1).mean() * to_px)  # noqa: E731
    return {"probe_px": error(predicted), "mean_pose_px": error(mean_pose)}


def figure_pixels(frames: torch.Tensor) -> torch.Tensor:
    """frames (N,3,H,W) in [0,1] -> (N,H,W) bool: chroma (max - min of RGB) above the midpoint of
    the renderer's background ceiling and figure floor."""
    return (frames.amax(dim=1) - frames.amin(dim=1)) > FIGURE_CHROMA_THRESHOLD


def silhouette_iou(predicted: torch.Tensor, real: torch.Tensor) -> float:
    """Mean over frames of IoU(figure pixels of predicted, of real); both (N,3,H,W)."""
    a, b = figure_pixels(predicted), figure_pixels(real)
    intersection = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double().clamp(min=1)
    return float((intersection / union).mean())


MOVING_AMPLITUDE = 0.25   # a moving keypoint's RMS displacement, as a share of the joints' typical one
MOVING_EXPLAINED = 0.5    # the share of its displacement a linear map of the joints' displacements explains


def displacement_from_first(points: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """points (N,P,2) of frames grouped by video (N,) ints -> (N,P,2): each frame's points minus
    those of its video's first frame in the order given."""
    first = {}
    rows = torch.empty(len(video), dtype=torch.long)
    for index, name in enumerate(video.tolist()):
        rows[index] = first.setdefault(name, index)
    return points - points[rows]


def moving_keypoints(keypoints: torch.Tensor, joints: torch.Tensor, video: torch.Tensor,
                     amplitude: float = MOVING_AMPLITUDE, explained: float = MOVING_EXPLAINED) -> torch.Tensor:
    """Which keypoints move with the body: (K,) bool.

    keypoints (N,K,2) detected and joints (N,J,2) true, of frames grouped by ``video`` (N,) ints.
    With d_k and d_j the displacements from each video's first frame, keypoint k moves with the
    body when both hold:
        RMS(d_k) >= amplitude x median over joints of RMS(d_j)       (it moves as much as a joint)
        1 - |d_k - d_j W_k|^2 / |d_k|^2 >= explained                 (W_k: ridge least squares
                                                                      over every joint's d_j)
    An untrained detector fails the first (its keypoints barely move) or the second (they move
    at random).
    """
    if keypoints.dim() != 3 or joints.dim() != 3 or len({len(keypoints), len(joints), len(video)}) != 1:
        raise ValueError(f"keypoints (N,K,2), joints (N,J,2) and video (N,) must share N, got "
                         f"{tuple(keypoints.shape)}, {tuple(joints.shape)}, {tuple(video.shape)}")
    d_kp = displacement_from_first(keypoints.double(), video)                        # (N,K,2)
    d_joint = displacement_from_first(joints.double(), video)                        # (N,J,2)
    joint_rms = d_joint.pow(2).sum(-1).mean(0).sqrt().median()
    kp_rms = d_kp.pow(2).sum(-1).mean(0).sqrt()                                       # (K,)
    x = d_joint.flatten(1)                                                           # (N,2J)
    y = d_kp.flatten(1)                                                              # (N,2K)
    residual = (y - x @ ridge_fit(x, y)).view_as(d_kp)
    share = 1 - residual.pow(2).sum((0, 2)) / d_kp.pow(2).sum((0, 2)).clamp(min=1e-12)
    return (kp_rms >= amplitude * joint_rms) & (share >= explained)


def moving_distinct_keypoints(keypoints: torch.Tensor, moving: torch.Tensor,
                              min_distance: float = DISTINCT_DISTANCE) -> float:
    """Mean over frames of #keypoints that are distinct (as in ``distinct_keypoints``, among all
    keypoints) and move with the body (``moving`` (K,) bool). keypoints (N,K,2)."""
    return float((distinct_mask(keypoints, min_distance) & moving[None]).sum(dim=1).double().mean())


def silhouette_statistics(frames: torch.Tensor) -> torch.Tensor:
    """frames (N,3,H,W) -> (N,6) from the figure's pixels alone (``figure_pixels``), in [-1,1]
    units: area share, centroid (x, y), second central moments (xx, xy, yy). Zeros where a frame
    shows no figure."""
    mask = figure_pixels(frames).double()                                            # (N,H,W)
    height, width = mask.shape[1:]
    y, x = torch.meshgrid(torch.linspace(-1, 1, height, dtype=torch.float64),
                          torch.linspace(-1, 1, width, dtype=torch.float64), indexing="ij")
    area = mask.sum((1, 2))
    weight = mask / area.clamp(min=1)[:, None, None]
    cx, cy = (weight * x).sum((1, 2)), (weight * y).sum((1, 2))
    dx, dy = x[None] - cx[:, None, None], y[None] - cy[:, None, None]
    moments = [(weight * dx * dx).sum((1, 2)), (weight * dx * dy).sum((1, 2)), (weight * dy * dy).sum((1, 2))]
    return torch.stack([area / (height * width), cx, cy, *moments], dim=1)
