"""Backbones: images -> feature vectors.

Conv-4 is the standard few-shot backbone (Vinyals et al. 2016; Snell et al. 2017):
4 x [conv3x3-width, batch norm, ReLU, max-pool 2]. At 28x28 it gives width x 1 x 1 features.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


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

    Activations run channels-last (NHWC): on a CPU, max-pooling and batch norm over NCHW cost more
    than the convolutions (3x the whole pass on 25 glyphs; `bench --only raw`). Outside training,
    with running statistics, each batch norm is folded into its convolution (`folded`).
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
        layers = self.layers if self.training or torch.is_grad_enabled() else self.folded()
        return layers(images.contiguous(memory_format=torch.channels_last)).flatten(1)

    def folded(self) -> nn.Sequential:
        """The layers for inference: every batch norm folded into its convolution (as bias), same outputs.

        Built on first use and again whenever a weight or statistic changes (training between two
        evaluations, `load_state_dict`, `.to(device)`), so it never serves stale weights. A batch
        norm with the batch's own statistics (MAML's) cannot be folded: those layers are returned.
        """
        if not all(block[1].track_running_stats for block in self.layers):
            return self.layers
        tensors = [*self.layers.parameters(), *self.layers.buffers()]
        try:
            key = tuple((t.data_ptr(), t._version) for t in tensors)
        except RuntimeError:  # weights made under inference mode keep no version: do not cache them
            key = None
        cached = self.__dict__.get("_folded")
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        with torch.inference_mode(False), torch.no_grad():  # plain tensors: usable under no_grad as well
            # Pooling before the ReLU gives the same values (max and ReLU commute) with a quarter of
            # the ReLU's work: on the first block's 64 x 28 x 28 maps, that was 4% of the pass.
            layers = nn.Sequential(*(
                nn.Sequential(fuse_conv_bn_eval(conv, norm), pool, relu) for conv, norm, relu, pool in self.layers
            )).to(memory_format=torch.channels_last)
        self.__dict__["_folded"] = (key, layers)  # not a submodule: never in the state dict
        return layers


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
