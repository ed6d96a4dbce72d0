"""O's label terms, pcut's lever for an occlusion map that marks what must be invented
(docs/choices.md): the cross-entropy of O against the model's own revealed pixels (no ground
truth), or against the true visible share (the labelled oracle, which only measures)."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from pcutlib.models.revealed_pixels import revealed_target


def balanced_occlusion_bce(occlusion_map: torch.Tensor, target: torch.Tensor, balanced: bool = True) -> torch.Tensor:
    """Binary cross-entropy of O (B,1,h,w) in (0,1) against ``target`` (same shape, 1 visible),
    the occluded (target < 0.5) and visible pixels weighted half each; the plain mean when one is
    absent or ``balanced`` is False."""
    occluded = target < 0.5
    losses = F.binary_cross_entropy(occlusion_map.float().clamp(1e-6, 1 - 1e-6), target.float(), reduction="none")
    if occluded.all() or not occluded.any() or not balanced:
        return losses.mean()
    return 0.5 * losses[occluded].mean() + 0.5 * losses[~occluded].mean()


def visible_share(disocclusion: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """disocclusion (B,1,H,W) or (B,H,W), 1 = truly dis-occluded -> (B,1,h,w): the share of each O
    pixel's area that is visible in the source (1 - truth, area-averaged to O's size ``size``)."""
    truth = disocclusion.float() if disocclusion.dim() == 4 else disocclusion[:, None].float()
    return 1 - F.interpolate(truth, size=tuple(size), mode="area")


def revealed_occlusion_loss(dense_motion_network, source: torch.Tensor, driving: torch.Tensor, kp_source: dict,
                            kp_driving: dict, occlusion_map: torch.Tensor, weight: float,
                            weighting: str = "balanced", at_rest: bool = False,
                            deformed: torch.Tensor | None = None, head_only: bool = False,
                            motion_features: torch.Tensor | None = None, target: torch.Tensor | None = None) -> dict:
    """pcut's lever for an occlusion map that marks what must be invented (docs/choices.md): O
    (B,1,h,w) pulled towards the model's own revealed pixels (``models.revealed_pixels``: where its
    reverse flow brings no source pixel and the frame changed; no ground truth), a target without
    gradient: occlusion_revealed = weight * balanced_occlusion_bce(O, target), the two classes
    weighted half each (``weighting`` balanced) or every pixel alike (plain). ``at_rest`` adds
    occlusion_revealed_rest = weight * mean BCE(O(source, source), 1): one more pass of the
    network on the pair whose label needs no flow (keypoints detached). ``deformed`` (B,3,H,W),
    the source warped by the model's flow: its warp error joins the label (``revealed_target``).
    ``head_only``: O is recomputed in float32 from ``motion_features`` (B,F,h,w) detached, so the
    term trains O's last convolution and nothing before it (the flow and keypoints still learn from
    the other losses, through O among others). ``target`` (B,1,h,w) in [0,1], given: the label used
    instead of the revealed one (the labelled oracle's ``visible_share`` of the true dis-occlusion)."""
    if weighting not in ("balanced", "plain"):
        raise ValueError(f"occlusion_revealed_weighting {weighting!r}: expected balanced or plain")
    if head_only and motion_features is None:
        raise ValueError("head_only needs the dense motion network's motion_features, got None")
    if target is None:
        target = revealed_target(dense_motion_network, source, driving, kp_source, kp_driving,
                                 occlusion_map.shape[-2:], deformed=deformed)
    elif target.shape != occlusion_map.shape:
        raise ValueError(f"the label's shape {tuple(target.shape)} differs from O's {tuple(occlusion_map.shape)}")
    def head(features: torch.Tensor) -> torch.Tensor:     # O from features (B,F,h,w) without their gradient
        return torch.sigmoid(dense_motion_network.occlusion(features.detach().float()))

    if head_only:
        occlusion_map = head(motion_features)
    losses = {"occlusion_revealed": weight * balanced_occlusion_bce(occlusion_map, target, weighting == "balanced")}
    if at_rest:
        still = {key: value.detach() for key, value in kp_source.items()}
        with torch.no_grad() if head_only else contextlib.nullcontext():
            motion = dense_motion_network(source, kp_driving=still, kp_source=still)
        rest = head(motion["motion_features"]) if head_only else motion["occlusion_map"]
        losses["occlusion_revealed_rest"] = weight * balanced_occlusion_bce(rest, torch.ones_like(rest))
    return losses
