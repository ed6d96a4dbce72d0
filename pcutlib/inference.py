"""Running a trained model over a video: the one place every caller goes through.

  - :func:`detect_keypoints`: the keypoint detector over many frames, in batches;
  - :func:`generate_frames`: the generator over N (source, keypoints) rows, in batches;
  - :func:`reconstruct_video`: a video's first frame driven by every frame of it, absolute
    keypoints (training's task; evaluation's "reconstruction" protocol);
  - :func:`animate_video`: a source image driven by another video, by relative motion transfer.

Animation by relative motion transfer (FOMM sec. 3.4, ``normalize_kp``): the source keeps its own pose; only the *change* of the driving keypoints since the first
driving frame is applied to it:
    p_new = p_S + s * (p_D(t) - p_D(1)),    J_new = (J_D(t) J_D(1)^-1) J_S,
with s = sqrt(area(hull(p_S)) / area(hull(p_D(1)))) when adapting the movement scale, else 1.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import ConvexHull
from tqdm.auto import tqdm


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


OUTPUT_KEYS = ("prediction", "occlusion_map", "region_mask")     # generator outputs kept on the CPU
LEVEL_KEYS = ("occlusion_maps",)           # lists of maps, one per resolution (TPSMM's occlusion masks)


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _rows(kp: dict, start: int, stop: int, device) -> dict:
    """Rows start:stop of every keypoint tensor, on ``device``."""
    return {key: value[start:stop].to(device) for key, value in kp.items()}


def repeat_first(kp: dict, count: int) -> dict:
    """{"value": (N,K,2), "jacobian"?: (N,K,2,2)} -> row 0 repeated ``count`` times (a view)."""
    return {key: value[:1].expand(count, *value.shape[1:]) for key, value in kp.items()}


@torch.no_grad()
def detect_keypoints(kp_detector, frames: torch.Tensor, batch_size: int = 64) -> dict:
    """frames (N,3,H,W) -> {"value": (N,K,2), "jacobian"?: (N,K,2,2)}, float32 on the CPU."""
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (N,3,H,W), got {tuple(frames.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = _device_of(kp_detector)
    parts = [kp_detector(frames[s:s + batch_size].to(device)) for s in range(0, len(frames), batch_size)]
    return {key: torch.cat([part[key].float().cpu() for part in parts]) for key in parts[0]}


@torch.no_grad()
def generate_frames(generator, source: torch.Tensor, kp_source: dict, kp_driving: dict, batch_size: int = 64,
                    progress: bool = False, driving: torch.Tensor | None = None,
                    extra_outputs: tuple[str, ...] = ()) -> dict:
    """The generator over N rows, in batches: source (N,3,H,W) or (1,3,H,W) for one source of
    every row; kp_source and kp_driving hold N rows (or 1 for kp_source). driving (N,3,H,W): the
    driving frames, for a generator with a background motion predictor (TPSMM with bg) to move
    the background as in reconstruction; None: the background does not move (animation).

    Returns float32 on the CPU: {"prediction": (N,3,H,W), and where the generator makes them
    "occlusion_map": (N,1,h,w), "region_mask": (N,K+1,h,w), "occlusion_maps": [(N,1,h_l,w_l), ...]
    (TPSMM's masks, coarse to fine)}, and the generator's ``extra_outputs`` where it makes them
    (e.g. "deformed": the source image warped by the flow, (N,3,H,W)).
    """
    count = len(kp_driving["value"])
    if len(source) not in (1, count) or len(kp_source["value"]) not in (1, count):
        raise ValueError(f"source ({len(source)} rows) and kp_source ({len(kp_source['value'])} rows) must have "
                         f"1 row or as many as kp_driving ({count})")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    source = source.expand(count, -1, -1, -1) if len(source) == 1 else source
    kp_source = repeat_first(kp_source, count) if len(kp_source["value"]) == 1 else kp_source
    device = _device_of(generator)
    moves_background = driving is not None and getattr(generator, "bg_predictor", None) is not None
    outputs = []
    for start in tqdm(range(0, count, batch_size), desc="generate", disable=not progress, leave=False):
        stop = start + batch_size
        extra = ({"bg_param": generator.background_motion(source[start:stop].to(device), driving[start:stop].to(device))}
                 if moves_background else {})
        out = generator(source[start:stop].to(device), kp_source=_rows(kp_source, start, stop, device),
                        kp_driving=_rows(kp_driving, start, stop, device), **extra)
        kept = {key: out[key].float().cpu() for key in (*OUTPUT_KEYS, *extra_outputs) if key in out}
        kept.update({key: [level.float().cpu() for level in out[key]] for key in LEVEL_KEYS if key in out})
        outputs.append(kept)
    joined = {key: torch.cat([out[key] for out in outputs]) for key in outputs[0] if key not in LEVEL_KEYS}
    joined.update({key: [torch.cat(levels) for levels in zip(*(out[key] for out in outputs))]
                   for key in LEVEL_KEYS if key in outputs[0]})
    return joined


@torch.no_grad()
def reconstruct_video(models, video: torch.Tensor, batch_size: int = 16) -> dict:
    """Drive the first frame of a video by all its frames (absolute keypoints).

    models: ``pcutlib.models.build.Models`` (kp_detector, generator), put in eval mode.
    video (T,3,H,W) in [0,1]. Returns, on the CPU, {"prediction": (T,3,H,W),
    "occlusion_map": (T,1,h,w) when the generator estimates one, "region_mask": (T,K+1,h,w)}.
    """
    if video.dim() != 4 or video.shape[1] != 3:
        raise ValueError(f"video must be (T,3,H,W), got {tuple(video.shape)}")
    models.eval()
    kp_driving = detect_keypoints(models.kp_detector, video, batch_size)
    return generate_frames(models.generator, video[:1], repeat_first(kp_driving, 1), kp_driving, batch_size,
                           driving=video)


@torch.no_grad()
def animate_video(kp_detector, generator, source_image: torch.Tensor, driving_video: torch.Tensor,
                  adapt_movement_scale: bool = False, use_relative_movement: bool = True,
                  use_relative_jacobian: bool = True, progress: bool = False, batch_size: int = 16) -> dict:
    """Drive one source image by a video, by relative motion transfer (module doc).

    source_image (3, H, W) or (1, 3, H, W); driving_video (T, 3, H, W), both in [0,1].
    Returns, on the CPU, {"prediction": (T, 3, H, W), "occlusion_map": (T, 1, h, w) when
    estimated, "region_mask", "kp_source" (K, 2), "kp_driving" (T, K, 2)}.
    """
    if source_image.dim() == 3:
        source_image = source_image.unsqueeze(0)
    if source_image.shape[0] != 1 or driving_video.dim() != 4:
        raise ValueError(f"animate_video takes one source image (3,H,W) and a video (T,3,H,W), got "
                         f"{tuple(source_image.shape)} and {tuple(driving_video.shape)}")
    kp_source = detect_keypoints(kp_detector, source_image)
    kp_driving = detect_keypoints(kp_detector, driving_video, batch_size)
    kp_new = relative_keypoints(kp_source, kp_driving, repeat_first(kp_driving, 1), adapt_movement_scale,
                                use_relative_movement, use_relative_jacobian)
    result = generate_frames(generator, source_image, kp_source, kp_new, batch_size, progress=progress)
    result.update(kp_source=kp_source["value"][0], kp_driving=kp_driving["value"])
    return result
