import numpy as np
import pytest
import torch

from paramembed.data.episodes import TaskSampler
from paramembed.data.glyphs import GlyphAlphabets
from paramembed.errors import ParamembedError


class TinyDataset:
    """3 classes in one group, 4 drawings each; pixel value = class id."""

    channels, image_size, num_groups = 1, 4, 1

    def num_classes(self, g):
        return 3

    def num_drawings(self, g, c):
        return 4

    def class_name(self, g, c):
        return f"c{c}"

    def group_name(self, g):
        return "g"

    def images(self, keys):
        return np.stack([np.full((1, 4, 4), c, np.float32) for _, c, _ in keys])


def test_task_shapes_and_labels():
    task = TaskSampler(GlyphAlphabets("test"), queries=3).sample(0, ways=5, shots=2)
    assert task.support.shape == (10, 1, 28, 28) and task.query.shape == (15, 1, 28, 28)
    assert task.support_labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert task.ways == 5 and task.shots == 2 and len(set(task.class_names)) == 5


def test_same_index_same_task_and_support_query_disjoint():
    sampler = TaskSampler(GlyphAlphabets("test"), queries=2, seed=7)
    a, b = sampler.sample(3, 5, 1), sampler.sample(3, 5, 1)
    assert torch.equal(a.support, b.support) and a.class_names == b.class_names
    _, support, query = sampler.task_keys(3, 5, 1)
    assert not set(support) & set(query)


def test_within_alphabet_tasks_share_one_alphabet():
    sampler = TaskSampler(GlyphAlphabets("test"), queries=1, within_alphabet=1.0)
    for i in range(5):
        assert len(set(sampler.sample(i, 5, 1).groups)) == 1


def test_labels_follow_images():
    task = TaskSampler(TinyDataset(), queries=1).sample(0, 3, 2)
    names = [int(n[1:]) for n in task.class_names]
    for img, label in zip(task.support, task.support_labels):
        assert img[0, 0, 0].item() == names[label]


def test_batches_vary_ways_and_stack_tasks():
    batches = TaskSampler(GlyphAlphabets("train"), queries=2).batches(3, ways=(5, 8), shots=(1, 2))
    seen = set()
    for _ in range(6):
        b = next(batches)
        assert b.support.shape[:2] == (3, b.ways * b.shots) and b.query.shape[:2] == (3, b.ways * 2)
        seen.add(b.ways)
    assert len(seen) > 1


def test_clear_errors_for_too_small_datasets():
    sampler = TaskSampler(TinyDataset(), queries=2)
    with pytest.raises(ParamembedError, match="3 classes with at least 3 images.*5-way task needs 5"):
        sampler.check(5, 1)
    with pytest.raises(ParamembedError, match="at least 4 images|0 classes"):
        sampler.check(2, 3)
