"""Building blocks shared by the keypoint detector, dense motion network and generator.

Each block is conv -> BatchNorm -> ReLU, as in FOMM (``modules/util.py``); the hourglass
is a U-Net-like encoder/decoder whose decoder concatenates the encoder's outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameBlock(nn.Module):
    """conv(k) -> BN -> ReLU, keeps the resolution. (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class DownBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> avg-pool 2. (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class UpBlock(nn.Module):
    """nearest x2 -> conv3x3 -> BN -> ReLU. (B, C_in, H, W) -> (B, C_out, 2H, 2W)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2))))


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv(ReLU(BN(conv(ReLU(BN(x)))))). Keeps (B, C, H, W)."""

    def __init__(self, features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(features, features, kernel_size=kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm2d(features, affine=True)
        self.norm2 = nn.BatchNorm2d(features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


def channels_at(level: int, block_expansion: int, max_features: int) -> int:
    """Feature count after ``level`` halvings: min(max_features, block_expansion * 2^level)."""
    return min(max_features, block_expansion * 2 ** level)


class HourglassEncoder(nn.Module):
    """num_blocks DownBlocks. (B, C, H, W) -> [x, (B, c1, H/2, W/2), ..., (B, cn, H/2^n, W/2^n)]."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock(in_features if i == 0 else channels_at(i, block_expansion, max_features),
                      channels_at(i + 1, block_expansion, max_features))
            for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class HourglassDecoder(nn.Module):
    """num_blocks UpBlocks, each followed by concatenation with the matching encoder output.

    Encoder outputs [x, e1, ..., en] -> (B, block_expansion + C_in, H, W).
    """

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            # the deepest block sees only the bottleneck; the others see upsampled + skip
            multiplier = 1 if i == num_blocks - 1 else 2
            blocks.append(UpBlock(multiplier * channels_at(i + 1, block_expansion, max_features),
                                  channels_at(i, block_expansion, max_features)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        skips = list(encoded)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class Hourglass(nn.Module):
    """Encoder/decoder with skips. (B, C_in, H, W) -> (B, block_expansion + C_in, H, W).

    H and W must be divisible by 2^num_blocks.
    """

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        self.num_blocks = num_blocks
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2 ** self.num_blocks
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"the hourglass halves its input {self.num_blocks} times (num_blocks), so "
                             f"its input size must be divisible by {factor}; got {x.shape[2]}x{x.shape[3]}")
        return self.decoder(self.encoder(x))
