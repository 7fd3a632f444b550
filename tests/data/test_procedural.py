"""The procedural base: glyphs and photos share one implementation and still draw what they drew."""

import hashlib

import numpy as np
import pytest

from paramembed.data.glyphs import GlyphAlphabets
from paramembed.data.photos import ProceduralPhotos
from paramembed.data.procedural import SPLITS, ProceduralDataset


def digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]


# Recorded from the two hand-written classes before they shared a base (seed 0, default styles):
# drawings (0,0,0) and (3,2,5) at the split's size, (1,1,1) at another size, and images() of two keys.
BEFORE = {
    ("glyph", "train"): ("e2e8bb114ffeb55f", "89478701eba63c96", "f61e34f3d9d8c0e3", "e227595526c3bbfa"),
    ("glyph", "test"): ("2311451714b19510", "edc452fdd1790b02", "13d9ec23a45b2fa5", "c21b5af4ea6c21e2"),
    ("photo", "train"): ("ba7d2288c39740c9", "443ccc97c1815dee", "e614f73f0edeedbb", "24f72001aac989ea"),
    ("photo", "test"): ("5e292b4d20567ce6", "55638d5c9ba1d17d", "aa17b9ed62de2598", "9c6bea2b052d65ee"),
}


@pytest.mark.parametrize("kind, split", sorted(BEFORE))
def test_rendered_images_are_unchanged_by_seed(kind, split):
    ds = GlyphAlphabets(split) if kind == "glyph" else ProceduralPhotos(split)
    other_size = 40 if kind == "glyph" else 20
    got = (
        digest(ds.render(0, 0, 0)),
        digest(ds.render(3, 2, 5)),
        digest(ds.render(1, 1, 1, size=other_size)),
        digest(ds.images([(2, 1, 0), (0, 3, 4)])),
    )
    assert got == BEFORE[(kind, split)]


def test_both_generators_are_one_base_with_their_own_names():
    glyphs, photos = GlyphAlphabets("test"), ProceduralPhotos("test")
    assert isinstance(glyphs, ProceduralDataset) and isinstance(photos, ProceduralDataset)
    assert glyphs.class_name(1, 2) == "test-alphabet-001/char-02"
    assert photos.class_name(1, 2) == "test-world-001/object-02"
    assert glyphs.num_groups == photos.num_groups == SPLITS["test"][1] - SPLITS["test"][0]
    assert (glyphs.num_classes(5), photos.num_classes(5)) == (15, 12)
    assert glyphs.images([(0, 0, 0)]).shape == (1, 1, 28, 28)
    assert photos.images([(0, 0, 0)]).shape == (1, 3, 32, 32)
    assert glyphs.alphabet(0) is glyphs.group_program(0) and photos.world(0) is photos.group_program(0)


def test_cache_keeps_drawings_at_split_size_only():
    ds = GlyphAlphabets("test", cache_size=2)
    for d in range(3):
        ds.render(0, 0, d)
    ds.render(0, 0, 0, size=56)
    assert list(ds._images) == [(0, 0, 1), (0, 0, 2)]  # bounded, least recent gone, other sizes not kept


def test_unknown_split_is_refused_by_the_base():
    with pytest.raises(ValueError, match="known splits: train, validation, test"):
        ProceduralPhotos("dev")
