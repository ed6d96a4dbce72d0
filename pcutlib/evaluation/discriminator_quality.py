"""How well does a trained discriminator tell real from generated on held-out frames?

A regularizer that trains the discriminator can only matter once the discriminator sees
something. On held-out videos, reconstructed from their first frame (frames t >= 1, the
real frame x_t against the generated x_hat_t), ROC AUCs (``metrics.roc_auc``; 0.5 = chance):

    d_image_auc              U-Net: the encoder logit ranks real frames above generated ones;
                             patch discriminator: the same for its mean patch score (mean of
                             every prediction map, averaged over scales)
    d_pixel_auc_prioritycut  U-Net decoder on mixed = M x + (1 - M) x_hat, M the PriorityCut
                             mask of the run's settings (``artifacts.reconstruction_mask``): its
                             pixel logits rank the real pixels (M = 1) above the generated ones
    d_pixel_auc_cutmix       the same with CutMix boxes (drawn from ``seed``: the same boxes
                             for every run), which also cover background and easy pixels
    d_pixel_auc_true_disocclusion  where the videos' truth is given: the decoder's fake score on
                             generated frames ranks their truly dis-occluded pixels above the
                             others (``occlusion_truth.discriminator_auc_against_truth``); where
                             PriorityCut claims the pixel head should point

A patch discriminator has no pixel head: its pixel AUCs are NaN.
"""
from __future__ import annotations

import math
import warnings

import torch

from pcutlib.evaluation.artifacts import reconstruction_mask
from pcutlib.evaluation.metrics import roc_auc
from pcutlib.evaluation.occlusion_truth import discriminator_auc_against_truth
from pcutlib.inference import detect_keypoints, reconstruct_video
from pcutlib.models.unet_discriminator import UNetDiscriminator
from pcutlib.models.warping import ImagePyramid
from pcutlib.prioritycut import RegularizerConfig, cutmix_mask, mix_images


def held_out_frames(models, videos, max_frames_per_video: int | None, truths: list | None = None) -> dict:
    """Real frames, their reconstructions and the generator's maps, frames t >= 1 of each video
    (evenly spaced, at most max_frames_per_video): {"real", "fake" (N,3,H,W), "occlusion_map",
    "region_mask" (N,.,h,w) when estimated, "truth" (N,H,W) bool when ``truths`` gives every
    video's true dis-occlusion from its frame 0 ((T,H,W), ``disocclusion_from(truth, 0)``)}."""
    parts = []
    if truths is not None and (len(truths) != len(videos) or any(t is None for t in truths)):
        if any(t is not None for t in truths):
            warnings.warn(f"{sum(t is None for t in truths)} of {len(videos)} videos have no truth: "
                          f"d_pixel_auc_true_disocclusion needs every video's and is left out", stacklevel=3)
        truths = None
    for index, video in enumerate(videos):
        if len(video) < 2:
            continue
        frames = torch.arange(1, len(video))
        if max_frames_per_video is not None and len(frames) > max_frames_per_video:
            frames = frames[torch.linspace(0, len(frames) - 1, max_frames_per_video).round().long()]
        out = reconstruct_video(models, video[torch.cat([torch.zeros(1, dtype=torch.long), frames])])
        parts.append({"real": video[frames], **{k: out[k][1:] for k in ("occlusion_map", "region_mask") if k in out},
                      "fake": out["prediction"][1:]})                     # frame 0 (the source) dropped
        if truths is not None:
            parts[-1]["truth"] = torch.as_tensor(truths[index])[frames].bool()
    if not parts:
        raise ValueError("discriminator_quality needs at least one video of 2 or more frames")
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


def batched(function, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """function over images (N,...) in batches, results concatenated on the CPU."""
    return torch.cat([function(images[s:s + batch_size]).float().cpu() for s in range(0, len(images), batch_size)])


def real_fake_auc(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> float:

    labels = torch.cat([torch.ones(len(real_scores)), torch.zeros(len(fake_scores))]).bool()
    return roc_auc(torch.cat([real_scores, fake_scores]), labels)


def mixed_pixel_auc(discriminator, real, fake, mask, device, batch_size: int) -> float:
    """AUC of the decoder's pixel logits on mix(real, fake, mask) against mask (1 = real pixel)."""
    mixed = mix_images(real, fake, mask)
    logits = batched(lambda x: discriminator(x.to(device))["pixel_logits"], mixed, batch_size)   # (N,1,H,W)
    return roc_auc(logits, mask > 0.5)


def _patch_scores(discriminator, images, keypoints, device, batch_size: int) -> torch.Tensor:
    """Mean patch score per image (N,): each scale's prediction map averaged, then the scales."""
    pyramid = ImagePyramid(discriminator.scales, images.shape[1]).to(device)
    use_kp = any(disc.use_kp for disc in discriminator.discs.values())
    scores = []
    for s in range(0, len(images), batch_size):
        kp = {k: v[s:s + batch_size].to(device) for k, v in keypoints.items()} if use_kp else None
        out = discriminator(pyramid(images[s:s + batch_size].to(device)), kp=kp)
        maps = [v.flatten(1).mean(1) for k, v in out.items() if k.startswith("prediction_map")]
        scores.append(torch.stack(maps).mean(0).float().cpu())
    return torch.cat(scores)


@torch.no_grad()
def discriminator_quality(models, videos, regularizer: RegularizerConfig | None = None,
                          max_frames_per_video: int | None = 8, seed: int = 0, batch_size: int = 16,
                          frames: dict | None = None, truths: list | None = None) -> dict:
    """Held-out real/fake AUCs of a trained discriminator (module doc).

    models: pcutlib.models.build.Models with a discriminator (``load_models(..., with_discriminator=
    True)``); videos: held-out videos (T,3,H,W) in [0,1]; regularizer: the run's section (its
    PriorityCut k, foreground and threshold make the mask; default RegularizerConfig()).
    frames: ``held_out_frames(models, videos, max_frames_per_video)`` when the caller already made
    them (then videos are not read); truths: each video's true dis-occlusion from its frame 0
    ((T,H,W)), or None. Returns {"d_image_auc", "d_pixel_auc_prioritycut", "d_pixel_auc_cutmix",
    "d_pixel_auc_true_disocclusion" (NaN without truths), "d_frames"}.
    """
    if models.discriminator is None:
        raise ValueError("discriminator_quality needs models with a discriminator: "
                         "load_models(path, with_discriminator=True) of a checkpoint that holds one")
    regularizer = regularizer or RegularizerConfig()
    models.eval()
    discriminator = models.discriminator
    device = next(discriminator.parameters()).device
    if frames is None:
        frames = held_out_frames(models, videos, max_frames_per_video, truths)
    real, fake = frames["real"], frames["fake"]
    result = {"d_image_auc": math.nan, "d_pixel_auc_prioritycut": math.nan, "d_pixel_auc_cutmix": math.nan,
              "d_pixel_auc_true_disocclusion": math.nan, "d_frames": len(real)}
    if isinstance(discriminator, UNetDiscriminator):
        logit = lambda x: discriminator(x.to(device))["logit"]  # noqa: E731
        result["d_image_auc"] = real_fake_auc(batched(logit, real, batch_size), batched(logit, fake, batch_size))
        if "occlusion_map" in frames and "region_mask" in frames:

            mask = reconstruction_mask(frames, regularizer, real.shape[2:])
            result["d_pixel_auc_prioritycut"] = mixed_pixel_auc(discriminator, real, fake, mask, device, batch_size)
        boxes = cutmix_mask(len(real), *real.shape[2:], generator=torch.Generator().manual_seed(seed))
        result["d_pixel_auc_cutmix"] = mixed_pixel_auc(discriminator, real, fake, boxes, device, batch_size)
        if "truth" in frames:
            logits = batched(lambda x: discriminator(x.to(device))["pixel_logits"], fake, batch_size)
            result["d_pixel_auc_true_disocclusion"] = discriminator_auc_against_truth(logits, frames["truth"])
    else:

        keypoints = detect_keypoints(models.kp_detector, real)              # the driving frames' keypoints
        result["d_image_auc"] = real_fake_auc(_patch_scores(discriminator, real, keypoints, device, batch_size),
                                               _patch_scores(discriminator, fake, keypoints, device, batch_size))
    return result
