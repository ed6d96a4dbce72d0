"""Notebook 3, occlusion and inpainting: the most occluded pixels of O, where the prediction
differs from the driving frame, and how well O ranks one video's true dis-occlusion.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pcutlib.evaluation.occlusion_truth import disocclusion_composition, frame_difference_rule, occlusion_auc_strata
from pcutlib.inference import detect_keypoints, generate_frames
from pcutlib.models.warping import resize_bilinear
from pcutlib.prioritycut import foreground_pixels
from pcutlib.teaching.common import figure_labels, true_disocclusion


def most_occluded(occlusion_map: torch.Tensor, size, percent: float = 10.0) -> torch.Tensor:
    """The ``percent`` % of pixels with the lowest occlusion value O, per sample (ties included).

    occlusion_map (B,1,h,w) is first upsampled bilinearly to ``size`` (H, W). A share rather
    than a fixed threshold: how low O gets depends on the model and its training.
    Returns (B,1,H,W) bool.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    upsampled = F.interpolate(occlusion_map.float(), size=tuple(size), mode="bilinear", align_corners=False)
    flat = upsampled.flatten(1)                                                          # (B, H*W)
    count = max(1, math.ceil(flat.shape[1] * percent / 100))
    threshold = flat.kthvalue(count, dim=1).values                                       # (B,)
    return upsampled <= threshold.view(-1, 1, 1, 1)


def artifact_map(prediction: torch.Tensor, driving: torch.Tensor, occlusion_map: torch.Tensor,
                 most_occluded_percent: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel error |prediction - driving| (mean over channels) and where the pixels are most occluded.

    prediction, driving: (B,3,H,W); occlusion_map: (B,1,h,w). Returns (error (B,1,H,W),
    occluded (B,1,H,W) bool: the ``most_occluded_percent`` % of pixels with the lowest O).
    """
    error = (prediction - driving).abs().mean(dim=1, keepdim=True)                       # (B,1,H,W)
    return error, most_occluded(occlusion_map, prediction.shape[2:], most_occluded_percent)


def video_occlusion_strata(models, rendering, source_frame: int = 0, foreground_threshold: float = 0.5) -> dict:
    """How well a model's O ranks one video's true dis-occlusion, and the no-model rule beside it.

    Every frame t != source_frame of ``rendering`` (``teaching.synthetic_video``) is driven from
    ``source_frame`` (FOMM's reconstruction protocol). Returns {"O": ``occlusion_auc_strata`` of
    1 - O, "rule": the same of ``frame_difference_rule``, "composition":
    ``disocclusion_composition``}; the strata are over the frames of this one video.
    """
    video, size = rendering.video, rendering.video.shape[2:]
    count = len(video)
    if not 0 <= source_frame < count:
        raise ValueError(f"source_frame must be in [0, {count}), got {source_frame}")
    kp = detect_keypoints(models.kp_detector, video)
    source_kp = {k: v[source_frame:source_frame + 1] for k, v in kp.items()}
    out = generate_frames(models.generator, video[source_frame:source_frame + 1], source_kp, kp, driving=video)
    others = [t for t in range(count) if t != source_frame]
    truth = true_disocclusion(rendering, source_frame, others)                            # (T-1,H,W)
    figure = figure_labels(rendering, others)
    region = F.interpolate(out["region_mask"][others], size=size, mode="nearest")
    foreground = foreground_pixels(region, foreground_threshold)
    aligned = getattr(models.generator, "aligned_resize", False)       # as pcut diagnose resizes O
    occlusion = resize_bilinear(out["occlusion_map"][others], size, aligned)[:, 0]
    one_video = torch.zeros(len(others), dtype=torch.long)
    rule = frame_difference_rule(video[others], video[source_frame])
    return {"O": occlusion_auc_strata(1 - occlusion, truth, figure, foreground, one_video),
            "rule": occlusion_auc_strata(rule, truth, figure, foreground, one_video),
            "composition": disocclusion_composition(truth, figure)}
