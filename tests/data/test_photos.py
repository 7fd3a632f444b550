import numpy as np
import pytest
import torch

from paramembed.checkpoint import ASSETS
from paramembed.config import InputSpec
from paramembed.data.episodes import TaskSampler
from paramembed.data.photos import SPLITS, PhotoStyle, ProceduralPhotos, hsv_to_rgb, make_world, pink_noise
from paramembed.data.registry import get_dataset


def test_drawings_are_deterministic_rgb_and_vary():
    a, b = ProceduralPhotos("train"), ProceduralPhotos("train")
    first = a.render(3, 2, 0)
    assert first.shape == (3, 32, 32) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert np.array_equal(first, b.render(3, 2, 0))  # same (seed, world, class, drawing), fresh instance
    assert np.array_equal(first, a.render(3, 2, 0))  # the cache returns the same pixels
    assert not np.array_equal(first, a.render(3, 2, 1))  # another drawing of the same class
    assert np.ptp(first.reshape(3, -1), axis=1).max() > 0.2  # not a flat image


def test_dataset_interface_matches_glyphs():
    ds = ProceduralPhotos("validation", image_size=40)
    assert ds.channels == 3 and ds.image_size == 40 and ds.num_groups == 50
    assert ds.num_classes(0) >= 10 and ds.num_drawings(0, 0) == 20
    assert ds.class_name(1, 2) == "validation-world-001/object-02" and ds.group_name(1) == "validation-world-001"
    batch = ds.images([(0, 0, 0), (1, 3, 5)])
    assert batch.shape == (2, 3, 40, 40) and batch.dtype == np.float32
    assert ds.render(0, 0, 0, size=64).shape == (3, 64, 64)


def test_splits_are_disjoint_and_unknown_split_is_named():
    ranges = sorted(SPLITS.values())
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert end <= start
    assert not np.array_equal(ProceduralPhotos("train").render(0, 0, 0), ProceduralPhotos("test").render(0, 0, 0))
    with pytest.raises(ValueError, match="train, validation, test"):
        ProceduralPhotos("holdout")


def _nearest_centroid_accuracy(ds, classes, drawings=8):
    """Leave-one-out nearest class mean on 8x8 colour thumbnails: a model-free separability check."""
    feats = np.stack([[ds.render(g, c, d).reshape(3, 8, 4, 8, 4).mean((2, 4)).ravel() for d in range(drawings)] for g, c in classes])
    correct = 0
    for i in range(len(classes)):
        for d in range(drawings):
            means = feats.mean(1)
            means[i] = np.delete(feats[i], d, 0).mean(0)
            correct += int(np.argmin(((means - feats[i, d]) ** 2).sum(1)) == i)
    return correct / (len(classes) * drawings)


def test_classes_are_separable_but_drawings_vary():
    ds = ProceduralPhotos("test")
    classes = [(g, c) for g in range(5) for c in range(2)]
    accuracy = _nearest_centroid_accuracy(ds, classes)
    assert accuracy > 0.4  # chance is 0.1: a class is a recognisable program
    # ...yet not trivially: drawings of one class differ by more than pixel noise.
    same = np.abs(ds.render(0, 0, 0) - ds.render(0, 0, 1)).mean()
    assert same > 0.05


def test_worlds_differ_and_colours_are_valid():
    style = PhotoStyle()
    a, b = make_world(style, 1), make_world(style, 2)
    assert a.hue != b.hue
    rgb = hsv_to_rgb(np.array([0.0, 1 / 3, 2 / 3]), 1.0, 1.0)
    assert np.allclose(rgb, np.eye(3))
    noise = pink_noise(np.random.default_rng(0), 32)
    assert noise.shape == (32, 32) and np.abs(noise).max() == pytest.approx(1.0)


def test_registry_and_task_sampler_give_rgb_tasks():
    spec = InputSpec(channels=3, image_size=32, centre=False)
    ds = get_dataset("procedural-photo", "validation", spec)
    task = TaskSampler(ds, queries=2, seed=0).sample(0, ways=3, shots=2)
    assert task.support.shape == (6, 3, 32, 32) and task.query.shape == (6, 3, 32, 32)


PHOTO_MODEL = ASSETS / "photo-scratch"  # the 32x32 Conv-4 trained here (the `photo` model stands on ImageNet features)
needs_photo_model = pytest.mark.skipif(
    not (PHOTO_MODEL / "model.safetensors").exists(), reason=f"shipped 32x32 photo model not found at {PHOTO_MODEL}"
)


@needs_photo_model
def test_shipped_photo_model_reads_raw_colour_photos():
    from PIL import Image

    from paramembed import load_model

    model = load_model("photo-scratch", device="cpu")
    spec = model.config.input
    assert (spec.channels, spec.image_size, spec.centre) == (3, 32, False) and model.method == "hyper"
    ds = ProceduralPhotos("test")
    # Raw PIL photos of another size and aspect: preprocessing resizes and centre-crops them.
    to_pil = lambda a: Image.fromarray((a.transpose(1, 2, 0) * 255).astype(np.uint8)).resize((64, 48))  # noqa: E731
    support = [to_pil(ds.render(0, c, d, size=64)) for c in range(3) for d in range(3)]
    clf = model.adapt(support, [c for c in range(3) for _ in range(3)])
    probs = model.predict(clf, [to_pil(ds.render(0, c, 10, size=64)) for c in range(3)])
    assert probs.shape == (3, 3) and ((probs.sum(1) - 1).abs() < 1e-4).all()
    assert (probs.argmax(1) == torch.arange(3)).sum() >= 2  # held-out drawings of a held-out world


@needs_photo_model
@pytest.mark.slow
def test_shipped_photo_model_beats_chance_on_held_out_worlds():
    from paramembed import load_model
    from paramembed.evaluation import evaluate

    model = load_model("photo-scratch", device="cpu")
    result = evaluate(model, ProceduralPhotos("test"), ways=5, shots=5, queries=5, episodes=40)
    assert result.mean > 0.6  # chance is 0.2
