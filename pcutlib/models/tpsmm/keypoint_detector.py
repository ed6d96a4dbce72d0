"""TPSMM's keypoint detector (``modules/keypoint_detector.py``): a ResNet-18 regresses the
keypoints directly, no heatmaps.

    value = 2 sigmoid(ResNet-18(image)) - 1,   fc: 512 -> num_tps * 5 * 2

K = num_tps thin-plate-spline transformations, 5 keypoints each; keypoints 5k .. 5k+4 belong
to transformation k. Coordinates in [-1, 1], x first, as everywhere in pcut. TPSMM names the
keypoints ``fg_kp``; pcut names them ``value``, as FOMM's, so that every tool reads keypoints of
both backbones one way.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.tpsmm.resnet import ResNet18
from pcutlib.models.warping import check_image

POINTS_PER_TPS = 5


class TPSKeypointDetector(nn.Module):
    """(B, C, H, W) image -> {"value": (B, num_tps * 5, 2)} (TPSMM's ``fg_kp``).

    The ResNet is ``fg_encoder`` (torchvision's names, so TPSMM's ``kp_detector`` state dict
    loads as it is). TPSMM builds torchvision's ResNet-18 and so always takes 3 channels;
    here its first convolution takes ``num_channels`` (3 gives TPSMM's network).
    """

    def __init__(self, *, num_tps: int, num_channels: int = 3):
        super().__init__()
        if num_tps < 1:
            raise ValueError(f"num_tps must be at least 1, got {num_tps}")
        self.num_tps = num_tps
        self.num_channels = num_channels
        self.fg_encoder = ResNet18(num_outputs=num_tps * POINTS_PER_TPS * 2, in_channels=num_channels)

    def forward(self, image: torch.Tensor) -> dict:
        check_image(image, "image", self.num_channels)
        points = torch.sigmoid(self.fg_encoder(image)) * 2 - 1                # (B, num_tps * 10)
        return {"value": points.reshape(image.shape[0], self.num_tps * POINTS_PER_TPS, 2)}
