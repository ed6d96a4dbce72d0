"""Animation by relative motion transfer (FOMM sec. 3.4, ``normalize_kp``).

The source keeps its own pose; only the *change* of the driving keypoints since the first
driving frame is applied to it:
    p_new = p_S + s * (p_D(t) - p_D(1)),    J_new = (J_D(t) J_D(1)^-1) J_S,
with s = sqrt(area(hull(p_S)) / area(hull(p_D(1)))) when adapting the movement scale, else 1.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import ConvexHull


def convex_hull_area(points: torch.Tensor) -> float:
    """Area of the convex hull of (K, 2) points (scipy's 2-D hull 'volume' is an area)."""
    return float(ConvexHull(points.detach().cpu().double().numpy()).volume)


def relative_keypoints(kp_source: dict, kp_driving: dict, kp_driving_initial: dict,
                       adapt_movement_scale: bool = False, use_relative_movement: bool = True,
                       use_relative_jacobian: bool = True) -> dict:
    """Driving keypoints re-expressed relative to the source (all {"value": (B,K,2), "jacobian"?}).

    The movement scale uses the first sample's hulls, as FOMM does (animation runs batch 1).
    """
    scale = 1.0
    if adapt_movement_scale:
        scale = np.sqrt(convex_hull_area(kp_source["value"][0])) / np.sqrt(
            convex_hull_area(kp_driving_initial["value"][0]))
    kp_new = dict(kp_driving)
    if use_relative_movement:
        kp_new["value"] = (kp_driving["value"] - kp_driving_initial["value"]) * scale + kp_source["value"]
        if use_relative_jacobian and "jacobian" in kp_driving:
            jacobian_change = kp_driving["jacobian"] @ torch.inverse(kp_driving_initial["jacobian"])
            kp_new["jacobian"] = jacobian_change @ kp_source["jacobian"]
    return kp_new


@torch.no_grad()
def animate_video(kp_detector, generator, source_image: torch.Tensor, driving_video: torch.Tensor,
                  adapt_movement_scale: bool = False, use_relative_movement: bool = True,
                  use_relative_jacobian: bool = True, progress: bool = False) -> dict:
    """Drive one source image by a video.

    source_image (3, H, W) or (1, 3, H, W); driving_video (T, 3, H, W), both in [0,1].
    Returns {"prediction": (T, 3, H, W), "occlusion_map": (T, 1, h, w) when estimated,
    "kp_source", "kp_driving" (T, K, 2)}.
    """
    from tqdm.auto import tqdm

    if source_image.dim() == 3:
        source_image = source_image.unsqueeze(0)
    device = next(generator.parameters()).device
    source_image = source_image.to(device)
    kp_source = kp_detector(source_image)
    kp_initial = kp_detector(driving_video[:1].to(device))
    predictions, occlusions, driving_points = [], [], []
    for frame in tqdm(driving_video, desc="animate", disable=not progress, leave=False):
        kp_driving = kp_detector(frame.unsqueeze(0).to(device))
        kp_norm = relative_keypoints(kp_source, kp_driving, kp_initial, adapt_movement_scale,
                                     use_relative_movement, use_relative_jacobian)
        out = generator(source_image, kp_source=kp_source, kp_driving=kp_norm)
        predictions.append(out["prediction"].cpu())
        if "occlusion_map" in out:
            occlusions.append(out["occlusion_map"].cpu())
        driving_points.append(kp_driving["value"].cpu())
    result = {"prediction": torch.cat(predictions), "kp_source": kp_source["value"][0].cpu(),
              "kp_driving": torch.cat(driving_points)}
    if occlusions:
        result["occlusion_map"] = torch.cat(occlusions)
    return result
