"""TPSMM's inpainting network (``modules/inpainting_network.py``): the generator.

Where FOMM warps and occludes only the bottleneck, TPSMM does it at every scale of its
encoder and feeds the results to the decoder as skips:

    e_0 = first(S), e_{i+1} = down_i(e_i)                       encode the source, n levels
    w_i = O_i * (e_i o T)                                        warp by the flow T, occlude
    x = w_n;  for each level, coarse to fine:
        x = up(res(res(x))), then concatenate w_i (except at the finest level)
    x = x (1 - O_last) + w_0                                     inpaint where occluded
    D_hat = sigmoid(final(x)) (1 - O_last) + (S o T) O_last      keep the warped source where visible

The occlusion masks O come from the dense motion network, one per scale (multi_mask), coarse
to fine. ``warped_encoder_maps`` (the w_i, with the features and masks detached, so that only
the flow learns from them) and :meth:`get_encode` (the driving frame's occluded features)
feed TPSMM's warp loss.

TPSMM quirk, kept: the flow (h x w, the dense motion network's size) is resized to each
feature map's size bilinearly with ``align_corners=True`` (pcut's ``deform`` would use False,
as FOMM does); likewise a single occlusion mask without multi_mask.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.blocks import DownBlock, ResBlock, SameBlock, UpBlock, channels_at
from pcutlib.models.tpsmm.blocks import with_instance_norm
from pcutlib.models.warping import check_image, deform, resize_bilinear


def resize_aligned(maps: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to (B, C, *size) with align_corners=True (TPSMM's choice)."""
    if tuple(maps.shape[2:]) == tuple(size):
        return maps
    return resize_bilinear(maps, size, aligned=True)


def warp_features(features: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
    """features (B, C, H, W) read at the flow (B, h, w, 2), resized to H x W first: (B, C, H, W)."""
    grid = resize_aligned(deformation.permute(0, 3, 1, 2), features.shape[2:]).permute(0, 2, 3, 1)
    return deform(features, grid)


class InpaintingNetwork(nn.Module):
    """network(source_image (B, C, H, W), dense_motion) -> dict; H, W divisible by 2^num_down_blocks.

    dense_motion: the dense motion network's dict (``deformation`` (B, h, w, 2), ``occlusion_map``
    list, ``contribution_maps``, ``deformed_source``). Returns those last three as they are, plus
    ``deformed`` (B, C, H, W: the source warped by the flow), ``warped_encoder_maps`` (n+1 maps,
    coarse to fine, (B, F_i, H/2^(n-i), W/2^(n-i))) and ``prediction`` (B, C, H, W) in [0, 1].

    Layers (TPSMM's names): ``first``, ``down_blocks``, ``resblock`` (two per level), ``up_blocks``,
    ``final``; InstanceNorm everywhere. Widths: level i of the encoder has
    min(max_features, block_expansion 2^i) features; up block i takes the bottleneck (i = 0) or
    the previous level concatenated with its skip. TPSMM writes these widths as max_features/2^j,
    the same numbers when max_features = block_expansion 2^num_down_blocks, the only case in
    which its code runs.
    """

    def __init__(self, *, num_channels: int, block_expansion: int, max_features: int, num_down_blocks: int,
                 multi_mask: bool = True):
        super().__init__()
        if num_down_blocks < 1:
            raise ValueError(f"num_down_blocks must be at least 1, got {num_down_blocks}")
        self.num_channels = num_channels
        self.num_down_blocks = num_down_blocks
        self.multi_mask = multi_mask
        n = num_down_blocks

        def width(level):
            return channels_at(level, block_expansion, max_features)

        self.first = with_instance_norm(SameBlock(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3)))
        self.down_blocks = nn.ModuleList(with_instance_norm(DownBlock(width(i), width(i + 1))) for i in range(n))
        up_in = [width(n)] + [2 * width(n - i) for i in range(1, n)]
        self.up_blocks = nn.ModuleList(with_instance_norm(UpBlock(up_in[i], width(n - i - 1))) for i in range(n))
        self.resblock = nn.ModuleList(with_instance_norm(ResBlock(up_in[i // 2])) for i in range(2 * n))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))

    def occlusion_at(self, occlusion_map: list, level: int, size) -> torch.Tensor:
        """The mask for scale ``level`` (0: the bottleneck, n: full size), (B, 1, *size).

        multi_mask: the level-th mask of the n+1; else the one mask, resized (align_corners=True)."""
        if not self.multi_mask:
            return resize_aligned(occlusion_map[0], size)
        if len(occlusion_map) != self.num_down_blocks + 1:
            raise ValueError(f"multi_mask needs num_down_blocks + 1 = {self.num_down_blocks + 1} occlusion "
                             f"maps, got {len(occlusion_map)}")
        mask = occlusion_map[level]
        if tuple(mask.shape[2:]) != tuple(size):
            raise ValueError(f"occlusion map {level} is {tuple(mask.shape[2:])}, the features there are {tuple(size)}")
        return mask

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> [e_0 (B, F_0, H, W), ..., e_n (B, F_n, H/2^n, W/2^n)]."""
        check_image(image, "image", self.num_channels)
        factor = 2 ** self.num_down_blocks
        if image.shape[2] % factor or image.shape[3] % factor:
            raise ValueError(f"image size {image.shape[2]}x{image.shape[3]} must be divisible by {factor} "
                             f"(2^num_down_blocks, num_down_blocks={self.num_down_blocks})")
        maps = [self.first(image)]
        for block in self.down_blocks:
            maps.append(block(maps[-1]))
        return maps

    def forward(self, source_image: torch.Tensor, dense_motion: dict) -> dict:
        missing = {"deformation", "occlusion_map", "contribution_maps", "deformed_source"} - set(dense_motion)
        if missing:
            raise ValueError(f"dense_motion lacks {sorted(missing)}: pass the dense motion network's output dict")
        encoder_maps = self.encode(source_image)
        deformation, occlusion_map = dense_motion["deformation"], dense_motion["occlusion_map"]
        n = self.num_down_blocks

        def warp_and_occlude(features, level, detached=False):
            mask = self.occlusion_at(occlusion_map, level, features.shape[2:])
            if detached:       # for the warp loss: only the flow gets its gradient
                features, mask = features.detach(), mask.detach()
            return warp_features(features, deformation) * mask

        out = warp_and_occlude(encoder_maps[n], 0)
        warped_encoder_maps = [warp_and_occlude(encoder_maps[n], 0, detached=True)]
        for i in range(n):
            out = self.up_blocks[i](self.resblock[2 * i + 1](self.resblock[2 * i](out)))
            skip = warp_and_occlude(encoder_maps[n - i - 1], i + 1)
            warped_encoder_maps.append(warp_and_occlude(encoder_maps[n - i - 1], i + 1, detached=True))
            if i < n - 1:
                out = torch.cat([out, skip], dim=1)

        deformed = warp_features(source_image, deformation)                             # (B, C, H, W)
        visible = self.occlusion_at(occlusion_map, n, out.shape[2:])
        out = out * (1 - visible) + skip
        out = torch.sigmoid(self.final(out))
        prediction = out * (1 - visible) + deformed * visible
        return {"contribution_maps": dense_motion["contribution_maps"],
                "deformed_source": dense_motion["deformed_source"], "occlusion_map": occlusion_map,
                "deformed": deformed, "warped_encoder_maps": warped_encoder_maps, "prediction": prediction}

    @torch.no_grad()
    def get_encode(self, driving_image: torch.Tensor, occlusion_map: list) -> list[torch.Tensor]:
        """The driving frame's encoder maps, each times its occlusion mask, fine to coarse:
        [e_0 O_n (B, F_0, H, W), ..., e_n O_0 (B, F_n, H/2^n, W/2^n)] (n+1 maps, no gradient: TPSMM
        detaches every one). The warp loss compares them with ``warped_encoder_maps`` reversed."""
        maps = self.encode(driving_image)
        n = self.num_down_blocks
        return [features * self.occlusion_at(occlusion_map, n - level, features.shape[2:])
                for level, features in enumerate(maps)]
