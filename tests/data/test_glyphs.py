import numpy as np
import pytest

from paramembed.data.glyphs import SPLITS, GlyphAlphabets, GlyphStyle, make_alphabet


def test_drawings_are_deterministic_and_vary():
    a, b = GlyphAlphabets("train"), GlyphAlphabets("train")
    first = a.render(3, 2, 0)
    assert first.shape == (28, 28) and first.dtype == np.float32
    assert np.array_equal(first, b.render(3, 2, 0))  # same (seed, alphabet, character, drawing)
    assert not np.array_equal(first, a.render(3, 2, 1))  # another drawing of the same character
    assert np.array_equal(first, a.render(3, 2, 0))  # the cache returns the same pixels (to 8 bits)


def test_ink_is_light_on_dark_centred_and_antialiased():
    img = GlyphAlphabets("test").render(0, 0, 0)
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert img[0].max() == 0 and img[:, 0].max() == 0  # the margin stays empty
    assert ((img > 0.05) & (img < 0.95)).any()  # grey edge pixels: anti-aliased
    rows, cols = np.nonzero(img > 0.5)
    assert abs((rows.min() + rows.max()) / 2 - 13.5) < 2 and abs((cols.min() + cols.max()) / 2 - 13.5) < 2


def test_renders_at_any_size():
    ds = GlyphAlphabets("test")
    assert ds.render(1, 1, 1, size=64).shape == (64, 64)
    assert GlyphAlphabets("test", GlyphStyle(image_size=48)).render(1, 1, 1).shape == (48, 48)


def test_splits_use_disjoint_alphabets():
    ranges = sorted(SPLITS.values())
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert end <= start
    train, test = GlyphAlphabets("train"), GlyphAlphabets("test")
    assert not np.array_equal(train.render(0, 0, 0), test.render(0, 0, 0))
    assert train.num_groups > 100_000  # effectively unlimited classes


def test_unknown_split_lists_known_ones():
    with pytest.raises(ValueError, match="train, validation, test"):
        GlyphAlphabets("holdout")


def test_alphabets_differ_in_style():
    style = GlyphStyle()
    a, b = make_alphabet(style, 1), make_alphabet(style, 2)
    assert a.num_characters != b.num_characters or len(a.primitives) != len(b.primitives) or not np.allclose(a.angles, b.angles)


def test_characters_of_one_alphabet_are_distinct():
    ds = GlyphAlphabets("test")
    imgs = np.stack([ds.render(0, c, 0) for c in range(ds.num_classes(0))])
    flat = imgs.reshape(len(imgs), -1)
    distances = ((flat[:, None] - flat[None]) ** 2).sum(-1) + np.eye(len(flat)) * 1e9
    assert distances.min() > 1.0
