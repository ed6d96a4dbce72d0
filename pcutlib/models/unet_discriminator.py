"""U-Net discriminator (Schonfeld et al., CVPR 2020): one logit per image and one per pixel.

The encoder is BigGAN's discriminator: residual blocks that halve the resolution, then
ReLU, a global sum over pixels and a linear layer -> one logit per image. The decoder
mirrors the encoder with residual blocks that double the resolution; at each resolution it
concatenates the encoder's features (U-Net skips) and ends in a 1x1 convolution -> one
logit per pixel at the input resolution. The per-pixel head is what CutMix and PriorityCut
train (docs/algorithm.md, the U-Net discriminator).

Channels, with c = block_expansion and n = num_blocks (c_i = min(c * 2^i, max_features)):
    image (C, H)  -> down_0 -> (c_0, H/2) -> ... -> down_{n-1} -> (c_{n-1}, H/2^n)   encoder
    (c_{n-1}, H/2^n) -> up_0 -> (c_{n-2}, H/2^{n-1}) ; cat skip -> up_1 -> ... -> up_{n-1} -> (c, H)
    -> ReLU -> conv1x1 -> (1, H)                                                      decoder
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as add_spectral_norm


def _maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    return add_spectral_norm(module) if enabled else module


class ResidualDownBlock(nn.Module):
    """BigGAN discriminator block: (B, C_in, H, W) -> (B, C_out, H/2, W/2).

        out = avgpool(conv3x3(relu(conv3x3(relu(x))))) + avgpool(conv1x1(x))
    The first block of the encoder skips the leading ReLU (its input is the image).
    """

    def __init__(self, in_channels: int, out_channels: int, *, preactivation: bool, spectral_norm: bool):
        super().__init__()
        self.preactivation = preactivation
        self.conv1 = _maybe_spectral_norm(nn.Conv2d(in_channels, out_channels, 3, padding=1), spectral_norm)
        self.conv2 = _maybe_spectral_norm(nn.Conv2d(out_channels, out_channels, 3, padding=1), spectral_norm)
        self.shortcut = _maybe_spectral_norm(nn.Conv2d(in_channels, out_channels, 1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        h = F.avg_pool2d(h, 2)
        if self.preactivation:
            skip = F.avg_pool2d(self.shortcut(x), 2)   # BigGAN: conv then pool after the first block
        else:
            skip = self.shortcut(F.avg_pool2d(x, 2))   # first block: pool then conv (the raw image)
        return h + skip


class ResidualUpBlock(nn.Module):
    """BigGAN generator block without batch norm: (B, C_in, H, W) -> (B, C_out, 2H, 2W).

        out = conv3x3(relu(conv3x3(up(relu(x))))) + conv1x1(up(x)),   up = nearest x2
    """

    def __init__(self, in_channels: int, out_channels: int, *, spectral_norm: bool):
        super().__init__()
        self.conv1 = _maybe_spectral_norm(nn.Conv2d(in_channels, out_channels, 3, padding=1), spectral_norm)
        self.conv2 = _maybe_spectral_norm(nn.Conv2d(out_channels, out_channels, 3, padding=1), spectral_norm)
        self.shortcut = _maybe_spectral_norm(nn.Conv2d(in_channels, out_channels, 1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(x), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.conv1(h)))
        skip = self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))
        return h + skip


class UNetDiscriminator(nn.Module):
    """U-Net discriminator with an image logit (encoder) and pixel logits (decoder).

    Args (keyword only):
        num_channels: image channels C.
        block_expansion: channels of the first block; doubled per block up to max_features.
        max_features: channel cap.
        num_blocks: number of downsampling blocks n; None derives it from image_size so that
            the bottleneck is 4x4 (image_size must then be a power of two >= 8).
        spectral_norm: spectral normalisation on every conv and linear layer (as BigGAN/U-Net GAN).
        image_size: side of the (square) training images; images of any size divisible by
            2^n work at run time.

    forward(image (B, C, H, W)) -> {"logit": (B,), "pixel_logits": (B, 1, H, W),
                                    "features": [encoder outputs (B, c_i, H/2^(i+1), W/2^(i+1))]}
    """

    def __init__(self, *, num_channels: int = 3, block_expansion: int = 64, max_features: int = 512,
                 num_blocks: int | None = None, spectral_norm: bool = True, image_size: int = 256):
        super().__init__()
        for name, value in (("num_channels", num_channels), ("block_expansion", block_expansion),
                            ("max_features", max_features), ("image_size", image_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_blocks is None:
            num_blocks = self._derive_num_blocks(image_size)
        if not isinstance(num_blocks, int) or num_blocks < 1:
            raise ValueError(f"num_blocks must be a positive int, got {num_blocks!r}")
        if image_size % 2 ** num_blocks != 0:
            raise ValueError(f"image_size {image_size} is not divisible by 2**num_blocks = "
                             f"{2 ** num_blocks} (num_blocks={num_blocks})")
        self.num_channels = num_channels
        self.num_blocks = num_blocks
        self.image_size = image_size

        channels = [min(block_expansion * 2 ** i, max_features) for i in range(num_blocks)]  # c_0 .. c_{n-1}
        self.down_blocks = nn.ModuleList(
            ResidualDownBlock(num_channels if i == 0 else channels[i - 1], channels[i],
                              preactivation=i > 0, spectral_norm=spectral_norm)
            for i in range(num_blocks))
        self.image_head = _maybe_spectral_norm(nn.Linear(channels[-1], 1), spectral_norm)

        # Up block j turns resolution H/2^(n-j) into H/2^(n-j-1). Its input is the bottleneck
        # (j = 0) or the previous up block's output concatenated with the encoder's features of
        # the same resolution, both with c_{n-1-j} channels.
        up_blocks = []
        for j in range(num_blocks):
            in_channels = channels[-1] if j == 0 else 2 * channels[num_blocks - 1 - j]
            out_channels = channels[num_blocks - 2 - j] if j < num_blocks - 1 else block_expansion
            up_blocks.append(ResidualUpBlock(in_channels, out_channels, spectral_norm=spectral_norm))
        self.up_blocks = nn.ModuleList(up_blocks)
        self.pixel_head = _maybe_spectral_norm(nn.Conv2d(block_expansion, 1, 1), spectral_norm)
        # Zero biases: spectral norm rescales weights, not biases, and with PyTorch's default
        # bias init a thin network can start out answering the same logit for every image.
        for name, parameter in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(parameter)

    @staticmethod
    def _derive_num_blocks(image_size: int) -> int:
        """n with a 4x4 bottleneck: n = log2(image_size) - 2 (64 -> 4, 128 -> 5, 256 -> 6)."""
        if image_size < 8 or image_size & (image_size - 1) != 0:
            raise ValueError(f"cannot derive num_blocks from image_size {image_size}: it must be a "
                             f"power of two >= 8, or give num_blocks explicitly")
        return int(math.log2(image_size)) - 2

    def forward(self, image: torch.Tensor) -> dict:
        if image.dim() != 4 or image.shape[1] != self.num_channels:
            raise ValueError(f"UNetDiscriminator expects (B, {self.num_channels}, H, W) images "
                             f"(num_channels={self.num_channels}), got {tuple(image.shape)}")
        divisor = 2 ** self.num_blocks
        if image.shape[2] % divisor or image.shape[3] % divisor:
            raise ValueError(f"image size {tuple(image.shape[2:])} is not divisible by 2**num_blocks = "
                             f"{divisor} (num_blocks={self.num_blocks})")

        features = []
        h = image
        for block in self.down_blocks:
            h = block(h)                                          # (B, c_i, H/2^(i+1), W/2^(i+1))
            features.append(h)
        pooled = F.relu(h).sum(dim=(2, 3))                        # (B, c_{n-1}) global sum pooling
        logit = self.image_head(pooled).squeeze(1)                # (B,)

        d = self.up_blocks[0](features[-1])                       # (B, c_{n-2}, H/2^(n-1), W/2^(n-1))
        for j in range(1, self.num_blocks):
            skip = features[self.num_blocks - 1 - j]              # same resolution as d
            d = self.up_blocks[j](torch.cat([d, skip], dim=1))    # doubles the resolution
        pixel_logits = self.pixel_head(F.relu(d))                 # (B, 1, H, W)
        return {"logit": logit, "pixel_logits": pixel_logits, "features": features}
