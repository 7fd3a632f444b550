import numpy as np
import pytest
import torch
from PIL import Image

from paramembed.data.glyphs import GlyphAlphabets
from paramembed.data.photos import ProceduralPhotos
from paramembed.family import looks_like_drawing, suggest_family


def _glyphs(n=6):
    ds = GlyphAlphabets("test")
    return [ds.render(a, 0, 0, size=64) for a in range(n)]


def test_glyphs_go_to_the_glyph_family_in_any_polarity_and_pen_colour():
    light_on_dark = _glyphs()
    assert suggest_family(light_on_dark).family == "glyph"
    dark_on_white = [Image.fromarray(((1 - g) * 255).astype(np.uint8), "L") for g in light_on_dark]
    assert suggest_family(dark_on_white).family == "glyph"
    blue_pen = [(1 - g[..., None]) + g[..., None] * np.array([0.1, 0.2, 0.8]) for g in light_on_dark]
    result = suggest_family(blue_pen)
    assert result.family == "glyph" and "drawings" in result.reason and result.photo_votes == 0


def test_colour_photos_go_to_the_photo_family():
    ds = ProceduralPhotos("test")
    photos = [torch.from_numpy(ds.render(g, 0, 0)) for g in range(6)]  # (3, S, S) tensors
    result = suggest_family(photos)
    assert result.family == "photo" and "photos" in result.reason and result.images == 6


def test_a_coloured_background_is_a_photo_even_when_plain():
    sky = np.ones((32, 32, 3)) * np.array([0.3, 0.5, 0.9])
    sky[12:20, 10:22] = [0.9, 0.9, 0.9]  # a white aeroplane on a blue sky
    is_drawing, why = looks_like_drawing(sky)
    assert not is_drawing and "coloured background" in why


def test_ties_go_to_photo_and_empty_input_is_an_error():
    mixed = _glyphs(2) + [ProceduralPhotos("test").render(g, 0, 0) for g in range(2)]
    assert suggest_family(mixed).family == "photo"
    with pytest.raises(ValueError, match="at least one image"):
        suggest_family([])
