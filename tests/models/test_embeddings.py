"""Unit tests for paramembed.embeddings: generation, projections, neighbours, drift, TSV export."""

import numpy as np
import pytest
import torch

from paramembed import ModelConfig, build_model
from paramembed.config import InputSpec
from paramembed.data.registry import get_dataset
from paramembed.embeddings import (
    SupportClasses,
    _tasks,
    available_projections,
    cosine_neighbours,
    embed_classes,
    embedding_drift,
    pick_classes,
    project,
    projector_tsv,
    rowwise_cosine,
)
from paramembed.errors import ParamembedError


@pytest.fixture(scope="module")
def dataset():
    return get_dataset("procedural", "test", InputSpec())


@pytest.fixture(scope="module", params=["hyper", "latent", "proto"])
def model(request):
    torch.manual_seed(0)
    return build_model(ModelConfig(generator=request.param, width=8, embedding_dim=6, hidden_dim=16, latent_steps=1)).eval()


def test_pick_classes_takes_whole_alphabets_in_seeded_order(dataset):
    classes = pick_classes(dataset, 40, seed=3)
    assert len(classes) == 40 == len(set(classes))
    groups = [g for g, _ in classes]
    first = groups[0]
    assert groups[: dataset.num_classes(first)] == [first] * min(40, dataset.num_classes(first))
    assert pick_classes(dataset, 40, seed=3) == classes
    assert pick_classes(dataset, 40, seed=4) != classes
    with pytest.raises(ParamembedError):
        pick_classes(dataset, 1)


def test_tasks_split_large_alphabets_and_never_leave_a_lone_class():
    classes = [(0, c) for c in range(7)] + [(1, 0)] + [(2, c) for c in range(3)]
    tasks = _tasks(classes, max_ways=3)
    assert sorted(i for t in tasks for i in t) == list(range(11))
    assert all(2 <= len(t) for t in tasks)
    assert [len(t) for t in tasks] == [3, 2, 3, 3]  # 7 -> 3+2+2, the lone alphabet joins the previous task


def test_embed_classes_shapes_and_nesting(model, dataset):
    classes = pick_classes(dataset, 12, seed=0)
    emb = embed_classes(model, dataset, classes, shots_list=(2, 1))
    dim = model.backbone.feature_dim
    assert len(emb) == 24 and emb.weights.shape == (24, dim) and emb.prototypes.shape == (24, dim)
    assert emb.embedding.shape[0] == 24
    assert list(emb.shots[:12]) == [1] * 12 and list(emb.shots[12:]) == [2] * 12
    assert emb.drawings.shape == (12, 2, 1, 28, 28) and emb.drawings.dtype == np.uint8
    assert emb.drawing(0, 1).shape == (28, 28)
    # The 1-shot prototype is the first support drawing's feature: the supports are nested.
    x = torch.from_numpy(emb.drawings[:, 0].astype(np.float32) / 255.0)
    with torch.inference_mode():
        first = model.features(x).numpy()
    np.testing.assert_allclose(emb.prototypes[:12], first, atol=2e-2)
    if model.method == "proto":
        np.testing.assert_allclose(emb.weights, emb.prototypes, atol=1e-6)
    assert emb.method == model.method
    assert emb.metadata()["class"][0] == dataset.class_name(*classes[0])


def test_embed_classes_refuses_more_shots_than_images(dataset):
    model = build_model(ModelConfig(width=8, embedding_dim=6, hidden_dim=16)).eval()
    support = torch.rand(4, 1, 28, 28)
    small = SupportClasses(support, [0, 0, 1, 1], ["a", "b"])
    with pytest.raises(ParamembedError, match="fewer than 3"):
        embed_classes(model, small, [(0, 0), (0, 1)], shots_list=(3,))
    emb = embed_classes(model, small, [(0, 0), (0, 1)], shots_list=(1, 2))
    assert list(emb.names) == ["a", "b", "a", "b"]


@pytest.mark.parametrize("method", ["pca", "tsne"])
@pytest.mark.parametrize("dims", [2, 3])
def test_projection_shapes_and_cluster_separation(method, dims):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 5
    x = np.concatenate([c + rng.normal(size=(20, 16)) * 0.3 for c in centres])
    out = project(x, method, dims, seed=0)
    assert out.shape == (60, dims) and np.isfinite(out).all()
    # Points of a cluster stay nearer their own cluster's centre than another's.
    means = np.stack([out[i * 20 : (i + 1) * 20].mean(0) for i in range(3)])
    nearest = np.argmin(((out[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.repeat(np.arange(3), 20)).mean() > 0.9


def test_projection_errors():
    with pytest.raises(ValueError, match="unknown projection"):
        project(np.ones((5, 3)), "mds")
    with pytest.raises(ParamembedError, match="at least 4 points"):
        project(np.random.rand(3, 5), "pca", 3)
    assert project(np.random.rand(6, 2), "pca", 3).shape == (6, 3)  # fewer features than dims is padded
    assert available_projections()[:2] == ["pca", "tsne"]


def test_cosine_neighbours_ranks_by_angle_not_length():
    v = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])
    near = cosine_neighbours(v, 0, k=3)
    assert [j for j, _ in near] == [1, 4, 2]
    assert near[0][1] == pytest.approx(10 / np.sqrt(101))
    assert [j for j, _ in cosine_neighbours(v, 0, k=5, candidates=np.array([0, 2, 3]))] == [2, 3]


def test_rowwise_cosine_and_drift(dataset):
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(rowwise_cosine(a, np.array([[2.0, 0.0], [1.0, 0.0]])), [1.0, 0.0])
    model = build_model(ModelConfig(width=8, embedding_dim=6, hidden_dim=16)).eval()
    emb = embed_classes(model, dataset, pick_classes(dataset, 10), shots_list=(1, 2, 5))
    drift = embedding_drift(emb, "weights")
    assert list(drift) == [1, 2, 5]
    np.testing.assert_allclose(drift[5], 1.0, atol=1e-6)
    assert (drift[1] < 1.0 - 1e-6).all()  # one drawing is not the mean of five


def test_projector_tsv_format():
    vectors = np.array([[0.5, -1.0], [2.0, 3.25]])
    vec, meta = projector_tsv(vectors, {"class": ["a\tb", "c\nd"], "shots": [1, 5]})
    assert vec == "0.5\t-1\n2\t3.25\n"
    assert meta.splitlines() == ["class\tshots", "a b\t1", "c d\t5"]
    _, single = projector_tsv(vectors, {"class": ["x", "y"]})
    assert single == "x\ny\n"  # one column: no header, as the projector expects
    with pytest.raises(ValueError, match="has 1 values"):
        projector_tsv(vectors, {"class": ["x"]})


def test_pick_classes_per_group_spans_more_alphabets(dataset):
    whole = pick_classes(dataset, 40, seed=0)
    sampled = pick_classes(dataset, 40, seed=0, per_group=10)
    assert len(sampled) == 40 == len(set(sampled))
    groups = [g for g, _ in sampled]
    assert len(set(groups)) == 4 and all(groups.count(g) == 10 for g in set(groups))
    assert len({g for g, _ in whole}) < 4
    assert pick_classes(dataset, 40, seed=0, per_group=10) == sampled
    with pytest.raises(ParamembedError, match="at least 2 classes per alphabet"):
        pick_classes(dataset, 40, per_group=1)


def test_feature_bank_is_reused_across_shot_counts(dataset):
    from paramembed.embeddings import feature_bank, generate_embeddings

    torch.manual_seed(0)
    model = build_model(ModelConfig(width=8, embedding_dim=6, hidden_dim=16)).eval()
    classes = pick_classes(dataset, 8, seed=1)
    bank = feature_bank(model, dataset, classes, 5, seed=2)
    assert bank.features.shape == (8, 5, model.backbone.feature_dim) and bank.max_shots == 5
    assert bank.drawings.shape == (8, 5, 1, 28, 28)
    whole = embed_classes(model, dataset, classes, shots_list=(1, 5), seed=2)
    again = generate_embeddings(model, bank, (1, 5))
    np.testing.assert_allclose(again.weights, whole.weights, atol=1e-6)
    assert list(again.names) == list(whole.names)
    # A subset of shot counts from the same bank: the same drawings, so the same 1-shot rows.
    one = generate_embeddings(model, bank, (1,))
    np.testing.assert_allclose(one.prototypes, whole.prototypes[whole.shots == 1], atol=1e-6)
    with pytest.raises(ParamembedError, match="holds 5 drawings"):
        generate_embeddings(model, bank, (10,))
