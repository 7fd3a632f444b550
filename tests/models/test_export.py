"""Classifier files: crafted or damaged ones are one line naming the file; a foreign model's are refused."""

import json
import struct

import pytest
import torch
from safetensors.torch import save as save_bytes

from paramembed import ModelConfig, ParamembedError, build_model
from paramembed.export import FORMAT, classifier_to_bytes, load_classifier, save_classifier

TINY = dict(width=8, embedding_dim=8, hidden_dim=16)


@pytest.fixture(scope="module")
def hyper():
    torch.manual_seed(0)
    return build_model(ModelConfig(**TINY))


def adapted(model):
    return model.adapt(torch.rand(4, 1, 28, 28), ["a", "a", "b", "b"])


def crafted(tensors=None, **metadata) -> bytes:
    """A safetensors file in the classifier format, with the given tensors and metadata fields."""
    tensors = tensors if tensors is not None else {
        "weights": torch.randn(1, 2, 8), "bias": torch.zeros(1, 2), "embedding": torch.randn(1, 2, 8), "scale": torch.tensor(10.0),
    }
    meta = {"format": FORMAT, "labels": '["a", "b"]', "metric": "cosine", "model": "x", "config": "", **metadata}
    return save_bytes(tensors, metadata={k: v for k, v in meta.items() if v is not None})


def test_round_trip_through_a_file(hyper, tmp_path):
    clf = adapted(hyper)
    path = save_classifier(clf, tmp_path / "c.safetensors", "tiny", hyper.config)
    loaded, info = load_classifier(path, model=hyper)
    assert loaded.labels == ["a", "b"] and info["config"]["generator"] == "hyper"
    assert torch.equal(loaded.weights, clf.weights)


@pytest.mark.parametrize(
    "file, message",
    [
        (dict(labels="[not json"), r"its 'labels' metadata is not valid JSON"),
        (dict(labels=None), r"its metadata has no 'labels'"),
        (dict(labels='["only one"]'), r"its labels should be a list of 2 class names"),
        (dict(labels='{"a": 1}'), r"its labels should be a list of 2 class names"),
        (dict(config="{broken"), r"its 'config' metadata is not valid JSON"),
        (dict(config="[1, 2]"), r"its config metadata should be a mapping"),
        (dict(metric="euclid"), r"unknown metric 'euclid'; known: cosine, linear"),
    ],
)
def test_crafted_metadata_is_named(tmp_path, file, message):
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(crafted(**file))
    with pytest.raises(ParamembedError, match=f"^{path}: {message}"):
        load_classifier(path)


def test_crafted_tensors_are_named(tmp_path):
    path = tmp_path / "c.safetensors"
    path.write_bytes(crafted({"weights": torch.randn(1, 2, 8), "bias": torch.zeros(1, 2)}))
    with pytest.raises(ParamembedError, match=f"^{path}: has no 'embedding', 'scale' tensors"):
        load_classifier(path)
    path.write_bytes(crafted({"weights": torch.randn(2, 8), "bias": torch.zeros(2), "embedding": torch.zeros(2), "scale": torch.tensor(1.0)}))
    with pytest.raises(ParamembedError, match=r"weights should be \(1, ways, features\), got \[2, 8\]"):
        load_classifier(path)
    path.write_bytes(crafted({"weights": torch.randn(1, 2, 8), "bias": torch.zeros(1, 3), "embedding": torch.zeros(1, 2, 8), "scale": torch.tensor(1.0)}))
    with pytest.raises(ParamembedError, match=r"bias should be \[1, 2\], got \[1, 3\]"):
        load_classifier(path)


def test_a_header_that_is_not_json_is_named():
    data = struct.pack("<Q", 5) + b"{oops" + b"\0" * 8
    with pytest.raises(ParamembedError, match="not a safetensors file"):
        load_classifier(data)


def test_a_hyper_classifier_is_refused_by_a_latent_model(hyper):
    latent = build_model(ModelConfig(generator="latent", **TINY))
    data = classifier_to_bytes(adapted(hyper), "hyper", hyper.config)
    with pytest.raises(ParamembedError, match="made with a model whose generator is 'hyper', this model's 'latent'.*load that one \\(hyper\\)"):
        load_classifier(data, model=latent)
    wider = build_model(ModelConfig(**{**TINY, "width": 16}))
    with pytest.raises(ParamembedError, match="whose width is 8, this model's 16"):
        load_classifier(data, model=wider)


def test_adaptation_settings_do_not_matter_to_a_classifier(hyper):
    """latent_steps or MAML's step size change how a model adapts, not its features."""
    import copy

    other = copy.deepcopy(hyper)
    other.config = ModelConfig(**TINY, latent_steps=3, maml_lr=0.1)
    data = classifier_to_bytes(adapted(hyper), "hyper", hyper.config)
    loaded, _ = load_classifier(data, model=other)
    assert loaded.ways == 2
    loaded, _ = load_classifier(crafted(config=json.dumps({"generator": "hyper"})), model=hyper)  # older file: fewer fields
    assert loaded.labels == ["a", "b"]
