"""Notebook 3, occlusion and inpainting: the most occluded pixels of O and where the prediction
differs from the driving frame.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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
