"""The adversarial half of a training step: one small object per discriminator kind.

Both answer the two questions a step asks (``pcutlib.training.step.train_step``):

    generator_losses(prediction, driving, kp_driving) -> {name: loss}
        the generator's adversarial terms (+ feature matching), the discriminator frozen;
    discriminator_losses(driving, generated, epoch_float) -> ({name: loss}, Mixing)
        L_D on the real frames and the detached generated ones (+ the mixed image on a mixed
        step of the U-Net adversary).

    PatchAdversary  FOMM's multi-scale patch discriminator (optionally keypoint-conditioned):
                    LSGAN, feature matching on its feature maps at every scale.
    UNetAdversary   the U-Net discriminator (Schonfeld et al. 2020): BCE on the encoder logit
                    and every decoder pixel, feature matching on the encoder's features, and
                    with probability p(epoch) a CutMix or PriorityCut mixed image.

``build_adversary(trainer)`` picks the class from model_params.discriminator_params.kind.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from pcutlib.models.warping import ImagePyramid
from pcutlib.prioritycut import make_mask, mix_images, mix_probability, mixed_terms_weight
from pcutlib.training import losses as L


@dataclass
class Mixing:
    """What a discriminator step mixed: nothing (``mixed`` False), or the mask M (B,1,H,W, 1 = real
    pixel) and the mixed image M x + (1 - M) G (B,3,H,W); ``empty_foreground`` counts the samples
    whose PriorityCut foreground was empty (their mask is all ones)."""
    mixed: bool = False
    empty_foreground: int = 0
    mask: torch.Tensor | None = None
    mixed_image: torch.Tensor | None = None


@contextmanager
def frozen(module: nn.Module):
    """Parameters of ``module`` need no gradient inside the block (restored after): the graph
    built there skips the weight gradients, which the generator step would throw away."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield module
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def detach_keypoints(kp: dict) -> dict:
    return {k: v.detach() for k, v in kp.items()}


class Adversary:
    """What both kinds share: the discriminator (possibly DDP-wrapped) and its bare network, the
    loss weights, and whether to run FOMM's straightforward order (``Trainer.baseline_step``)."""
    def __init__(self, trainer):
        self.trainer = trainer
        self.weights = trainer.config["train_params"]["loss_weights"]

    @property
    def discriminator(self) -> nn.Module:
        """The module the discriminator step calls (DDP-wrapped when distributed)."""
        return self.trainer.models.discriminator

    @property
    def network(self) -> nn.Module:
        """The bare discriminator (no DDP wrapper): the generator step calls it, D is not updated there."""
        return self.trainer.network("discriminator")

    def generator_losses(self, prediction, driving, kp_driving) -> dict:
        """The generator's adversarial terms; the discriminator's weight gradients, which this step
        would throw away, are not computed at all (``frozen``), except in the baseline step."""
        with nullcontext() if self.trainer.baseline_step else frozen(self.network):
            return self._generator_losses(prediction, driving, kp_driving)

    def _generator_losses(self, prediction, driving, kp_driving) -> dict:
        raise NotImplementedError

    def discriminator_losses(self, driving, generated: dict, epoch_float: float) -> tuple[dict, Mixing]:
        raise NotImplementedError


class PatchAdversary(Adversary):
    """FOMM's patch discriminator on an image pyramid: LSGAN (real -> 1, fake -> 0), feature
    matching on every scale's feature maps, keypoints of the driving frame as extra input
    channels when the discriminator uses them."""
    def __init__(self, trainer):
        super().__init__(trainer)

        self.scales = self.network.scales
        self.pyramid = ImagePyramid(self.scales, trainer.config["model_params"]["common_params"]["num_channels"]
                                    ).to(trainer.device)

    def _generator_losses(self, prediction, driving, kp_driving) -> dict:
        kp = detach_keypoints(kp_driving)
        fake_maps = self.network(self.pyramid(prediction), kp=kp)
        losses = L.lsgan_generator_loss(fake_maps, self.scales, self.weights["generator_gan"])
        if any(weight != 0 for weight in self.weights["feature_matching"]):
            with torch.no_grad():
                real_maps = self.network(self.pyramid(driving), kp=kp)
            losses.update(L.feature_matching_loss(real_maps, fake_maps, self.scales, self.weights["feature_matching"]))
        return losses

    def discriminator_losses(self, driving, generated: dict, epoch_float: float) -> tuple[dict, Mixing]:
        fake = generated["prediction"].detach().float()
        kp = detach_keypoints(generated["kp_driving"])
        # one forward on real and fake together: one DDP synchronisation per step
        both = self.discriminator(self.pyramid(torch.cat([driving, fake])),
                                  kp={k: torch.cat([v, v]) for k, v in kp.items()})
        batch = driving.shape[0]
        real_maps = {k: v[:batch] for k, v in both.items() if k.startswith("prediction_map")}
        fake_maps = {k: v[batch:] for k, v in both.items() if k.startswith("prediction_map")}
        return L.lsgan_discriminator_loss(real_maps, fake_maps, self.scales, self.weights["discriminator_gan"]), Mixing()


class UNetAdversary(Adversary):
    """The U-Net discriminator with the run's regularizer (none, CutMix or PriorityCut)."""
    def __init__(self, trainer):
        super().__init__(trainer)
        self.regularizer = trainer.regularizer

    def _generator_losses(self, prediction, driving, kp_driving) -> dict:
        fake_out = self.network(prediction)
        losses = L.unet_generator_loss(fake_out, self.weights["generator_gan"])
        if any(weight != 0 for weight in self.weights["feature_matching"]):
            with torch.no_grad():
                real_features = self.network(driving)["features"]
            losses.update(L.unet_feature_matching_loss(real_features, fake_out["features"],
                                                       self.weights["feature_matching"]))
        return losses

    def epochs_mixing(self, epoch_float: float) -> float:
        """Epochs since mixing may begin (the end of the discriminator warm-up); < 0 before it."""
        return epoch_float - self.trainer.config["train_params"]["discriminator_warmup_epochs"]

    def plain_decoder_terms(self, epoch_float: float) -> str:
        """This step's plain decoder terms for ``losses.unet_discriminator_loss``: "both", unless
        regularizer.decoder_plain_terms says otherwise and mixing may begin. From then on the decoder
        no longer learns "every pixel of a generated frame is fake" (most are copied from the source,
        pixel for real pixel), only the true pixel labels of mixed images: "none" (until_mixing) or
        "real" (real_after_mixing, BCE(D_dec(x), 1) kept). The encoder keeps its real/fake terms."""
        terms = self.regularizer.decoder_plain_terms
        if self.regularizer.type == "none" or terms == "always" or self.epochs_mixing(epoch_float) < 0:
            return "both"
        return "none" if terms == "until_mixing" else "real"

    def draw_mixing(self, driving, fake, generated: dict, epoch_float: float) -> Mixing:
        """Whether this step mixes (one draw from the trainer's "mixing" stream while p > 0) and,
        if so, the mask (CutMix boxes from the "cutmix_box" stream) and the mixed image of driving
        and fake (the detached prediction, (B,3,H,W)).

        Mixing waits for the discriminator warm-up (train_params.discriminator_warmup_epochs) to
        end, and its ramp (regularizer.mix_warmup_epochs) counts from there: a discriminator that
        meets mixed images while it learns real from fake stays at chance (measured in ``pcut
        experiment``: held-out image AUC 0.53 with CutMix and 0.54 with PriorityCut after 60
        warm-up epochs, 0.88 without mixing). The warm-up then draws nothing from the mixing
        streams, so it is the same for every regularizer."""
        regularizer, rngs = self.regularizer, self.trainer.rngs
        since = self.epochs_mixing(epoch_float)
        if regularizer.type == "none" or since < 0:
            return Mixing()
        probability = mix_probability(since, regularizer.mix_probability, regularizer.mix_warmup_epochs)
        if probability == 0 or torch.rand((), generator=rngs["mixing"]).item() >= probability:
            return Mixing()
        maps = {k: v.detach() for k, v in generated.items() if torch.is_tensor(v)}
        mask, empty = make_mask(regularizer, maps, driving, generator=rngs["cutmix_box"])
        return Mixing(mixed=True, empty_foreground=int(empty), mask=mask, mixed_image=mix_images(driving, fake, mask))

    def discriminator_losses(self, driving, generated: dict, epoch_float: float) -> tuple[dict, Mixing]:
        fake = generated["prediction"].detach().float()
        mixing = self.draw_mixing(driving, fake, generated, epoch_float)
        images = [driving, fake] + ([mixing.mixed_image] if mixing.mixed else [])
        outputs = self.discriminator(torch.cat(images))                  # one forward for all
        batch = len(driving)
        real, fake_out, *mixed = [{k: v[i * batch:(i + 1) * batch] for k, v in outputs.items() if k != "features"}
                                  for i in range(len(images))]
        factor = L.unet_plain_loss_factor(self.regularizer.mixed_round_weights, mixing.mixed)
        losses = (L.unet_discriminator_loss(real, fake_out, factor * self.weights["discriminator_gan"],
                                            self.plain_decoder_terms(epoch_float)) if factor else {})
        if mixing.mixed:
            mixed_terms = L.unet_mixed_loss(mixed[0], mixing.mask, real, fake_out,
                                            self.regularizer.consistency_weight, self.regularizer.all_ones_masks,
                                            self.regularizer.mixed_pixel_weighting)
            weight = mixed_terms_weight(self.epochs_mixing(epoch_float), self.regularizer.mixed_terms_warmup_epochs)
            losses.update({name: weight * value for name, value in mixed_terms.items()})
        return losses, mixing


ADVERSARIES = {"patch": PatchAdversary, "unet": UNetAdversary}


def build_adversary(trainer) -> Adversary:
    """The adversary of model_params.discriminator_params.kind (patch or unet)."""
    kind = trainer.config["model_params"]["discriminator_params"]["kind"]
    if kind not in ADVERSARIES:
        raise ValueError(f"model_params.discriminator_params.kind must be one of {sorted(ADVERSARIES)}, got {kind!r}")
    return ADVERSARIES[kind](trainer)
