"""TPSMM's background motion predictor (``modules/bg_motion_predictor.py``).

A ResNet-18 on the source and driving frames stacked along the channels regresses one
affine transformation of the whole frame, which moves the background (camera motion):

    [A | b] = fc(ResNet-18(cat(source, driving)))    (6 numbers),  bg_param = [[A, b], [0, 0, 1]]

``fc`` starts at zero weights and the identity's bias (1, 0, 0, 0, 1, 0), so an untrained
predictor says "no background motion". Like the TPS transformations, bg_param maps driving
coordinates to source coordinates (the dense motion network applies it to the driving
frame's grid), and ``bg_param(source, driving) @ bg_param(driving, source)`` should be the
identity: TPSMM's background loss.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.tpsmm.resnet import ResNet18
from pcutlib.models.warping import check_image


class BackgroundMotionPredictor(nn.Module):
    """source, driving (B, C, H, W) -> bg_param (B, 3, 3), last row (0, 0, 1).

    The ResNet is ``bg_encoder`` with a 2C-channel ``conv1`` (TPSMM: 6) and a 6-output ``fc``,
    torchvision's names, so TPSMM's ``bg_predictor`` state dict loads as it is.
    """

    def __init__(self, *, num_channels: int = 3):
        super().__init__()
        self.num_channels = num_channels
        self.bg_encoder = ResNet18(num_outputs=6, in_channels=2 * num_channels)
        nn.init.zeros_(self.bg_encoder.fc.weight)
        with torch.no_grad():
            self.bg_encoder.fc.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, source_image: torch.Tensor, driving_image: torch.Tensor) -> torch.Tensor:
        check_image(source_image, "source_image", self.num_channels)
        check_image(driving_image, "driving_image", self.num_channels)
        if source_image.shape != driving_image.shape:
            raise ValueError(f"source and driving must have one shape, got {tuple(source_image.shape)} "
                             f"and {tuple(driving_image.shape)}")
        batch = source_image.shape[0]
        affine = self.bg_encoder(torch.cat([source_image, driving_image], dim=1)).reshape(batch, 2, 3)
        last_row = torch.tensor([0.0, 0.0, 1.0], dtype=affine.dtype, device=affine.device).expand(batch, 1, 3)
        return torch.cat([affine, last_row], dim=1)
