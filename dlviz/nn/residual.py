"""A residual block whose every activation is its own module (Captum-safe)."""

from __future__ import annotations

import torch
from torch import nn

from dlviz.nn.activations import make_activation


class ResidualConvBlock(nn.Module):
    """conv3x3-BN-act-conv3x3-BN, plus a skip path, then act.

    The skip is the identity when shapes agree, else a 1x1 conv (with the
    block's stride) so channels and size match. (B, C_in, H, W) -> (B, C, H/s, W/s)
    """

    def __init__(self, in_channels: int, channels: int, stride: int, activation: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act1 = make_activation(activation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.skip = (
            nn.Identity()
            if stride == 1 and in_channels == channels
            else nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False)
        )
        self.act2 = make_activation(activation)  # a second instance, never act1 reused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act2(y + self.skip(x))


class ResidualDenseBlock(nn.Module):
    """Linear-act-Linear plus identity, then act: (B, F) -> (B, F)."""

    def __init__(self, features: int, activation: str):
        super().__init__()
        self.fc1 = nn.Linear(features, features)
        self.act1 = make_activation(activation)
        self.fc2 = nn.Linear(features, features)
        self.act2 = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(x + self.fc2(self.act1(self.fc1(x))))
