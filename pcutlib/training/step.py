"""One training step, read top to bottom in :func:`train_step`:

  1. generator update: keypoints of source and driving, the generated frame, then
         L_G = reconstruction (VGG19 or pixel pyramid) + equivariance (value, jacobian)
               (+ pcut's levers, off by default: O towards its revealed pixels, keypoint separation)
               + generator_gan * adversarial (+ feature matching: the patch D's feature maps or
                 the U-Net D's encoder features, real vs generated);
  2. discriminator update (only when generator_gan != 0):
         patch D:  LSGAN, real -> 1, fake -> 0;
         U-Net D:  BCE on the encoder logit and every decoder pixel, and, with probability
                   p(epoch) (linear warm-up), a mixed image x_mix = M x + (1 - M) G with
                   encoder(x_mix) -> 0, decoder(x_mix) -> M and the consistency loss.
     M is the PriorityCut mask (top-k most occluded foreground pixels show the generated
     frame, ``pcutlib.prioritycut.prioritycut_mask``) or a CutMix box.

The adversarial terms of both updates live in one object per discriminator kind
(``pcutlib.training.adversaries``: PatchAdversary, UNetAdversary).

With ``backbone: tpsmm`` the generator update is TPSMM's (``pcutlib.training.tpsmm_step``):
equivariance under a random TPS (keypoints only), the warp loss, the background loss, TPS
dropout, weight decay and TPSMM's gradient clipping; the adversarial terms and the discriminator
update are the same as FOMM's.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import torch
import torch.nn.functional as F

from pcutlib.training import losses as L
from pcutlib.training import occlusion_label
from pcutlib.training.adversaries import Mixing
from pcutlib.training.tpsmm_step import tpsmm_generate, tpsmm_losses, tpsmm_update
from pcutlib.training.trainer import Trainer


def autocast(trainer: Trainer):
    if trainer.autocast_dtype is None:
        return nullcontext()
    return torch.autocast(trainer.device.type, dtype=trainer.autocast_dtype)


def region_dropout_probability(schedule: dict, epoch_float: float) -> float:
    """The region dropout probability at a (fractional) epoch: linear from schedule["start"] to
    schedule["max"] over schedule["ramp_epochs"], 0 from schedule["until_epoch"] on."""
    if epoch_float >= schedule["until_epoch"]:
        return 0.0
    ramp = min(1.0, epoch_float / schedule["ramp_epochs"]) if schedule["ramp_epochs"] > 0 else 1.0
    return schedule["start"] + (schedule["max"] - schedule["start"]) * ramp


def equivariance_ramp(warmup_epochs: float, epoch_float: float) -> float:
    """Factor on the equivariance weights: 0 -> 1 linearly over warmup_epochs (0: always 1)."""
    return min(1.0, epoch_float / warmup_epochs) if warmup_epochs > 0 else 1.0


def max_frame_gap(schedule: dict, epoch: int) -> int | None:
    """The largest frame distance of a training pair in this epoch (None: any two frames):
    linear from schedule["start"] to schedule["end"] over schedule["ramp_epochs"]."""
    if schedule["start"] == 0 or epoch >= schedule["ramp_epochs"]:
        return None
    return round(schedule["start"] + (schedule["end"] - schedule["start"]) * epoch / schedule["ramp_epochs"])


def shown_size(schedule: dict, epoch_float: float) -> int | None:
    """The side of the frames shown in this epoch (train_params.resolution_curriculum):
    schedule["size"] before schedule["until_epoch"], else None (the frames as they are)."""
    return schedule["size"] if schedule["size"] and epoch_float < schedule["until_epoch"] else None


def shrink(frames: torch.Tensor, size: int | None) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size, size), each pixel the mean of the pixels it covers; None: as they are."""
    return frames if size is None else F.interpolate(frames, size=(size, size), mode="area")


def generate(trainer: Trainer, source, driving, epoch_float: float = 0.0) -> dict:
    """The generator's outputs (keypoints added) for source, driving (B, 3, H, W); draws the
    region dropout from the trainer's stream."""
    models, train_params = trainer.models, trainer.config["train_params"]
    # the keypoint detector stays float32 under autocast: with it in bf16, synthetic-64 learned 3.3
    # distinct keypoints of 10 instead of 6.2 (docs/benchmarks.md)
    kp_source = models.kp_detector(source)
    kp_driving = models.kp_detector(driving)
    if trainer.backbone == "tpsmm":
        with autocast(trainer):
            generated = tpsmm_generate(models, train_params, source, driving, kp_source, kp_driving,
                                       int(epoch_float), trainer.rngs["region_dropout"])
        generated.update(kp_source=kp_source, kp_driving=kp_driving)
        return generated
    dropout = region_dropout_probability(train_params["region_dropout"], epoch_float)
    with autocast(trainer):
        warmup = epoch_float < trainer.config["train_params"]["occlusion_warmup_epochs"]
        generated = models.generator(source, kp_source=kp_source, kp_driving=kp_driving, region_dropout=dropout,
                                     apply_occlusion=not warmup, dropout_rng=trainer.rngs["region_dropout"])
    generated.update(kp_source=kp_source, kp_driving=kp_driving)
    return generated


def generator_losses(trainer: Trainer, source, driving, epoch_float: float = 0.0,
                     true_disocclusion=None) -> tuple[dict, dict]:
    """L_G and the generator's outputs (keypoints added) for one batch: source, driving (B, 3, H, W);
    true_disocclusion (B, 1, H, W): the labelled oracle's label (train_params.occlusion_revealed_label truth).

    Draws the region dropout and the equivariance warp from the trainer's streams."""
    models, weights = trainer.models, trainer.config["train_params"]["loss_weights"]
    generated = generate(trainer, source, driving, epoch_float)
    kp_driving = generated["kp_driving"]
    prediction = generated["prediction"].float()
    losses = {"reconstruction": sum(term(prediction, driving, source) for term in trainer.reconstruction_loss)}
    ramp = equivariance_ramp(trainer.config["train_params"]["equivariance_warmup_epochs"], epoch_float)
    if trainer.backbone == "tpsmm":        # equivariance (keypoints only), warp and background losses
        losses.update(tpsmm_losses(models, trainer.config["train_params"], source, driving, generated, ramp,
                                   trainer.rngs["equivariance_warp"]))
    else:
        equivariance, _ = L.equivariance_losses(
            models.kp_detector, driving, {k: v.float() for k, v in kp_driving.items()},
            trainer.config["train_params"]["transform_params"], ramp * weights["equivariance_value"],
            ramp * weights["equivariance_jacobian"], generator=trainer.rngs["equivariance_warp"])
        losses.update(equivariance)
    if weights["occlusion_revealed"] and "occlusion_map" in generated:     # off (FOMM): nothing added
        train_params = trainer.config["train_params"]
        target = None
        if train_params["occlusion_revealed_label"] == "truth":                # the labelled oracle
            if true_disocclusion is None:
                raise ValueError("train_params.occlusion_revealed_label is truth, but the batch carries no "
                                 "driving_disocclusion (a world without truth files?)")
            target = occlusion_label.visible_share(true_disocclusion.to(source.device),
                                                   generated["occlusion_map"].shape[-2:])
        losses.update(occlusion_label.revealed_occlusion_loss(
            models.generator.dense_motion_network, source, driving, generated["kp_source"], kp_driving,
            generated["occlusion_map"], weights["occlusion_revealed"], train_params["occlusion_revealed_weighting"],
            train_params["occlusion_revealed_at_rest"],
            deformed=generated["deformed"] if train_params["occlusion_revealed_warp_error"] else None,
            head_only=train_params["occlusion_revealed_head_only"], motion_features=generated["motion_features"],
            target=target))
    generated.pop("motion_features", None)     # O's input, read only here: not kept past the step
    if weights["keypoint_separation"]:          # off (FOMM): nothing added to the step
        keypoints = torch.cat([generated["kp_source"]["value"], kp_driving["value"]]).float()   # (2B, K, 2)
        losses.update(L.keypoint_separation_loss(keypoints, trainer.config["train_params"]["keypoint_separation_sigma"],
                                                 weights["keypoint_separation"]))
    if trainer.adversary is not None:
        losses.update(trainer.adversary.generator_losses(prediction, driving, kp_driving))
    return losses, generated


class StepResult(NamedTuple):
    """What one training step gives back (unpacks as ``losses, generated, mixing``)."""
    losses: dict[str, float]      # every loss term of both updates, as floats
    generated: dict               # the generator's outputs (prediction (B,3,H,W), occlusion_map, ...,
    #                               kp_source, kp_driving)
    mixing: Mixing                # what the discriminator step mixed (nothing when not adversarial)


def train_step(trainer: Trainer, batch: dict, epoch_float: float) -> StepResult:
    """One generator update and (when adversarial) one discriminator update; the discriminator
    update only during the discriminator warm-up and on the steps between two generator updates
    (``Trainer.generator_updates``).

    batch: {"source": (B,3,H,W), "driving": (B,3,H,W)} and, for the oracle regularizer,
    "driving_disocclusion" (B,1,H,W); epoch_float: the fractional epoch
    (schedules of region dropout, equivariance, mixing, resolution: under
    train_params.resolution_curriculum the networks see (B,3,size,size) copies of the frames).
    """
    memory_format = torch.channels_last if trainer.config["train_params"]["channels_last"] else torch.preserve_format
    source = batch["source"].to(trainer.device, memory_format=memory_format)
    driving = batch["driving"].to(trainer.device, memory_format=memory_format)
    size = shown_size(trainer.config["train_params"]["resolution_curriculum"], epoch_float)
    source, driving = shrink(source, size), shrink(driving, size)     # the resolution curriculum (off: as they are)

    if not trainer.generator_updates(epoch_float):
        g_losses = {}
        with torch.no_grad():                       # the generator as it is: no losses, no update
            generated = generate(trainer, source, driving, epoch_float)
    elif trainer.backbone == "tpsmm":                # its optimizers' gradients are zeroed after each step
        g_losses, generated = generator_losses(trainer, source, driving, epoch_float, batch.get("driving_disocclusion"))
        sum(g_losses.values()).backward()
        tpsmm_update(trainer.models, trainer.optimizers, trainer.config["train_params"], int(epoch_float))
    else:
        for name in ("generator", "kp_detector"):
            trainer.optimizers[name].zero_grad(set_to_none=True)
        g_losses, generated = generator_losses(trainer, source, driving, epoch_float, batch.get("driving_disocclusion"))
        sum(g_losses.values()).backward()
        trainer.optimizers["generator"].step()
        trainer.optimizers["kp_detector"].step()

    if trainer.weight_average is not None and g_losses:      # the generator moved: so does its average
        trainer.weight_average.update(trainer.averaged_networks())
    d_losses, mixing = {}, Mixing()
    if "driving_disocclusion" in batch:             # the oracle regularizer's mask reads it
        generated["true_disocclusion"] = batch["driving_disocclusion"].to(trainer.device)
    if trainer.adversary is not None:
        trainer.optimizers["discriminator"].zero_grad(set_to_none=True)
        d_losses, mixing = trainer.adversary.discriminator_losses(driving, generated, epoch_float)
        sum(d_losses.values()).backward()
        trainer.optimizers["discriminator"].step()
    values = {name: float(value.detach()) for name, value in {**g_losses, **d_losses}.items()}
    return StepResult(values, generated, mixing)
