"""Training-time augmentation on whole batches of model inputs, in torch, so it never waits on data.

- "glyph": a small random affine per image (rotation +-8 degrees, scale +-10%, shift +-10%),
  the jitter that handwriting has anyway (Lake et al. 2015 drawings vary this much).
- "photo": random-resized crop (35-100% of the area, aspect 3/4-4/3), horizontal flip and
  colour jitter (brightness, contrast, saturation +-40%): the standard few-shot photo recipe.

Both run as one `affine_grid` + `grid_sample` over the batch: about as cheap as one conv layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "glyph", "photo")


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """images (B, C, S, S), theta (B, 2, 3) mapping output to input coordinates in [-1, 1]."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid.to(images.device), mode="bilinear", padding_mode="zeros", align_corners=False)


def glyph_affine(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, S, S) light ink on black -> the same, each image jittered by its own small affine."""
    n = images.shape[0]
    angle = _uniform(n, -8.0, 8.0, generator) * math.pi / 180.0
    scale = _uniform(n, 0.9, 1.1, generator)
    shift = _uniform(2 * n, -0.2, 0.2, generator).view(n, 2)  # 10% of the side = 0.2 in [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    return _warp(images, theta)


def photo_crop_flip_jitter(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3, S, S) RGB in [0, 1] -> resized crop + flip + colour jitter, still in [0, 1]."""
    n = images.shape[0]
    area = _uniform(n, 0.35, 1.0, generator)
    log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), generator)
    w = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
    h = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
    cx = (1 - w) * _uniform(n, -1.0, 1.0, generator)
    cy = (1 - h) * _uniform(n, -1.0, 1.0, generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([w * flip, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    out = _warp(images, theta)
    # Colour jitter, per image: brightness, contrast around the image mean, saturation around grey.
    shape = (n, 1, 1, 1)
    brightness = _uniform(n, 0.6, 1.4, generator).view(shape).to(out)
    contrast = _uniform(n, 0.6, 1.4, generator).view(shape).to(out)
    saturation = _uniform(n, 0.6, 1.4, generator).view(shape).to(out)
    out = out * brightness
    out = (out - out.mean((1, 2, 3), keepdim=True)) * contrast + out.mean((1, 2, 3), keepdim=True)
    grey = out.mean(1, keepdim=True)
    out = (out - grey) * saturation + grey
    return out.clamp(0.0, 1.0)


def augment(images: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply augmentation `kind` ("none", "glyph" or "photo") to a batch (B, C, S, S)."""
    if kind == "none":
        return images
    if kind == "glyph":
        return glyph_affine(images, generator)
    if kind == "photo":
        return photo_crop_flip_jitter(images, generator)
    raise ValueError(f"unknown augmentation {kind!r}; known: {', '.join(AUGMENTATIONS)}")
