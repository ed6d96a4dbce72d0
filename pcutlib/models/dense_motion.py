"""Dense motion network: from K sparse keypoint motions to one dense flow and an occlusion map.

FOMM sec. 3.2. At the working resolution h x w (the source downsampled by scale_factor):
  1. K+1 sparse motions T_k (background k=0 is the identity), ``local_affine_motions``;
  2. the source warped by each: S_k = S o T_k;
  3. heatmap differences H_k = G(p_k^D) - G(p_k^S) (Gaussians, variance kp_variance), H_0 = 0;
  4. an hourglass on [H_k, S_k] predicts region masks M (softmax over K+1) and an occlusion
     map O (sigmoid, 1 = visible in the source, 0 = occluded);
  5. the dense backward flow T(z) = sum_k M_k(z) T_k(z).

Region dropout (training only; the Thin-Plate Spline Motion Model's remedy, CVPR 2022 sec.
3.4): each keypoint region of each sample is left out of the softmax with probability
``region_dropout``, so M_k = exp(m_k) d_k / sum_j exp(m_j) d_j with d_k ~ Bernoulli(1 - p)
and d_0 = 1 (the background always stays). Without it the mask learns within a few hundred
steps to route the figure through one or two keypoints; the others get no gradient and
their keypoints drift together. With it every region must be able to explain motion on its
own. p = 0 (the default, and always at evaluation) is FOMM's plain softmax. The trainer draws
the d_k from its own ``region_dropout`` stream (``dropout_rng``), so runs with one seed drop
the same regions whatever else they draw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcutlib.models.blocks import Hourglass
from pcutlib.models.warping import AntiAliasDownsample, deform, keypoints_to_gaussian, local_affine_motions


def checked_scale_factor(scale_factor: float) -> float:
    """``scale_factor`` when the dense motion network can work at it, in (0, 1]; else a ValueError naming it."""
    if not 0 < scale_factor <= 1:
        raise ValueError(f"dense motion scale_factor {scale_factor}: expected a number in (0, 1]")
    return scale_factor


class DenseMotionNetwork(nn.Module):
    """source (B, C, H, W), keypoints (B, K, 2) -> dict at h = H*scale_factor, w = W*scale_factor:

    ``sparse_deformed`` (B, K+1, C, h, w), ``region_mask`` (B, K+1, h, w),
    ``deformation`` (B, h, w, 2), the hourglass's ``motion_features`` (B, F, h, w) that the mask
    and occlusion heads read, and ``occlusion_map`` (B, 1, h, w) when estimated.
    """

    def __init__(self, *, block_expansion: int, num_blocks: int, max_features: int, num_kp: int,
                 num_channels: int, estimate_occlusion_map: bool = False, scale_factor: float = 1,
                 kp_variance: float = 0.01):
        super().__init__()
        self.num_kp = num_kp
        self.kp_variance = kp_variance
        in_features = (num_kp + 1) * (num_channels + 1)
        self.hourglass = Hourglass(block_expansion, in_features=in_features,
                                   max_features=max_features, num_blocks=num_blocks)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
                          if estimate_occlusion_map else None)
        self.num_channels = num_channels
        self.set_scale_factor(scale_factor)

    def set_scale_factor(self, scale_factor: float) -> None:
        """Work at ``scale_factor`` of the input size from now on: the convolutions apply at any
        size and are kept; the anti-aliasing filter is made for the new factor (none at 1)."""
        self.scale_factor = checked_scale_factor(scale_factor)
        if hasattr(self, "down"):
            del self.down
        if scale_factor != 1:
            self.down = AntiAliasDownsample(self.num_channels, scale_factor).to(
                self.mask.weight.device, self.mask.weight.dtype)

    def heatmap_differences(self, kp_driving: dict, kp_source: dict, height: int, width: int) -> torch.Tensor:
        """H_k = G(p_k^D) - G(p_k^S), with a zero background channel: (B, K+1, 1, h, w)."""
        difference = (keypoints_to_gaussian(kp_driving["value"], height, width, self.kp_variance)
                      - keypoints_to_gaussian(kp_source["value"], height, width, self.kp_variance))
        background = torch.zeros_like(difference[:, :1])
        return torch.cat([background, difference], dim=1).unsqueeze(2)

    def forward(self, source_image: torch.Tensor, kp_driving: dict, kp_source: dict,
                region_dropout: float = 0.0, dropout_rng: torch.Generator | None = None) -> dict:
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        batch, channels, height, width = source_image.shape
        num_motions = self.num_kp + 1

        sparse_motions = local_affine_motions(kp_source, kp_driving, height, width)  # (B, K+1, h, w, 2)
        source_copies = source_image.unsqueeze(1).expand(batch, num_motions, channels, height, width)
        sparse_deformed = deform(source_copies.reshape(batch * num_motions, channels, height, width),
                                 sparse_motions.reshape(batch * num_motions, height, width, 2))
        sparse_deformed = sparse_deformed.reshape(batch, num_motions, channels, height, width)

        heatmaps = self.heatmap_differences(kp_driving, kp_source, height, width)   # (B, K+1, 1, h, w)
        hourglass_input = torch.cat([heatmaps, sparse_deformed], dim=2)            # (B, K+1, C+1, h, w)
        features = self.hourglass(hourglass_input.reshape(batch, -1, height, width))

        region_mask = region_softmax(self.mask(features), region_dropout, dropout_rng)  # (B, K+1, h, w)
        # T(z) = sum_k M_k(z) T_k(z)
        deformation = (region_mask.unsqueeze(-1) * sparse_motions).sum(dim=1)       # (B, h, w, 2)
        out = {"sparse_deformed": sparse_deformed, "region_mask": region_mask, "deformation": deformation,
               "motion_features": features}                                           # (B, F, h, w)
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(features))          # (B, 1, h, w)
        return out


def region_softmax(logits: torch.Tensor, dropout: float = 0.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Softmax over the K+1 region channels of (B, K+1, h, w) logits, with region dropout.

    Each keypoint channel k >= 1 of each sample is dropped with probability ``dropout``
    (background channel 0 never is); the softmax runs over the kept channels only. The
    draws come from ``generator`` (None: torch's global RNG). Returns (B, K+1, h, w).
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"region dropout must be in [0, 1), got {dropout}")
    if dropout == 0.0:
        return F.softmax(logits, dim=1)
    batch, channels = logits.shape[:2]
    keep = region_keep_mask(batch, channels, dropout, generator).to(logits.device)      # (B, K+1)
    masked = logits.masked_fill(~keep[:, :, None, None], float("-inf"))
    return F.softmax(masked, dim=1)


def region_keep_mask(batch: int, channels: int, dropout: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Which regions stay: d_k ~ Bernoulli(1 - dropout) for k >= 1, d_0 = 1 (the background).

    Drawn on the generator's device (the CPU for None). Returns (B, K+1) bool.
    """
    device = generator.device if generator is not None else None
    keep = torch.rand(batch, channels, generator=generator, device=device) >= dropout  # (B, K+1)
    keep[:, 0] = True
    return keep
