"""Keypoint detector: an hourglass predicts K heatmaps; keypoints are their expectations.

FOMM sec. 3.1: for heatmap k (softmax over pixels, temperature t),
    p_k = sum_z softmax(h_k / t)(z) * z,
and, with jacobians, J_k = sum_z softmax(h_k / t)(z) * J_k(z) from 4 extra maps per
keypoint, initialised to the identity.

Coordinates are in [-1,1], x first; ``pcutlib.coordinates`` converts them to pixels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcutlib.models.blocks import Hourglass
from pcutlib.models.warping import AntiAliasDownsample, check_image, make_coordinate_grid


class KeypointDetector(nn.Module):
    """(B, C, H, W) image -> {"value": (B, K, 2), "jacobian": (B, K, 2, 2) when estimated}.

    The image is first downsampled by ``scale_factor`` (anti-aliased); the 7x7 heatmap
    convolution has padding ``pad`` (FOMM: 0, so heatmaps are 6 pixels smaller).
    """

    def __init__(self, *, block_expansion: int, num_kp: int, num_channels: int, max_features: int,
                 num_blocks: int, temperature: float, estimate_jacobian: bool = False,
                 scale_factor: float = 1, single_jacobian_map: bool = False, pad: int = 0):
        super().__init__()
        self.num_kp = num_kp
        self.num_channels = num_channels
        self.temperature = temperature
        self.scale_factor = scale_factor
        self.predictor = Hourglass(block_expansion, in_features=num_channels,
                                   max_features=max_features, num_blocks=num_blocks)
        self.kp = nn.Conv2d(self.predictor.out_filters, num_kp, kernel_size=(7, 7), padding=pad)
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4 * self.num_jacobian_maps,
                                      kernel_size=(7, 7), padding=pad)
            # start from identity jacobians: zero weights, bias (1, 0, 0, 1) per map
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
        else:
            self.jacobian = None
        if scale_factor != 1:
            self.down = AntiAliasDownsample(num_channels, scale_factor)

    def forward(self, image: torch.Tensor) -> dict:
        check_image(image, "image", self.num_channels)
        if self.scale_factor != 1:
            image = self.down(image)
        features = self.predictor(image)                                     # (B, F, h, w)
        logits = self.kp(features)                                           # (B, K, h', w')
        batch, num_kp, height, width = logits.shape
        heatmap = F.softmax(logits.reshape(batch, num_kp, -1) / self.temperature, dim=2)
        heatmap = heatmap.reshape(batch, num_kp, height, width)             # sums to 1 per keypoint
        grid = make_coordinate_grid(height, width, heatmap.dtype, heatmap.device)  # (h', w', 2)
        out = {"value": (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))}    # (B, K, 2)
        if self.jacobian is not None:
            jacobian_map = self.jacobian(features)                           # (B, 4M, h', w')
            jacobian_map = jacobian_map.reshape(batch, self.num_jacobian_maps, 4, height, width)
            jacobian = (heatmap.unsqueeze(2) * jacobian_map).sum(dim=(3, 4))  # (B, K, 4)
            out["jacobian"] = jacobian.reshape(batch, num_kp, 2, 2)
        return out
