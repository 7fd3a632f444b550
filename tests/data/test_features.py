"""Cached backbone features: computed once, read back, split by held-out classes, sampled like images."""

import pytest
import torch

from paramembed.config import InputSpec
from paramembed.data.episodes import TaskSampler
from paramembed.data.features import cached_features, concat_feature_sets
from paramembed.errors import ParamembedError
from paramembed.models.backbone import Conv4
from small_datasets import make_alphabets

SPEC = InputSpec(channels=1, image_size=28)


class CountingBackbone(torch.nn.Module):
    """Conv-4 that counts the images it embeds."""

    def __init__(self):
        super().__init__()
        self.net, self.seen = Conv4(width=8).eval(), 0

    def forward(self, x):
        self.seen += len(x)
        return self.net(x)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    return make_alphabets(tmp_path / "omni", alphabets=3, characters=4, drawings=8)


def test_features_are_computed_once_and_read_back(folder, tmp_path):
    backbone = CountingBackbone()
    first = cached_features(backbone, "conv4-test", folder, SPEC)
    assert backbone.seen == 96 and first.features.shape == (96, 8) and first.features.dtype == torch.float16
    again = cached_features(backbone, "conv4-test", folder, SPEC, holdout=["alphabet0"], held=True)
    assert backbone.seen == 96  # the held-out split comes from the same cached file
    assert again.groups == ["alphabet0"] and again.num_classes(0) == 4
    rows = first.images([(0, 1, 2)])
    torch.testing.assert_close(torch.from_numpy(again.images([(0, 1, 2)])), torch.from_numpy(rows))
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 1


def test_training_split_leaves_the_held_out_classes_and_small_classes_out(folder):
    train = cached_features(Conv4(width=8).eval(), "conv4-test", folder, SPEC, holdout=["alphabet0", "char3"])
    assert train.groups == ["alphabet1", "alphabet2"] and all(train.num_classes(g) == 3 for g in range(2))
    with pytest.raises(ParamembedError, match="at least 9 images"):
        cached_features(Conv4(width=8).eval(), "conv4-test", folder, SPEC, min_images=9)
    with pytest.raises(ParamembedError, match="holdout names no"):
        cached_features(Conv4(width=8).eval(), "conv4-test", folder, SPEC, holdout=["nope"])


def test_a_feature_set_gives_tasks_like_an_image_set(folder):
    a = cached_features(Conv4(width=8).eval(), "conv4-test", folder, SPEC, holdout=["alphabet0"])
    b = cached_features(Conv4(width=8).eval(), "conv4-test", folder, SPEC, holdout=["alphabet0"], held=True)
    both = concat_feature_sets({"a": a, "b": b})
    assert both.num_groups == 3 and both.features.shape[0] == 96
    task = TaskSampler(both, queries=3, within_alphabet=1.0).sample(0, 4, 2)
    assert task.support.shape == (8, 8) and task.query.shape == (12, 8)
    assert len(set(task.groups)) == 1
