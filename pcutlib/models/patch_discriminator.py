"""FOMM's multi-scale patch discriminator (pix2pix-like), the baseline adversary.

Each scale: num_blocks conv4x4 (no padding) -> [InstanceNorm] -> LeakyReLU(0.2) -> [avg-pool 2]
blocks and a 1x1 conv to a map of patch scores. Optionally conditioned on the driving
keypoints (their Gaussian heatmaps are concatenated to the image).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcutlib.models.warping import keypoints_to_gaussian, scale_key


class PatchDownBlock(nn.Module):
    """conv4x4 (valid) -> [InstanceNorm] -> LeakyReLU(0.2) -> [avg-pool 2]."""

    def __init__(self, in_features: int, out_features: int, *, norm: bool, pool: bool, spectral_norm: bool):
        super().__init__()
        conv = nn.Conv2d(in_features, out_features, kernel_size=4)
        # torch's classic spectral_norm keeps FOMM's checkpoint keys weight_orig/_u/_v
        self.conv = nn.utils.spectral_norm(conv) if spectral_norm else conv
        self.norm = nn.InstanceNorm2d(out_features, affine=True) if norm else None
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        out = F.leaky_relu(out, 0.2)
        return F.avg_pool2d(out, (2, 2)) if self.pool else out


class PatchDiscriminator(nn.Module):
    """(B, C, H, W) [+ keypoints] -> (feature maps, one per block; prediction map (B, 1, h, w))."""

    def __init__(self, *, num_channels: int = 3, block_expansion: int = 64, num_blocks: int = 4,
                 max_features: int = 512, sn: bool = False, use_kp: bool = False, num_kp: int = 10,
                 kp_variance: float = 0.01):
        super().__init__()
        blocks = []
        for i in range(num_blocks):
            in_features = num_channels + num_kp * use_kp if i == 0 else min(max_features, block_expansion * 2 ** i)
            blocks.append(PatchDownBlock(in_features, min(max_features, block_expansion * 2 ** (i + 1)),
                                         norm=i != 0, pool=i != num_blocks - 1, spectral_norm=sn))
        self.down_blocks = nn.ModuleList(blocks)
        conv = nn.Conv2d(blocks[-1].conv.out_channels, 1, kernel_size=1)
        self.conv = nn.utils.spectral_norm(conv) if sn else conv
        self.use_kp = use_kp
        self.kp_variance = kp_variance

    def forward(self, image: torch.Tensor, kp: dict | None = None):
        out = image
        if self.use_kp:
            if kp is None:
                raise ValueError("this discriminator is keypoint-conditioned (use_kp=True): pass kp=")
            heatmap = keypoints_to_gaussian(kp["value"], image.shape[2], image.shape[3], self.kp_variance)
            out = torch.cat([out, heatmap], dim=1)
        feature_maps = []
        for block in self.down_blocks:
            out = block(out)
            feature_maps.append(out)
        return feature_maps, self.conv(out)


class MultiScalePatchDiscriminator(nn.Module):
    """One PatchDiscriminator per scale, on FOMM's pyramid dict.

    input {"prediction_<scale>": (B, C, H*scale, W*scale)} (+ kp=) ->
    {"feature_maps_<scale>": [...], "prediction_map_<scale>": (B, 1, h, w)}.
    Submodules sit under ``discs.<scale with '.' written '-'>`` as in FOMM checkpoints.
    """

    def __init__(self, *, scales=(1,), **discriminator_params):
        super().__init__()
        self.scales = list(scales)
        self.discs = nn.ModuleDict(
            {scale_key(s).replace(".", "-"): PatchDiscriminator(**discriminator_params) for s in self.scales})

    def forward(self, pyramid: dict, kp: dict | None = None) -> dict:
        out = {}
        for scale, disc in zip(self.scales, self.discs.values()):
            key = scale_key(scale)
            if f"prediction_{key}" not in pyramid:
                raise ValueError(f"the pyramid has no 'prediction_{key}' for discriminator scale {scale}; "
                                 f"got keys {sorted(pyramid)}")
            feature_maps, prediction_map = disc(pyramid[f"prediction_{key}"], kp)
            out[f"feature_maps_{key}"] = feature_maps
            out[f"prediction_map_{key}"] = prediction_map
        return out
