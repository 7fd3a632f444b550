"""Real datasets as training sources: held-out splits, rotations, split folders, mixtures, augmentation."""

import numpy as np
import pytest
import torch
from PIL import Image

from small_datasets import make_alphabets
from paramembed.config import InputSpec, TrainConfig
from paramembed.data.augment import augment
from paramembed.data.episodes import MixtureSampler, TaskSampler
from paramembed.data.registry import get_dataset
from paramembed.data.sources import task_sampler, training_data
from paramembed.errors import ParamembedError


def all_classes(ds):
    return {ds.class_name(g, c) for g in range(ds.num_groups) for c in range(ds.num_classes(g))}


def test_held_out_alphabets_never_reach_training(tmp_path):
    root = make_alphabets(tmp_path / "omni")
    train = get_dataset(str(root), "train", InputSpec(), holdout=["alphabet1"])
    val = get_dataset(str(root), "validation", InputSpec(), holdout=["alphabet1"])
    assert {train.group_name(g) for g in range(train.num_groups)} == {"alphabet0", "alphabet2"}
    assert {val.group_name(g) for g in range(val.num_groups)} == {"alphabet1"}
    assert not all_classes(train) & all_classes(val)
    # Rotated copies are new classes of the same alphabets: still none of the held-out ones.
    rotated = get_dataset(str(root), "train", InputSpec(), holdout=["alphabet1"], rotations=True)
    assert rotated.num_classes(0) == 4 * train.num_classes(0)
    assert not {n.split("@")[0] for n in all_classes(rotated)} & all_classes(val)


def test_holdout_names_whole_classes_and_refuses_typos(tmp_path):
    root = make_alphabets(tmp_path / "omni", alphabets=1)
    val = get_dataset(str(root), "validation", InputSpec(), holdout=["char2"])
    assert all_classes(val) == {"char2"}
    with pytest.raises(ParamembedError, match="alphabet9"):
        get_dataset(str(root), "train", InputSpec(), holdout=["alphabet9"])


def test_rotated_classes_are_turned_images(tmp_path):
    root = make_alphabets(tmp_path / "omni", alphabets=1)
    ds = get_dataset(str(root), "test", InputSpec(), rotations=True)
    upright, quarter = ds.images([(0, 0, 0), (0, 1, 0)])
    assert np.array_equal(np.rot90(upright, 1, axes=(1, 2)), quarter)
    assert ds.class_name(0, 1).endswith("@90")


def test_train_and_val_folders_of_one_class_are_one_class(tmp_path):
    # Tiny-ImageNet layout: root/{train,val}/<class>/<image>.
    for split, n in (("train", 5), ("val", 2)):
        for c in range(3):
            folder = tmp_path / "tin" / split / f"n{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 40 * c + i, np.uint8)).save(folder / f"{i}.jpg")
    ds = get_dataset(str(tmp_path / "tin"), "test", InputSpec(channels=3, image_size=8, centre=False))
    assert ds.num_groups == 1 and all_classes(ds) == {"n0", "n1", "n2"}
    assert ds.num_drawings(0, 0) == 7


def test_mixture_draws_each_source_at_its_weight():
    a, b = object(), object()
    sampler = MixtureSampler([a, b], [0.75, 0.25], seed=3)
    picks = np.array([sampler.source_of(i) for i in range(4000)])
    assert abs((picks == 1).mean() - 0.25) < 0.03
    assert sampler.source_of(17) == MixtureSampler([a, b], [0.75, 0.25], seed=3).source_of(17)  # reproducible
    with pytest.raises(ParamembedError):
        MixtureSampler([a, b], [0.0, 0.0])


def test_a_training_config_mixes_a_folder_with_procedural_glyphs(tmp_path):
    root = make_alphabets(tmp_path / "omni")
    config = TrainConfig(data=str(root), holdout=["alphabet2"], mix_data="procedural", mix_weight=0.5,
                         ways=[3], shots=[1], queries=2)
    sampler = task_sampler(config)
    assert isinstance(sampler, MixtureSampler)
    real, procedural = sampler.samplers
    assert isinstance(real, TaskSampler) and real.dataset.num_groups == 2
    batches = {sampler.source_of(i): sampler.samplers[sampler.source_of(i)].batch_at(i, 2, (3, 3), (1, 1)) for i in range(20)}
    assert set(batches) == {0, 1}
    assert batches[0].support.shape == batches[1].support.shape == (2, 3, 1, 28, 28)
    assert training_data(config, "validation").num_groups == 1


@pytest.mark.parametrize("kind, channels", [("glyph", 1), ("photo", 3)])
def test_augmentation_changes_images_but_keeps_shape_and_range(kind, channels):
    images = torch.rand(16, channels, 28, 28)
    out = augment(images, kind, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.isfinite().all()
    assert (out - images).abs().mean() > 0.01
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    again = augment(images, kind, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded: reproducible


def test_glyph_augmentation_is_small():
    # A centred bar moves a little, never off the canvas.
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 12:16, 6:22] = 1.0
    out = augment(images, "glyph", torch.Generator().manual_seed(1))
    ink = out.sum((1, 2, 3)) / images.sum((1, 2, 3))
    assert ink.min() > 0.7 and ink.max() < 1.4
