"""TPSMM's dense motion network (``modules/dense_motion.py``): K+1 transformations, their
contribution maps, one dense flow, and occlusion masks at four resolutions.

At the working resolution h x w (the source downsampled by scale_factor):
  1. K thin-plate splines T_1..T_K, each fitted to 5 keypoint pairs (``tps.KeypointTPS``), and
     the background T_0: the identity, or the affine ``bg_param`` when given;
  2. the source warped by each: S_k = S o T_k;
  3. heatmap differences G(p^D) - G(p^S) of all 5K keypoints (not grouped by transformation),
     after one zero channel;
  4. an hourglass on [heatmaps, S_0..S_K] predicts contribution maps M (softmax over K+1,
     TPSMM eq. 5) and occlusion masks;
  5. the dense backward flow T(z) = sum_k M_k(z) T_k(z) (eq. 6).

Occlusion masks (multi_mask): four maps, coarse to fine. The coarsest ones come from the last
decoder levels of the hourglass; the rest from extra up-sampling blocks (``up``) after its
finest level, log2(1/scale_factor) of them, so that the last mask has the input image's size.
For scale_factor 1/4 and a 64 x 64 image: 8, 16 (hourglass), 32, 64 (``up``). Each is
sigmoid(conv7x7(features)). Without multi_mask: one mask at h x w.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pcutlib.models.blocks import Hourglass, UpBlock
from pcutlib.models.tpsmm.blocks import decoder_channels, hourglass_levels, with_instance_norm
from pcutlib.models.tpsmm.keypoint_detector import POINTS_PER_TPS
from pcutlib.models.tpsmm.tps import KeypointTPS
from pcutlib.models.warping import AntiAliasDownsample, check_image, deform, keypoints_to_gaussian, make_coordinate_grid

NUM_OCCLUSION_MAPS = 4   # fixed in TPSMM, one per scale of the inpainting network
DROPOUT_EPS = 1e-6       # TPSMM's dropout softmax adds it to the denominator


class TPSDenseMotionNetwork(nn.Module):
    """source (B, C, H, W), keypoints {"value": (B, 5K, 2)}, bg_param (B, 3, 3) or None -> dict at
    h = H*scale_factor, w = W*scale_factor:

    ``deformed_source`` (B, K+1, C, h, w), ``contribution_maps`` (B, K+1, h, w) (channel 0: the
    background), ``deformation`` (B, h, w, 2), ``occlusion_map`` a list of 4 (B, 1, h_i, w_i),
    coarse to fine, h_i = H / 2^(3-i) (one (B, 1, h, w) without multi_mask).

    Layers (TPSMM's names): ``down`` (anti-aliased downsampling), ``hourglass`` (InstanceNorm),
    ``maps`` (contribution logits), ``up`` and ``occlusion`` (ModuleLists).
    """

    def __init__(self, *, block_expansion: int, num_blocks: int, max_features: int, num_tps: int,
                 num_channels: int, scale_factor: float = 0.25, bg: bool = False, multi_mask: bool = True,
                 kp_variance: float = 0.01):
        super().__init__()
        if scale_factor != 1:
            self.down = AntiAliasDownsample(num_channels, scale_factor)
        self.num_tps = num_tps
        self.num_channels = num_channels
        self.scale_factor = scale_factor
        self.bg = bg        # TPSMM keeps the flag here too; the background moves whenever bg_param is given
        self.multi_mask = multi_mask
        self.kp_variance = kp_variance
        in_features = num_channels * (num_tps + 1) + num_tps * POINTS_PER_TPS + 1
        self.hourglass = with_instance_norm(Hourglass(block_expansion, in_features=in_features,
                                                      max_features=max_features, num_blocks=num_blocks))
        channels = decoder_channels(block_expansion, in_features, num_blocks, max_features)
        self.maps = nn.Conv2d(channels[-1], num_tps + 1, kernel_size=(7, 7), padding=(3, 3))

        if multi_mask:
            self.up_nums = round(math.log2(1 / scale_factor))
            from_hourglass = NUM_OCCLUSION_MAPS - self.up_nums
            if 2 ** self.up_nums * scale_factor != 1 or not 0 <= from_hourglass <= num_blocks:
                raise ValueError(f"multi_mask needs scale_factor = 1/2^m with {NUM_OCCLUSION_MAPS - num_blocks} <= m "
                                 f"<= {NUM_OCCLUSION_MAPS} (num_blocks={num_blocks}); got {scale_factor}")
            # TPSMM halves the channel count at each extra up-sampling step, rounding down
            up_channels = [channels[-1] // 2 ** i for i in range(self.up_nums + 1)]
            self.up = nn.ModuleList(with_instance_norm(UpBlock(up_channels[i], up_channels[i + 1]))
                                    for i in range(self.up_nums))
            occlusion_in = channels[len(channels) - from_hourglass:] + up_channels[1:]
        else:
            self.up_nums = 0
            self.up = nn.ModuleList()
            occlusion_in = channels[-1:]
        self.occlusion = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=(7, 7), padding=(3, 3)) for c in occlusion_in)

    def heatmap_representations(self, kp_driving: dict, kp_source: dict, height: int, width: int) -> torch.Tensor:
        """G(p^D) - G(p^S) for every keypoint, after a zero channel: (B, 5K+1, h, w)."""
        difference = (keypoints_to_gaussian(kp_driving["value"], height, width, self.kp_variance)
                      - keypoints_to_gaussian(kp_source["value"], height, width, self.kp_variance))
        return torch.cat([torch.zeros_like(difference[:, :1]), difference], dim=1)

    def transformations(self, kp_driving: dict, kp_source: dict, bg_param: torch.Tensor | None,
                        height: int, width: int) -> torch.Tensor:
        """The K+1 sampling grids (B, K+1, h, w, 2): channel 0 the background, k >= 1 the TPS T_k.

        The background grid is bg_param applied to homogeneous coordinates (x, y, 1) and divided by
        the third (1 for TPSMM's predictor, whose last row is (0, 0, 1)); the identity without it.
        """
        kp_1 = kp_driving["value"]
        batch = kp_1.shape[0]
        tps = KeypointTPS(kp_1.reshape(batch, -1, POINTS_PER_TPS, 2),
                          kp_source["value"].reshape(batch, -1, POINTS_PER_TPS, 2))
        driving_to_source = tps.grid(height, width)                                  # (B, K, h, w, 2)
        background = make_coordinate_grid(height, width, kp_1.dtype, kp_1.device).expand(batch, 1, height, width, 2)
        if bg_param is not None:
            homogeneous = torch.cat([background, torch.ones_like(background[..., :1])], dim=-1)
            moved = (bg_param.reshape(batch, 1, 1, 1, 3, 3) @ homogeneous.unsqueeze(-1)).squeeze(-1)
            background = moved[..., :2] / moved[..., 2:3]
        return torch.cat([background, driving_to_source], dim=1)

    def forward(self, source_image: torch.Tensor, kp_driving: dict, kp_source: dict,
                bg_param: torch.Tensor | None = None, dropout: float | None = None,
                dropout_rng: torch.Generator | None = None) -> dict:
        """``dropout``: None for the plain softmax (evaluation; TPSMM's training from ``dropout_epoch``
        on), or p for TPS dropout (``tps_dropout_softmax``, draws from ``dropout_rng``)."""
        check_image(source_image, "source_image", self.num_channels)
        for name, kp in (("kp_driving", kp_driving), ("kp_source", kp_source)):
            shape = tuple(kp["value"].shape) if isinstance(kp, dict) and "value" in kp else None
            if shape != (source_image.shape[0], self.num_tps * POINTS_PER_TPS, 2):
                raise ValueError(f"{name}['value'] must be (B, 5 num_tps, 2) = ({source_image.shape[0]}, "
                                 f"{self.num_tps * POINTS_PER_TPS}, 2), got {shape}")
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        batch, channels, height, width = source_image.shape
        num_motions = self.num_tps + 1

        transformations = self.transformations(kp_driving, kp_source, bg_param, height, width)
        copies = source_image.unsqueeze(1).expand(batch, num_motions, channels, height, width)
        deformed_source = deform(copies.reshape(batch * num_motions, channels, height, width),
                                 transformations.reshape(batch * num_motions, height, width, 2))
        deformed_source = deformed_source.reshape(batch, num_motions, channels, height, width)

        heatmaps = self.heatmap_representations(kp_driving, kp_source, height, width)
        hourglass_input = torch.cat([heatmaps, deformed_source.reshape(batch, -1, height, width)], dim=1)
        levels = hourglass_levels(self.hourglass, hourglass_input)          # coarse to fine

        logits = self.maps(levels[-1])                                      # (B, K+1, h, w)
        contribution_maps = (F.softmax(logits, dim=1) if dropout is None
                             else tps_dropout_softmax(logits, dropout, dropout_rng))
        deformation = (contribution_maps.unsqueeze(-1) * transformations).sum(dim=1)   # (B, h, w, 2)

        features = levels[len(levels) - (len(self.occlusion) - self.up_nums):]
        out = levels[-1]
        for block in self.up:
            out = block(out)
            features.append(out)
        occlusion_map = [torch.sigmoid(conv(f)) for conv, f in zip(self.occlusion, features)]
        return {"deformed_source": deformed_source, "contribution_maps": contribution_maps,
                "deformation": deformation, "occlusion_map": occlusion_map}


def tps_dropout_softmax(logits: torch.Tensor, dropout: float,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Softmax over the K+1 channels of (B, K+1, h, w) logits with TPS dropout (TPSMM eqs. 7-8).

    Each transformation k >= 1 of each sample is left out with probability ``dropout`` (the
    background never is; kept where u < 1 - dropout for u ~ U[0, 1) drawn from ``generator``,
    None: torch's global RNG, so the same draws leave out the same transformations as TPSMM):
        M_k = d_k exp(m_k - max_j m_j) / (sum_j d_j exp(m_j - max_j m_j) + 1e-6).
    TPSMM quirks, kept: the 1e-6 in the denominator, and no 1/(1-p) factor: TPSMM's code divides
    the logits by 1 - p only after the exponentials are taken, so the division (eq. 8) has no
    effect. Returns (B, K+1, h, w).
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"TPS dropout must be in [0, 1), got {dropout}")
    batch, channels = logits.shape[:2]
    device = generator.device if generator is not None else None
    keep = torch.rand(batch, channels, generator=generator, device=device) < 1 - dropout   # TPSMM's rule
    keep[:, 0] = True                                                                    # (B, K+1)
    keep = keep.to(logits.device)
    exponentials = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    exponentials = exponentials * keep[:, :, None, None].to(logits.dtype)
    return exponentials / (exponentials.sum(dim=1, keepdim=True) + DROPOUT_EPS)
