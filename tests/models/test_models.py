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


# ============ labels keep their identity ============
def test_labels_are_numbered_by_value_not_by_text():
    from paramembed.models.fewshot import class_ids

    assert class_ids(["b", "a", "b"]) == (["b", "a"], [0, 1, 0])
    assert class_ids([3, 1, 3, 1]) == (["3", "1"], [0, 1, 0, 1])


def test_mixed_label_types_are_refused():
    from paramembed.models.fewshot import class_ids

    with pytest.raises(ParamembedError, match=r"support labels mix types \(int, str\)"):
        class_ids([1, 1, "1", "1", 2, 2])  # once two classes by their text; which did the user mean?
    with pytest.raises(ParamembedError, match="mix types"):
        class_ids([0, 0, 1.5, 1.5])


def test_none_and_other_objects_are_not_labels():
    from paramembed.models.fewshot import class_ids

    with pytest.raises(ParamembedError, match="support label 2 is None"):
        class_ids(["a", "a", None, None])
    with pytest.raises(ParamembedError, match=r"support label 0 is True \(bool\)"):
        class_ids([True, False])
    with pytest.raises(ParamembedError, match=r"support label 1 is \('x',\) \(tuple\)"):
        class_ids(["a", ("x",)])
    with pytest.raises(ParamembedError, match="not one string"):
        class_ids("ab")


def test_tensor_and_array_labels_are_read_by_value():
    import numpy as np

    from paramembed.models.fewshot import class_ids

    expected = (["0", "1"], [0, 0, 1, 1])
    assert class_ids(torch.tensor([0, 0, 1, 1])) == expected
    assert class_ids(np.array([0, 0, 1, 1])) == expected
    assert class_ids(list(torch.tensor([0, 0, 1, 1]))) == expected  # 0-d tensors, not "tensor(0)"
    assert class_ids([np.int64(0), np.int64(0), np.int64(1), np.int64(1)]) == expected
    with pytest.raises(ParamembedError, match=r"1-D\), got shape \(2, 2\)"):
        class_ids(torch.tensor([[0, 1], [0, 1]]))


def test_adapt_takes_a_tensor_of_labels_and_refuses_none(batch):
    model = build_model(ModelConfig(width=16))
    images, labels = batch.support[0], batch.support_labels[0]
    from_tensor = model.adapt(images, labels)
    from_list = model.adapt(images, labels.tolist())
    assert from_tensor.labels == from_list.labels == [str(i) for i in range(5)]
    assert torch.equal(from_tensor.weights, from_list.weights)
    with pytest.raises(ParamembedError, match="is None"):
        model.adapt(images, [None] * len(labels))
    with pytest.raises(ParamembedError, match="mix types"):
        model.adapt(images[:4], [1, 1, "1", "1"])


# ============ one adaptation path ============
@pytest.mark.parametrize("generator", ["hyper", "latent", "maml"])
def test_training_forward_and_adapt_agree_in_eval_mode(batch, generator):
    """forward, adapt and adapt_tasks are one path (`generate`): same task, same weights."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(generator=generator, width=16, latent_steps=1, maml_steps=1)).eval()
    with torch.no_grad():
        _, clf = model(batch)
    one = model.adapt(batch.support[1], batch.support_labels[1])
    assert torch.allclose(clf.weights[1], one.weights[0], atol=1e-5)
    if generator != "maml":
        many = model.adapt_tasks(batch.support, batch.support_labels, batch.ways)
        assert torch.allclose(many.weights, clf.weights, atol=1e-5)


@pytest.mark.parametrize("generator", ["hyper", "maml"])
def test_backbone_passes_of_any_size_give_the_same_classifier(batch, generator, monkeypatch):
    """On a CPU the images go through the backbone CPU_IMAGES_PER_PASS at a time: the weights must not care."""
    from paramembed.models import fewshot

    torch.manual_seed(0)
    model = build_model(ModelConfig(generator=generator, width=16, maml_steps=1)).eval()
    method = "proto" if generator == "maml" else None  # MAML's own batch statistics: one pass, whatever the size
    monkeypatch.setattr(fewshot, "CPU_IMAGES_PER_PASS", 10_000)
    whole = model.adapt_tasks(batch.support, batch.support_labels, batch.ways, method=method)
    monkeypatch.setattr(fewshot, "CPU_IMAGES_PER_PASS", 7)
    passes = model.adapt_tasks(batch.support, batch.support_labels, batch.ways, method=method)
    assert torch.allclose(whole.weights, passes.weights, atol=1e-5)


def test_any_backbone_methods_run_on_every_model(batch):
    for generator in ("hyper", "latent", "proto", "maml"):
        model = build_model(ModelConfig(generator=generator, width=16))
        for method in ("proto", "finetune"):
            clf = model.adapt(batch.support[0], batch.support_labels[0], method=method)
            assert clf.weights.shape == (1, 5, model.backbone.feature_dim)
            assert clf.metric == ("linear" if method == "finetune" else "cosine")


def test_adapt_keeps_the_training_mode_and_leaves_no_graph(batch):
    model = build_model(ModelConfig(generator="maml", width=16, maml_steps=1)).train()
    clf = model.adapt(batch.support[0], batch.support_labels[0])
    assert model.training
    assert not clf.weights.requires_grad and all(not v.requires_grad for v in clf.fast_weights[0].values())
