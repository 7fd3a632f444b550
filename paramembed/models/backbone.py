"""Backbones: images -> feature vectors.

Conv-4 is the standard few-shot backbone (Vinyals et al. 2016; Snell et al. 2017):
4 x [conv3x3-width, batch norm, ReLU, max-pool 2]. At 28x28 it gives width x 1 x 1 features.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int, track_running_stats: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, track_running_stats=track_running_stats),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """(B, C, S, S) -> (B, D) with D = width * (S // 16)^2.

    `track_running_stats=False` makes batch norm always use the batch's statistics, as MAML's
    inner loop expects (Finn et al. 2017).
    """

    def __init__(self, in_channels: int = 1, width: int = 64, image_size: int = 28, track_running_stats: bool = True):
        super().__init__()
        self.layers = nn.Sequential(
            conv_block(in_channels, width, track_running_stats),
            conv_block(width, width, track_running_stats),
            conv_block(width, width, track_running_stats),
            conv_block(width, width, track_running_stats),
        )
        side = image_size
        for _ in range(4):
            side //= 2
        self.feature_dim = width * max(side, 1) ** 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images).flatten(1)


def _resnet18(**kwargs) -> nn.Module:
    # Imported on use: torchvision's model zoo is only needed by the pretrained option.
    from paramembed.models.pretrained import ResNet18Backbone

    return ResNet18Backbone(**kwargs)


def _efficientnet_lite0(**kwargs) -> nn.Module:
    # Imported on use: timm and the ImageNet weights are only needed by photo models.
    from paramembed.models.efficientnet import EfficientNetLite0

    return EfficientNetLite0(**kwargs)


BACKBONES = {"conv4": Conv4, "resnet18": _resnet18, "efficientnet_lite0": _efficientnet_lite0}


def get_backbone(name: str, **kwargs) -> nn.Module:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {', '.join(BACKBONES)}")
    return BACKBONES[name](**kwargs)
