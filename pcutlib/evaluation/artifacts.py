"""Metrics that test PriorityCut's claim on the synthetic world (docs/algorithm.md).

The claim: PriorityCut reduces warping artifacts, i.e. the error where the warp cannot
explain the driving frame. The renderer knows those pixels exactly (the true dis-occlusion
``D_t`` of frame 0 -> frame t, ``pcutlib.data.synthetic_truth.disocclusion_from``), so on each held-out
video, reconstructed from its first frame (FOMM's protocol), with frames t >= 1:

    l1_disoccluded   = sum_{t, z in D_t} mean_c |x_hat_t - x_t|(z) / |D|       (the artifacts)
    l1_visible       = the same over the other pixels
    ssim_disoccluded = mean of the SSIM map (``metrics.ssim_map``) over the pixels of D_t
                       (window centres; the map leaves out 5 pixels at each border)
    ssim_visible     = the same over the other pixels
    mask_precision   = |P ∩ D| / |P|, P = the pixels the PriorityCut mask (``prioritycut_mask``
                       with the run's top_k_percent, foreground and threshold, from the model's
                       occlusion map) takes from the generated frame: is the regularizer looking
                       at the right pixels?
    mask_chance      = sum_t |P_t| |D_t| / (H W) / |P|: the expected precision of a uniformly
                       random mask of the same size in each frame
    mask_chance_foreground = sum_t |P_t| |D_t ∩ F_t| / |F_t| / |P|: the same for random pixels of
                       the foreground F_t the mask is drawn from, the fair chance level (the
                       foreground holds more dis-occlusion than the frame); precision over it is
                       the mask's lift
    animation_l1     = mean |x_hat - x*| of the video's first frame driven by another identity's
                       video, against the true animation x* (``pcutlib.data.splits.animation_case``)

Each value pools one video; ``<key>_weight`` counts what it pools (pixels, frames), so that
``protocols.weighted_mean`` over videos pools the whole test set. ``evaluate_test_videos``
adds these to every metric of ``protocols.video_metrics`` (pcut's and FOMM's), for a model
or for copying the source frame (``models=None``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from pcutlib.data.splits import animation_case
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation import metrics
from pcutlib.evaluation.protocols import DEFAULT_CONFIDENCE_THRESHOLD, video_metrics, weighted_mean
from pcutlib.inference import animate_video, reconstruct_video
from pcutlib.prioritycut import RegularizerConfig, foreground_pixels, prioritycut_mask


def _pooled(values: torch.Tensor, mask: torch.Tensor, key: str) -> dict:
    """{key: mean of values over mask, key_weight: mask count}; values, mask of one shape."""
    count = int(mask.sum())
    mean = float(values[mask].double().mean()) if count else math.nan
    return {key: mean, f"{key}_weight": count}


def artifact_metrics(pred: torch.Tensor, real: torch.Tensor, disoccluded: torch.Tensor) -> dict:
    """L1 and SSIM inside and outside the true dis-occlusion (see module doc).

    pred, real (N,3,H,W) in [0,1]; disoccluded (N,H,W) bool. Returns l1_disoccluded,
    l1_visible, ssim_disoccluded, ssim_visible, each with its ``_weight`` (pixels pooled).
    """
    metrics.check_frames(pred, real)
    if disoccluded.shape != (pred.shape[0], *pred.shape[2:]) or disoccluded.dtype != torch.bool:
        raise ValueError(f"disoccluded must be a bool (N,H,W) = {(pred.shape[0], *pred.shape[2:])} mask, "
                         f"got {disoccluded.dtype} {tuple(disoccluded.shape)}")
    error = (pred.double() - real.double()).abs().mean(dim=1)                      # (N,H,W)
    row = {**_pooled(error, disoccluded, "l1_disoccluded"), **_pooled(error, ~disoccluded, "l1_visible")}
    similarity = metrics.ssim_map(pred, real)                                      # (N,H-10,W-10)
    border = (pred.shape[2] - similarity.shape[1]) // 2
    inside = disoccluded[:, border:border + similarity.shape[1], border:border + similarity.shape[2]]
    row.update(_pooled(similarity, inside, "ssim_disoccluded"))
    row.update(_pooled(similarity, ~inside, "ssim_visible"))
    return row


def mask_precision(mask: torch.Tensor, disoccluded: torch.Tensor, foreground: torch.Tensor | None = None) -> dict:
    """Precision of a mixing mask against the true dis-occlusion, next to chance (module doc).

    mask (N,1,H,W), 1 = real pixel, 0 = generated pixel (``regularizers``' convention);
    disoccluded (N,H,W) bool; foreground (N,H,W) bool, the pixels the mask is drawn from, or None.
    Returns {"mask_precision", "mask_chance", and with a foreground "mask_chance_foreground", each
    with ``_weight`` = |P|, the pixels taken from the generated frame}; NaN when |P| = 0.
    """
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != disoccluded.shape[0] \
            or mask.shape[2:] != disoccluded.shape[1:]:
        raise ValueError(f"mask must be (N,1,H,W) matching disoccluded (N,H,W), got mask {tuple(mask.shape)} "
                         f"and disoccluded {tuple(disoccluded.shape)}")
    selected = mask[:, 0] < 0.5                                                    # (N,H,W) P
    count = int(selected.sum())
    keys = ["mask_precision", "mask_chance"] + (["mask_chance_foreground"] if foreground is not None else [])
    if count == 0:
        return {name: value for key in keys for name, value in ((key, math.nan), (f"{key}_weight", 0))}
    hits = int((selected & disoccluded).sum())
    per_frame_size = selected.flatten(1).sum(1).double()                           # |P_t|
    base_rate = disoccluded.flatten(1).double().mean(1)                            # |D_t| / (H W)
    row = {"mask_precision": hits / count, "mask_chance": float((per_frame_size * base_rate).sum() / count)}
    if foreground is not None:
        inside = (disoccluded & foreground).flatten(1).sum(1).double()
        rate = inside / foreground.flatten(1).sum(1).double().clamp(min=1)         # |D_t ∩ F_t| / |F_t|
        row["mask_chance_foreground"] = float((per_frame_size * rate).sum() / count)
    return {name: value for key in keys for name, value in ((key, row[key]), (f"{key}_weight", count))}


def reconstruction_mask(out: dict, regularizer: RegularizerConfig, size) -> torch.Tensor | None:
    """The PriorityCut mask (N,1,H,W) of generator outputs {"occlusion_map" (N,1,h,w),
    "region_mask" (N,K+1,h,w)} with ``regularizer``'s k, foreground and threshold; None
    when the generator estimates no occlusion map."""
    if "occlusion_map" not in out or "region_mask" not in out:
        return None
    return prioritycut_mask(out["occlusion_map"], out["region_mask"], regularizer.top_k_percent,
                            regularizer.foreground_threshold, size=tuple(size), foreground=regularizer.foreground)


def reconstruction_foreground(out: dict, regularizer: RegularizerConfig, size) -> torch.Tensor:
    """PriorityCut's foreground (N,H,W) bool of generator outputs {"region_mask" (N,K+1,h,w)},
    upsampled by nearest neighbour to ``size`` as the mask is."""
    region = F.interpolate(out["region_mask"], size=tuple(size), mode="nearest")
    return foreground_pixels(region, regularizer.foreground_threshold, regularizer.foreground)


@torch.no_grad()
def _reconstruct(models, video: torch.Tensor) -> dict:
    """{"prediction" (T,3,H,W), and from a model "occlusion_map", "region_mask"}; models=None
    copies the first frame (the baseline that learns nothing)."""
    if models is None:
        return {"prediction": video[:1].expand_as(video)}
    return reconstruct_video(models, video)


@torch.no_grad()
def _animate(models, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """source (3,H,W) driven by driving (T,3,H,W) -> (T,3,H,W); models=None repeats the source."""
    if models is None:
        return source[None].expand_as(driving)
    return animate_video(models.kp_detector, models.generator, source, driving)["prediction"].float().cpu()


@torch.no_grad()
def evaluate_test_videos(models, test: list, regularizer: RegularizerConfig | None = None, pose_probe=None,
                         identity_probe=None, confidence_threshold: float | None = None,
                         animation: bool = True, progress: bool = False) -> list[dict]:
    """One row of metrics per held-out video: ``protocols.video_metrics`` (pcut's pooled and
    FOMM's per-frame metrics) plus, where the video has its truth, the artifact metrics,
    mask precision and animation L1 of the module doc.

    models: pcutlib.models.build.Models, or None for copying the source frame (no mask precision).
    test: ``pcutlib.data.splits.load_split(root, "test")``'s list of (path, frames (T,3,H,W), joints
    (T,J,2) or None, VideoTruth or None). regularizer: the run's ``regularizer`` section (its
    PriorityCut settings make the mask; default RegularizerConfig()).
    """
    regularizer = regularizer or RegularizerConfig()
    threshold = DEFAULT_CONFIDENCE_THRESHOLD if confidence_threshold is None else confidence_threshold
    if models is not None:
        models.eval()
    rows = []
    for index, (path, video, joints, truth) in enumerate(tqdm(test, desc="evaluate", disable=not progress,
                                                              leave=False, unit="video")):
        out = _reconstruct(models, video)
        prediction = out["prediction"]
        row = {"name": path.name, "frames": len(video)}
        row.update(video_metrics(prediction, video, False, pose_probe, identity_probe, joints, threshold))
        if truth is not None and len(video) > 1:
            disoccluded = torch.from_numpy(disocclusion_from(truth, 0)[1:])          # (T-1,H,W)
            row.update(artifact_metrics(prediction[1:], video[1:], disoccluded))
            later = {k: v[1:] for k, v in out.items()}
            mask = reconstruction_mask(later, regularizer, video.shape[2:])
            if mask is not None:
                row.update(mask_precision(mask, disoccluded, reconstruction_foreground(later, regularizer,
                                                                                       video.shape[2:])))
        case = animation_case(test, index) if animation else None
        if case is not None:
            source, driving, target = case
            animated = _animate(models, source, driving)
            row["animation_l1"] = metrics.l1(animated, target)
            row["animation_l1_weight"] = len(target)
        rows.append(row)
    return rows


def summarize_rows(rows: list[dict]) -> dict:
    """Every metric of ``evaluate_test_videos`` pooled over the videos (``protocols.weighted_mean``)."""
    keys = dict.fromkeys(k for row in rows for k in row
                         if k not in ("name", "frames") and not k.endswith("_weight"))
    return {key: weighted_mean(rows, key) for key in keys}
