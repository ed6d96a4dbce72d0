"""ResNet-18 (He et al., CVPR 2016) with torchvision's parameter names, so that TPSMM's
checkpoints, whose keypoint detector and background predictor are torchvision's
``resnet18``, load by name without torchvision.

    conv1 (7x7, stride 2) -> bn1 -> ReLU -> max-pool (3x3, stride 2)
    layer1..layer4: two BasicBlocks each, 64/128/256/512 features, layers 2-4 halve the size
    global average pool -> fc

Parameter names: ``conv1``, ``bn1``, ``layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2}``,
``layer{2..4}.0.downsample.{0,1}`` (1x1 convolution and BatchNorm on the skip), ``fc``.
The initialisation is torchvision's: Kaiming-normal convolutions (fan-out, ReLU gain),
BatchNorm weight 1 and bias 0, PyTorch's default for ``fc``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGE_FEATURES = (64, 128, 256, 512)
BLOCKS_PER_STAGE = 2


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip: ReLU(x' + bn2(conv2(ReLU(bn1(conv1(x)))))).

    The first convolution has ``stride``; when it changes the size or the feature count, the
    skip x' is ``downsample`` (1x1 convolution with the stride, then BatchNorm), else x.
    (B, C_in, H, W) -> (B, C_out, H/stride, W/stride).
    """

    def __init__(self, in_features: int, out_features: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, out_features, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_features)
        self.conv2 = nn.Conv2d(out_features, out_features, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_features)
        self.downsample = None
        if stride != 1 or in_features != out_features:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_features, out_features, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(out + skip)


class ResNet18(nn.Module):
    """(B, in_channels, H, W) -> (B, num_outputs): five halvings (H/32 x W/32 after layer4),
    then a global average pool over what is left."""

    def __init__(self, num_outputs: int = 1000, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STAGE_FEATURES[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_FEATURES[0])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_features = STAGE_FEATURES[0]
        for index, features in enumerate(STAGE_FEATURES, start=1):
            stride = 1 if index == 1 else 2
            blocks = [BasicBlock(in_features, features, stride)]
            blocks += [BasicBlock(features, features) for _ in range(BLOCKS_PER_STAGE - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            in_features = features
        self.fc = nn.Linear(in_features, num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, 512): the pooled features before ``fc``."""
        out = self.maxpool(F.relu(self.bn1(self.conv1(image))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return out.mean(dim=(2, 3))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(image))
