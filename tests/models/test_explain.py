"""paramembed.explain: one query's path must reproduce the model's own prediction exactly."""

import numpy as np
import pytest
import torch

from paramembed.config import ModelConfig
from paramembed.errors import ParamembedError
from paramembed.explain import LOW_CONFIDENCE_FACTOR, MIN_MARGIN, confidence, confusion_matrix, explain_query
from paramembed.models.fewshot import build_model


def task(ways=3, shots=2, queries=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    support = torch.rand(ways * shots, 1, 28, 28, generator=g)
    labels = [c for c in range(ways) for _ in range(shots)]
    query = torch.rand(queries, 1, 28, 28, generator=g)
    return support, labels, query


@pytest.mark.parametrize("generator,method", [("hyper", None), ("hyper", "proto"), ("hyper", "finetune"), ("maml", None)])
def test_reported_softmax_is_the_models_prediction(generator, method):
    torch.manual_seed(0)
    model = build_model(ModelConfig(generator=generator, width=8, maml_steps=1)).eval()
    support, labels, query = task()
    clf = model.adapt(support, labels, method=method)
    probs = model.predict(clf, query)
    for i in range(len(query)):
        why = explain_query(model, clf, support, labels, query, i)
        np.testing.assert_allclose(why.probs, probs[i].numpy(), atol=1e-5)
        assert why.prediction == int(probs[i].argmax())
        assert why.probs.shape == why.cosine.shape == why.proto_probs.shape == (3,)
        assert abs(why.proto_probs.sum() - 1) < 1e-5
        if why.metric == "cosine":  # logits are the stated formula of the stated parts
            np.testing.assert_allclose(why.logits, why.scale * why.cosine + why.bias, atol=1e-4)
        np.testing.assert_allclose(why.proto_logits, why.proto_scale * why.proto_cosine, atol=1e-5)


def test_proto_method_is_its_own_prototype():
    """Imprinting's weights are the class means: both columns of the explanation agree."""
    model = build_model(ModelConfig(width=8)).eval()
    support, labels, query = task(seed=1)
    clf = model.adapt(support, labels, method="proto")
    why = explain_query(model, clf, support, labels, query, 0)
    np.testing.assert_allclose(why.cosine, why.proto_cosine, atol=1e-5)
    np.testing.assert_allclose(why.probs, why.proto_probs, atol=1e-5)
    np.testing.assert_allclose(why.weight_vs_mean, 1.0, atol=1e-5)


def test_bad_query_index_is_a_user_error():
    model = build_model(ModelConfig(width=8)).eval()
    support, labels, query = task()
    clf = model.adapt(support, labels)
    with pytest.raises(ParamembedError, match="no query number 5"):
        explain_query(model, clf, support, labels, query, 4)
    with pytest.raises(ParamembedError, match="support labels"):
        explain_query(model, clf, support, labels[:-1], query, 0)


def test_confidence_thresholds():
    assert not confidence([0.9, 0.05, 0.05]).low
    # near chance: 5 ways, top at 1.4x chance
    low = confidence([0.28, 0.18, 0.18, 0.18, 0.18])
    assert low.low and "near chance" in low.reason and 0.28 < LOW_CONFIDENCE_FACTOR / 5
    # sure it is one of two, not which
    close = confidence([0.48, 0.48 - MIN_MARGIN / 2, 0.02 + MIN_MARGIN / 4, 0.02 + MIN_MARGIN / 4])  # 0.48 > 1.5/4
    assert close.low and "apart" in close.reason
    assert not confidence(torch.tensor([0.6, 0.4 - MIN_MARGIN, MIN_MARGIN])).low
    with pytest.raises(ParamembedError):
        confidence([1.0])


def test_confusion_matrix_counts_true_rows_predicted_columns():
    m = confusion_matrix([0, 1, 1, 2, 0], [0, 0, 1, None, 2], 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
