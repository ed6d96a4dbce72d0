"""TPSMM's building blocks: FOMM's blocks (``pcutlib.models.blocks``) with InstanceNorm.

TPSMM (``modules/util.py``) keeps FOMM's conv -> norm -> ReLU blocks, residual block and
hourglass, layer for layer and name for name, but normalises with
``InstanceNorm2d(affine=True)`` instead of BatchNorm: statistics per image and channel, no
running statistics (so eval mode changes nothing, and the state dicts hold only
``norm.weight`` and ``norm.bias``). Its hourglass decoder can also hand back every level, which
the dense motion network needs for its occlusion masks at several resolutions.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.blocks import Hourglass


def with_instance_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d inside ``module`` by InstanceNorm2d(affine=True) of the same
    width (weight 1, bias 0, as BatchNorm starts). Returns ``module``, changed in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.InstanceNorm2d(child.num_features, affine=True))
        else:
            with_instance_norm(child)
    return module


def decoder_channels(block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> list[int]:
    """Channels of each decoder level of an hourglass, coarse to fine (see :func:`hourglass_levels`).

    Level j (j = 0 .. num_blocks-1) is the up-sampled output concatenated with the encoder's
    output of the same size: 2 min(max_features, block_expansion 2^i) features for i =
    num_blocks-1-j >= 1, and block_expansion + in_features at the finest level.
    """
    channels = []
    for i in reversed(range(num_blocks)):
        if i == 0:
            channels.append(block_expansion + in_features)
        else:
            channels.append(2 * min(max_features, block_expansion * 2 ** i))
    return channels


def hourglass_levels(hourglass: Hourglass, x: torch.Tensor) -> list[torch.Tensor]:
    """Every decoder level of ``hourglass`` (TPSMM's ``Hourglass(x, mode=1)``), coarse to fine.

    x: (B, C_in, H, W), H and W divisible by 2^n (n = num_blocks). Returns n tensors; level j is
    (B, decoder_channels[j], H / 2^(n-1-j), W / 2^(n-1-j)); the last is ``hourglass(x)``.
    """
    factor = 2 ** hourglass.num_blocks
    if x.shape[2] % factor or x.shape[3] % factor:
        raise ValueError(f"the hourglass halves its input {hourglass.num_blocks} times (num_blocks), so its "
                         f"input size must be divisible by {factor}; got {x.shape[2]}x{x.shape[3]}")
    skips = hourglass.encoder(x)
    out = skips.pop()
    levels = []
    for block in hourglass.decoder.up_blocks:
        out = torch.cat([block(out), skips.pop()], dim=1)
        levels.append(out)
    return levels
