"""Which model family suits a set of images: glyph models for drawings, photo models for photos.

    suggestion = suggest_family(images)   # FamilySuggestion(family="glyph" | "photo", reason=...)

A drawing is mostly plain paper (white, grey or black, low saturation) with ink of one colour on
it; a photo has no dominant flat background, or a coloured one (sky, grass), or an object of many
colours. Each image votes; the majority wins and the reason says how the vote went.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

GLYPH, PHOTO = "glyph", "photo"
BACKGROUND_TOLERANCE = 0.12  # |pixel - background| per channel still counted as paper
MIN_PAPER = 0.6  # fraction of pixels that are background in a drawing
MAX_PAPER_SATURATION = 0.2  # paper is white, grey or black
MIN_ONE_PEN = 0.95  # share of the ink's deviation from the paper along one colour direction


@dataclass(frozen=True)
class FamilySuggestion:
    family: str  # "glyph" or "photo"
    reason: str
    photo_votes: int
    images: int


def _rgb_array(image) -> np.ndarray:
    """PIL image / (H, W) or (H, W, 3) or (C, H, W) array or tensor -> (H, W, 3) float in [0, 1]."""
    if isinstance(image, Image.Image):
        arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    else:
        arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
        if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
            arr = arr.transpose(1, 2, 0)
        if arr.max() > 1.0:
            arr = arr / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"expected an image, got an array of shape {arr.shape}")
    return arr


def looks_like_drawing(image) -> tuple[bool, str]:
    """One image -> (is it a drawing, the measurement that decided)."""
    rgb = _rgb_array(image).reshape(-1, 3)
    background = np.median(rgb, axis=0)  # (3,)
    paper = np.abs(rgb - background).max(axis=1) < BACKGROUND_TOLERANCE
    paper_fraction = float(paper.mean())
    saturation = float(background.max() - background.min())
    ink = rgb[~paper] - background  # (P, 3)
    # One pen, anti-aliased or pressed lightly, moves paper colour along one line in RGB: the
    # top eigenvalue of the ink's second moments holds nearly all of it. A photo's object does not.
    moments = ink.T @ ink / max(len(ink), 1)
    eig = np.linalg.eigvalsh(moments)
    one_pen = float(eig[-1] / eig.sum()) if eig.sum() > 1e-8 else 1.0
    if paper_fraction < MIN_PAPER:
        return False, f"no plain background ({100 * paper_fraction:.0f}% of pixels)"
    if saturation > MAX_PAPER_SATURATION:
        return False, "a coloured background"
    if one_pen < MIN_ONE_PEN:
        return False, "many colours on a plain background"
    return True, f"ink of one colour on plain paper ({100 * paper_fraction:.0f}% background)"


def suggest_family(images) -> FamilySuggestion:
    """A sequence of images (PIL, arrays or tensors) -> the family whose models suit them.

    Ties go to the photo family: a photo model still reads a drawing, while a glyph model
    crops a photo to its "ink" and loses it.
    """
    images = list(images)
    if not images:
        raise ValueError("suggest_family needs at least one image")
    verdicts = [looks_like_drawing(image) for image in images]
    photos = sum(1 for is_drawing, _ in verdicts if not is_drawing)
    n = len(images)
    if photos * 2 >= n:
        example = next(why for is_drawing, why in verdicts if not is_drawing)
        return FamilySuggestion(PHOTO, f"{photos} of {n} images look like photos (e.g. {example})", photos, n)
    example = next(why for is_drawing, why in verdicts if is_drawing)
    return FamilySuggestion(GLYPH, f"{n - photos} of {n} images look like drawings ({example})", photos, n)
