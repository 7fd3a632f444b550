import pytest
import torch

from paramembed import ModelConfig, build_model
from paramembed.data.episodes import TaskSampler
from paramembed.data.glyphs import GlyphAlphabets
from paramembed.errors import ParamembedError
from paramembed.models.classifier import class_means
from paramembed.models.generators import get_generator


@pytest.fixture(scope="module")
def batch():
    return next(TaskSampler(GlyphAlphabets("train"), queries=2, seed=1).batches(2, ways=(5, 5), shots=(2, 2)))


def test_class_means():
    feats = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]])
    assert torch.allclose(class_means(feats, torch.tensor([[0, 0, 1]]), 2), torch.tensor([[[2.0, 0.0], [0.0, 2.0]]]))


@pytest.mark.parametrize("name", ["hyper", "latent", "proto"])
def test_generator_shapes(name):
    gen = get_generator(name, feature_dim=16, embedding_dim=8, hidden_dim=32, steps=1)
    feats, labels = torch.randn(3, 10, 16), torch.arange(5).repeat_interleave(2).expand(3, 10)
    clf = gen(feats, labels, 5, torch.tensor(10.0))
    assert clf.weights.shape == (3, 5, 16) and clf.bias.shape == (3, 5)
    assert clf.embedding.shape[:2] == (3, 5)
    assert clf.logits(torch.randn(3, 7, 16)).shape == (3, 7, 5)


def test_unknown_generator_lists_known():
    with pytest.raises(ValueError, match="hyper, latent, proto"):
        get_generator("magic", 16)


@pytest.mark.parametrize("name", ["hyper", "latent", "proto", "maml"])
def test_query_loss_reaches_generator_and_backbone(batch, name):
    torch.manual_seed(0)
    model = build_model(ModelConfig(generator=name, width=16, latent_steps=1))
    logits, _ = model(batch)
    assert logits.shape == (2, 10, 5)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.query_labels.flatten()).backward()
    assert model.backbone.layers[0][0].weight.grad.abs().sum() > 0
    if model.generator is not None:
        for param in model.generator.parameters():
            assert param.grad is not None  # the generated weights stay in the graph (no .data writes)
        # the zero-initialised last layer gets a gradient even though it starts at zero
        last = [m for m in model.generator.decode if isinstance(m, torch.nn.Linear)][-1] if name != "proto" else None
        assert last is None or last.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("method", [None, "proto", "finetune"])
def test_adapt_and_predict_take_names_and_raw_images(batch, method):
    model = build_model(ModelConfig(width=16))
    images = list(batch.support[0])
    labels = ["cat" if int(label) % 2 else "dog" for label in batch.support_labels[0]]
    clf = model.adapt(images, labels, method=method)
    assert clf.labels == ["dog", "cat"] and clf.ways == 2
    probs = model.predict(clf, batch.query[0])
    assert probs.shape == (10, 2) and torch.allclose(probs.sum(-1), torch.ones(10))


def test_adapt_rejects_one_class_and_foreign_methods(batch):
    model = build_model(ModelConfig(width=16))
    with pytest.raises(ParamembedError, match="at least two classes"):
        model.adapt(list(batch.support[0][:2]), ["a", "a"])
    with pytest.raises(ParamembedError, match="needs a maml model"):
        model.adapt(list(batch.support[0][:2]), ["a", "b"], method="maml")


def test_maml_adapts_and_predicts(batch):
    model = build_model(ModelConfig(generator="maml", width=16, maml_steps=2))
    clf = model.adapt(batch.support[0], batch.support_labels[0].tolist())
    assert clf.fast_weights is not None
    assert model.predict(clf, batch.query[0]).shape == (10, 5)
