"""Unit tests for paramembed.projection: numpy PCA, label search, thumbnails on a scatter plot."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from paramembed.projection import match_labels, pca, project, thumbnail_layout, thumbnail_uri


def test_numpy_pca_matches_scikit_learn_up_to_sign_and_is_deterministic():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).normal(size=(50, 8)) * np.arange(1, 9)
    ours = pca(x, 3)
    theirs = PCA(n_components=3).fit_transform(x)
    for j in range(3):
        assert abs(np.corrcoef(ours[:, j], theirs[:, j])[0, 1]) > 0.999
    np.testing.assert_allclose(ours, pca(x, 3))
    np.testing.assert_allclose(project(x, "pca", 2), pca(x / np.linalg.norm(x, axis=1, keepdims=True), 2), atol=1e-5)


def test_match_labels_needs_every_word_in_any_column():
    names = np.array(["Korean/character01", "Korean/character02", "Bengali/character01"])
    alphabets = np.array(["Korean", "Korean", "Bengali"])
    assert match_labels("korean", names, alphabets).tolist() == [True, True, False]
    assert match_labels("KOREAN 01", names, alphabets).tolist() == [True, False, False]
    assert match_labels("character01", names).tolist() == [True, False, True]
    assert match_labels("  ", names, alphabets).tolist() == [False, False, False]
    assert match_labels("tibetan", names, alphabets).sum() == 0


def decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_thumbnail_uri_greyscale_strokes_become_coloured_alpha():
    glyph = np.zeros((28, 28), np.uint8)
    glyph[10:18, 5:20] = 255
    picture = decode(thumbnail_uri(glyph, (200, 10, 30)))
    assert picture.mode == "RGBA" and picture.size == (28, 28)
    pixels = np.asarray(picture)
    np.testing.assert_array_equal(pixels[..., 3], glyph)  # ink is opaque, background transparent
    assert tuple(pixels[12, 10, :3]) == (200, 10, 30)
    photo = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(decode(thumbnail_uri(photo))), photo)
    with pytest.raises(ValueError, match="expected"):
        thumbnail_uri(np.zeros((4, 4, 2), np.uint8))


def test_thumbnail_layout_centres_images_on_points_in_data_units():
    xy = np.array([[0.0, 0.0], [10.0, 2.0], [4.0, -3.0]])
    images = thumbnail_layout(xy, ["a", "b", "c"], size=0.1, opacity=np.array([1.0, 0.15, 1.0]))
    assert [(i["x"], i["y"]) for i in images] == [(0.0, 0.0), (10.0, 2.0), (4.0, -3.0)]
    assert all(i["xref"] == "x" and i["yref"] == "y" and i["xanchor"] == "center" for i in images)
    assert images[0]["sizex"] == pytest.approx(1.0)  # 10% of the larger span (10)
    assert [i["opacity"] for i in images] == [1.0, 0.15, 1.0]
    assert [i["source"] for i in images] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="2 images for 3 points"):
        thumbnail_layout(xy, ["a", "b"])
    assert thumbnail_layout(np.zeros((0, 2)), []) == []
