"""Discriminator regularizers: PriorityCut, CutMix, image mixing and the consistency loss.

Both regularizers produce a binary mask M of shape (B, 1, H, W):
    M = 1 -> take the real pixel,  M = 0 -> take the generated pixel,
    mixed = M * real + (1 - M) * fake.
The U-Net discriminator is then trained to say "real" exactly where M = 1 (see
``pcutlib.training.losses.unet_mixed_loss``).

- CutMix (U-Net GAN, Schonfeld et al. CVPR 2020): M = 0 inside one random box.
- PriorityCut (Cheung & Chae 2021): M = 0 at the top-k percent most occluded foreground
  pixels of the dense motion network's occlusion map (docs/algorithm.md, PriorityCut).
- The oracle PriorityCut (pcut's upper bound, synthetic world only): the same top-k of the
  same foreground, ranked by the true dis-occlusion instead of O (``oracle_occlusion_map``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pcutlib.config import SCHEMA, check_keys, check_value, default, key_at

# --------------------------------------------------------------------------- PriorityCut

def foreground_pixels(region_mask: torch.Tensor, foreground_threshold: float = 0.5,
                      foreground: str = "region") -> torch.Tensor:
    """Which pixels count as foreground: F = R[:, 0] < threshold (R[:, 0] = background region).

    region_mask: (B, K+1, h, w) softmax over regions, channel 0 = background.
    foreground="all" makes every pixel foreground. Returns (B, h, w) bool.
    """
    background = region_mask[:, 0]                                   # (B, h, w)
    if foreground == "all":
        return torch.ones_like(background, dtype=torch.bool)
    return background < foreground_threshold


def prioritycut_mask(occlusion_map: torch.Tensor, region_mask: torch.Tensor, top_k_percent: float,
                     foreground_threshold: float = 0.5, size: tuple[int, int] | None = None,
                     foreground: str = "region") -> torch.Tensor:
    """PriorityCut mask: the generated image shows through at the most occluded foreground pixels.

    With O = occlusion_map (1 = visible, 0 = occluded), F the foreground and k = top_k_percent:
        n = ceil(k * |F| / 100)                  per sample, k * |F| multiplied first, float64
        M(z) = 0  if z is one of the n pixels of F with the smallest O(z)   (ties: lowest flat index)
        M(z) = 1  otherwise
    so an empty foreground or k = 0 gives M = 1 everywhere. M is finally upsampled to ``size``
    with nearest neighbour (the blocky mask of the paper's teaser). No gradient flows through M.

    occlusion_map: (B, 1, h, w) in [0, 1]; region_mask: (B, K+1, h, w), channel 0 = background;
    size: (H, W) of the images, or None to keep (h, w). Returns (B, 1, H, W) float, values 0/1.
    """
    _check_prioritycut_inputs(occlusion_map, region_mask, top_k_percent, foreground_threshold, foreground)
    with torch.no_grad():
        batch, _, height, width = occlusion_map.shape
        is_foreground = foreground_pixels(region_mask, foreground_threshold, foreground).reshape(batch, -1)
        num_foreground = is_foreground.sum(dim=1, dtype=torch.float64)                  # (B,)
        num_selected = torch.ceil(num_foreground * top_k_percent / 100)                 # (B,) n = ceil(k|F|/100)

        # Sort key: occlusion inside F, +inf outside, so the n most occluded foreground pixels
        # come first; the stable sort keeps equal values in flat-index order.
        key = occlusion_map.reshape(batch, -1).masked_fill(~is_foreground, float("inf"))  # (B, h*w)
        order = torch.argsort(key, dim=1, stable=True)                                   # (B, h*w)
        rank = torch.empty_like(order).scatter_(                                         # rank[b, order[b, i]] = i
            1, order, torch.arange(key.shape[1], device=key.device).expand_as(order))
        selected = rank < num_selected[:, None]                                          # (B, h*w)

        mask = (~selected).to(occlusion_map.dtype).reshape(batch, 1, height, width)
        if size is not None:
            mask = F.interpolate(mask, size=tuple(size), mode="nearest")
    return mask


def oracle_occlusion_map(true_disocclusion: torch.Tensor, occlusion_map: torch.Tensor) -> torch.Tensor:
    """The score the oracle PriorityCut ranks instead of O: an upper bound that real data cannot
    have, since it reads the synthetic world's true dis-occlusion D.

    On O's grid (h, w), with s(z) the share of the image pixels under cell z that are truly
    dis-occluded and c = (H/h) * (W/w) pixels per cell:
        oracle(z) = ((1 - s(z)) * (c + 1) + O(z)) / (c + 2)          in [0, 1]
    Shares differ by at least 1/c, so cells rank by their share first (most dis-occluded first)
    and O only orders cells of equal share (the rest of the top k when fewer than k percent of
    the foreground is dis-occluded). ``prioritycut_mask`` of this score is the oracle's mask.

    true_disocclusion: (B, 1, H, W) in [0, 1]; occlusion_map: (B, 1, h, w), H and W multiples of
    h and w; a 0/1 truth (shares are then multiples of 1/c). Returns (B, 1, h, w) float32.
    """
    batch, _, height, width = true_disocclusion.shape
    h, w = occlusion_map.shape[2:]
    if true_disocclusion.shape[0] != occlusion_map.shape[0] or height % h or width % w:
        raise ValueError(f"true_disocclusion {tuple(true_disocclusion.shape)} must share the batch of "
                         f"occlusion_map {tuple(occlusion_map.shape)} and be a whole multiple of its size")
    cell = (height // h) * (width // w)
    # float32 (float64 beyond 2^16 pixels a cell): in bf16 the O term, 1/(c+2) of the score, would round away
    dtype = torch.float64 if cell > 2 ** 16 else torch.float32
    share = F.avg_pool2d(true_disocclusion.to(dtype), (height // h, width // w))                 # (B, 1, h, w)
    return ((1 - share) * (cell + 1) + occlusion_map.to(dtype)) / (cell + 2)


def count_empty_foreground(region_mask: torch.Tensor, foreground_threshold: float = 0.5,
                           foreground: str = "region") -> int:
    """How many samples of the batch have no foreground pixel (their PriorityCut mask is all ones)."""
    is_foreground = foreground_pixels(region_mask, foreground_threshold, foreground)  # (B, h, w)
    return int((~is_foreground.flatten(1).any(dim=1)).sum())


def prioritycut_mask_with_stats(occlusion_map: torch.Tensor, region_mask: torch.Tensor,
                                top_k_percent: float, foreground_threshold: float = 0.5,
                                size: tuple[int, int] | None = None,
                                foreground: str = "region") -> tuple[torch.Tensor, int]:
    """:func:`prioritycut_mask` plus the number of samples with an empty foreground (for the log).

    Returns (mask (B, 1, H, W), num_empty_foreground).
    """
    mask = prioritycut_mask(occlusion_map, region_mask, top_k_percent, foreground_threshold, size, foreground)
    return mask, count_empty_foreground(region_mask, foreground_threshold, foreground)


def _check_prioritycut_inputs(occlusion_map, region_mask, top_k_percent, foreground_threshold, foreground):
    _check_top_k(top_k_percent)
    _check_foreground(foreground, foreground_threshold)
    if not torch.is_tensor(occlusion_map) or occlusion_map.dim() != 4 or occlusion_map.shape[1] != 1:
        shape = tuple(occlusion_map.shape) if torch.is_tensor(occlusion_map) else type(occlusion_map).__name__
        raise ValueError(f"occlusion_map must be (B, 1, h, w), got {shape}")
    if not torch.is_tensor(region_mask) or region_mask.dim() != 4:
        shape = tuple(region_mask.shape) if torch.is_tensor(region_mask) else type(region_mask).__name__
        raise ValueError(f"region_mask must be (B, K+1, h, w), got {shape}")
    if region_mask.shape[0] != occlusion_map.shape[0] or region_mask.shape[2:] != occlusion_map.shape[2:]:
        raise ValueError(f"region_mask {tuple(region_mask.shape)} and occlusion_map "
                         f"{tuple(occlusion_map.shape)} must share batch and (h, w)")
    if not bool(torch.isfinite(occlusion_map).all()):
        raise ValueError("occlusion_map contains NaN or infinite values")


def _check_top_k(top_k_percent) -> None:
    check_value("regularizer.top_k_percent", top_k_percent, key_at("regularizer.top_k_percent"))


def _check_foreground(foreground, foreground_threshold) -> None:
    check_value("regularizer.foreground", foreground, key_at("regularizer.foreground"))
    check_value("regularizer.foreground_threshold", foreground_threshold, key_at("regularizer.foreground_threshold"))


# --------------------------------------------------------------------------- CutMix

def cutmix_mask(batch_size: int, height: int, width: int, generator: torch.Generator | None = None,
                device=None) -> torch.Tensor:
    """CutMix mask as U-Net GAN draws it, one independent box per sample.

        lambda ~ Beta(1, 1) = U(0, 1)
        cut_w = int(W * sqrt(1 - lambda)),  cut_h = int(H * sqrt(1 - lambda))   (area share 1 - lambda)
        centre (cx, cy) uniform over the pixels; box [cx - cut_w//2, cx + cut_w//2) x [cy - ..., ...)
        clipped to the image; M = 0 inside the box, 1 outside; then M <- 1 - M with probability 0.5.

    All randomness comes from ``generator`` (drawn on the CPU, so a seed reproduces the masks
    on any device). Returns (B, 1, H, W) float32 on ``device``.
    """
    if batch_size < 1 or height < 1 or width < 1:
        raise ValueError(f"cutmix_mask needs positive sizes, got batch_size={batch_size}, "
                         f"height={height}, width={width}")
    lam = torch.rand(batch_size, generator=generator, dtype=torch.float64)              # (B,)
    cut_ratio = torch.sqrt(1 - lam)
    cut_w = (width * cut_ratio).long()                                                   # (B,) truncated as int()
    cut_h = (height * cut_ratio).long()
    centre_x = torch.randint(width, (batch_size,), generator=generator)                  # (B,)
    centre_y = torch.randint(height, (batch_size,), generator=generator)
    invert = torch.rand(batch_size, generator=generator) < 0.5                           # (B,)

    x0 = (centre_x - cut_w // 2).clamp(0, width)                                         # clip the box
    x1 = (centre_x + cut_w // 2).clamp(0, width)
    y0 = (centre_y - cut_h // 2).clamp(0, height)
    y1 = (centre_y + cut_h // 2).clamp(0, height)
    xs = torch.arange(width).view(1, 1, width)
    ys = torch.arange(height).view(1, height, 1)
    inside = ((xs >= x0.view(-1, 1, 1)) & (xs < x1.view(-1, 1, 1))
              & (ys >= y0.view(-1, 1, 1)) & (ys < y1.view(-1, 1, 1)))                    # (B, H, W)
    mask = (~inside) ^ invert.view(-1, 1, 1)                                             # 0 inside, maybe inverted
    return mask.unsqueeze(1).to(device=device, dtype=torch.float32)


# --------------------------------------------------------------------------- mixing, consistency, schedule

def mix_images(real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mixed = M * real + (1 - M) * fake.  real, fake: (B, C, H, W); mask: (B, 1, H, W)."""
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != real.shape[0] \
            or mask.shape[2:] != real.shape[2:] or real.shape != fake.shape:
        raise ValueError(f"mix_images needs real and fake (B, C, H, W) of one shape and a mask "
                         f"(B, 1, H, W); got real {tuple(real.shape)}, fake {tuple(fake.shape)}, "
                         f"mask {tuple(mask.shape)}")
    return mask * real + (1 - mask) * fake


def consistency_loss(pixel_logits_mixed: torch.Tensor, pixel_logits_real: torch.Tensor,
                     pixel_logits_fake: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CutMix consistency of the U-Net decoder (U-Net GAN eq. 4), on logits:

        L_cons = mean_z ( D_dec(mix(x, G, M))(z) - [M(z) D_dec(x)(z) + (1 - M(z)) D_dec(G)(z)] )^2

    The decoder should answer for a mixed image what it answers for the real and the fake
    image, pixel by pixel. All inputs (B, 1, H, W); returns a scalar.
    """
    target = mask * pixel_logits_real + (1 - mask) * pixel_logits_fake
    return F.mse_loss(pixel_logits_mixed, target)


def linear_ramp(epochs: float, warmup_epochs: float, key: str) -> float:
    """min(1, epochs / warmup_epochs), 1 if warmup_epochs is 0: the ramps of the mixing
    probability and of the mixed terms' weight. ``key`` names the config key in errors."""
    if warmup_epochs < 0:
        raise ValueError(f"{key} must be >= 0, got {warmup_epochs!r}")
    if epochs < 0:
        raise ValueError(f"epoch must be >= 0, got {epochs!r}")
    return 1.0 if warmup_epochs == 0 else float(min(1.0, epochs / warmup_epochs))


def mixed_terms_weight(epochs_mixing: float, warmup_epochs: float) -> float:
    """Weight of a mixed step's terms (mixed encoder and decoder BCE, consistency) after
    ``epochs_mixing`` epochs of mixing: min(1, epochs_mixing / warmup_epochs), 1 if warmup is 0.

    A discriminator warmed up on whole real and generated frames answers a mostly-real mixed
    image with a confident "real": its first mixed terms can be 100x its plain ones, and Adam
    turns that jump into a step up to ~16x the learning rate (regularizer.mixed_terms_warmup_epochs)."""
    return linear_ramp(epochs_mixing, warmup_epochs, "mixed_terms_warmup_epochs")


def mix_probability(epoch_float: float, probability: float = 0.5, warmup_epochs: float = 1.0) -> float:
    """Chance of a mixed discriminator step at (fractional) epoch ``epoch_float``, reaching
    ``probability`` (regularizer.mix_probability) after ``warmup_epochs``:

        p(t) = probability * min(1, t / warmup_epochs)     (p = probability if warmup = 0)

    A linear ramp from 0, because the occlusion map means nothing early in training.
    """
    if not 0 <= probability <= 1:
        raise ValueError(f"mix_probability must be in [0, 1], got {probability!r}")
    return float(probability * linear_ramp(epoch_float, warmup_epochs, "mix_warmup_epochs"))


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class RegularizerConfig:
    """The ``regularizer:`` section of a config. Defaults, types and ranges are the config
    schema's (``pcutlib.config.SCHEMA["regularizer"]``, where each key is explained)."""
    type: str = default("regularizer.type")                           # none | cutmix | prioritycut | oracle
    top_k_percent: float = default("regularizer.top_k_percent")
    foreground: str = default("regularizer.foreground")               # region | all
    foreground_threshold: float = default("regularizer.foreground_threshold")
    mix_probability: float = default("regularizer.mix_probability")
    mix_warmup_epochs: float = default("regularizer.mix_warmup_epochs")
    consistency_weight: float = default("regularizer.consistency_weight")
    mixed_terms_warmup_epochs: float = default("regularizer.mixed_terms_warmup_epochs")
    all_ones_masks: str = default("regularizer.all_ones_masks")       # leave_out | fake
    mixed_round_weights: str = default("regularizer.mixed_round_weights")  # sum | unetgan
    mixed_pixel_weighting: str = default("regularizer.mixed_pixel_weighting")  # mean | balanced
    decoder_plain_terms: str = default("regularizer.decoder_plain_terms")  # always | until_mixing | real_after_mixing

    def __post_init__(self):
        check_keys(self.to_dict(), SCHEMA["regularizer"], "regularizer")

    @classmethod
    def from_dict(cls, values: dict | None) -> "RegularizerConfig":
        """Build from a yaml section; an unknown key is an error that names it."""
        values = dict(values or {})
        check_keys(values, SCHEMA["regularizer"], "regularizer")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_mask(config: RegularizerConfig, generated: dict, real_image: torch.Tensor,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
    """The mixing mask for the configured regularizer, at the image size.

    generated: the generator's output (PriorityCut reads ``occlusion_map`` (B,1,h,w) and
    ``region_mask`` (B,K+1,h,w)); real_image: (B, C, H, W). Returns (mask (B, 1, H, W),
    number of samples with an empty foreground (always 0 for CutMix)).
    """
    batch, _, height, width = real_image.shape
    if config.type == "prioritycut":
        return prioritycut_mask_with_stats(generated["occlusion_map"], generated["region_mask"],
                                           config.top_k_percent, config.foreground_threshold,
                                           size=(height, width), foreground=config.foreground)
    if config.type == "oracle":
        if "true_disocclusion" not in generated:
            raise ValueError("regularizer.type 'oracle' ranks the true dis-occlusion, but the batch has none: "
                             "train on a synthetic world (its truth beside each video)")
        oracle = oracle_occlusion_map(generated["true_disocclusion"], generated["occlusion_map"])
        return prioritycut_mask_with_stats(oracle, generated["region_mask"], config.top_k_percent,
                                           config.foreground_threshold, size=(height, width),
                                           foreground=config.foreground)
    if config.type == "cutmix":
        return cutmix_mask(batch, height, width, generator=generator, device=real_image.device), 0
    raise ValueError(f"regularizer type {config.type!r} makes no mask (expected cutmix, prioritycut or oracle)")
