"""ImageNet-pretrained ResNet-18 features, when the user has the weights: the network and its weights file.

    model, notice = zoo.load_photo_model()      # ResNet-18 + imprinting, or the shipped photo model
    clf = model.adapt(support_images, labels)   # prototypes of ImageNet features as weights

The classifier is generated from the features by imprinting (Qi et al. 2018): no meta-training is
needed, so the option works as soon as torchvision's checkpoint is on disk. Nothing is downloaded
unless `allow_download` is set and the internet is reachable; offline, the notice says where to put
the file and the shipped procedural photo model is used instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from paramembed.config import InputSpec, ModelConfig
from paramembed.errors import ParamembedError

WEIGHTS_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
WEIGHTS_URL = f"https://download.pytorch.org/models/{WEIGHTS_FILE}"
WEIGHTS_ENV = "PARAMEMBED_RESNET18"  # a path to the state dict, checked before torch's cache

# torchvision's ImageNet normalisation; applied inside the backbone so InputSpec stays [0, 1] RGB.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedUnavailable(ParamembedError):
    """The ImageNet weights are neither on disk nor downloadable."""


class ResNet18Backbone(nn.Module):
    """(B, 3, S, S) RGB in [0, 1] -> (B, 512) ImageNet ResNet-18 features (global average pool).

    Built with random weights; `load_imagenet_weights` fills them. The constructor takes the
    same keywords as `Conv4` so `get_backbone("resnet18", ...)` rebuilds it from a config.
    """

    feature_dim = 512

    def __init__(self, in_channels: int = 3, width: int = 64, image_size: int = 224, track_running_stats: bool = True):
        super().__init__()
        if in_channels != 3:
            raise ParamembedError(f"the ResNet-18 backbone reads RGB images (3 channels), not {in_channels}")
        from torchvision.models import resnet18

        self.net = resnet18(weights=None)
        self.net.fc = nn.Identity()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def pretrained_config(image_size: int = 224) -> ModelConfig:
    """ResNet-18 backbone, imprinting generator, RGB centre crops at `image_size` (224: ImageNet's)."""
    return ModelConfig(generator="proto", backbone="resnet18", input=InputSpec(channels=3, image_size=image_size, centre=False))


def cached_weights_path() -> Path:
    """Where torchvision keeps (and looks for) the downloaded checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def missing_weights_message() -> str:
    return (
        f"ImageNet ResNet-18 weights are not available offline: download {WEIGHTS_URL} and put it at "
        f"{cached_weights_path()} (or point ${WEIGHTS_ENV} at the file)"
    )


def find_weights(path: str | Path | None = None) -> Path | None:
    """The first existing checkpoint among `path`, ${PARAMEMBED_RESNET18} and torch's cache."""
    candidates = [path, os.environ.get(WEIGHTS_ENV), cached_weights_path()]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if path is not None:
        raise PretrainedUnavailable(f"{path}: no such file (expected torchvision's {WEIGHTS_FILE})")
    return None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad pickle / zip; all mean "not a checkpoint"
        raise PretrainedUnavailable(f"{path}: not a readable ResNet-18 state dict ({str(err).splitlines()[0]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedUnavailable(f"{path}: not a state dict of tensors")
    return state


def download_weights() -> dict[str, torch.Tensor]:
    """torchvision's download into torch's cache; any network or disk failure -> PretrainedUnavailable."""
    from torchvision.models import ResNet18_Weights

    try:
        return ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)
    except Exception as err:  # URLError, timeouts, hash mismatch, read-only cache: all mean "offline"
        raise PretrainedUnavailable(f"{missing_weights_message()} (download failed: {str(err).splitlines()[0]})") from None


def load_imagenet_weights(backbone: ResNet18Backbone, path: str | Path | None = None, allow_download: bool = False) -> Path | str:
    """Fill `backbone` with ImageNet weights; returns where they came from."""
    found = find_weights(path)
    if found is not None:
        state, source = read_state_dict(found), found
    elif allow_download:
        state, source = download_weights(), WEIGHTS_URL
    else:
        raise PretrainedUnavailable(missing_weights_message())
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # the ImageNet classifier head
    try:
        missing, unexpected = backbone.net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # tensors of the wrong shape
        raise PretrainedUnavailable(f"{source}: not a ResNet-18 state dict ({str(err).splitlines()[-1].strip()})") from None
    if missing or unexpected:
        raise PretrainedUnavailable(
            f"{source}: not a ResNet-18 state dict (missing {len(missing)}, unexpected {len(unexpected)} tensors)"
        )
    return source
