"""Query refinement: soft k-means over the unlabelled queries moves weights towards the classes' queries."""

import torch
import torch.nn.functional as F

from paramembed.config import ModelConfig
from paramembed.models.classifier import cosine_logits
from paramembed.models.fewshot import FewShotModel
from paramembed.models.transduction import QueryRefinement


def clustered_task(ways=5, queries=30, dim=16, noise=1.5, seed=0):
    """Class centres, one noisy support example each, and many queries around the centres."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(ways, dim, generator=g), dim=-1)
    support = centres + noise * torch.randn(ways, dim, generator=g) / dim**0.5  # (N, D): 1 shot
    labels = torch.arange(ways).repeat_interleave(queries)
    query = centres[labels] + 0.5 * torch.randn(len(labels), dim, generator=g) / dim**0.5  # (Q, D)
    return support[None], query[None], labels


def accuracy(weights, query, labels):
    logits = cosine_logits(query, weights, torch.zeros(1, weights.shape[1]), torch.tensor(10.0))[0]
    return (logits.argmax(-1) == labels).float().mean().item()


def test_zero_steps_only_normalises_the_weights():
    support, query, _ = clustered_task()
    refined = QueryRefinement(steps=0)(support, torch.ones(1, 5), query)
    torch.testing.assert_close(refined, F.normalize(support, dim=-1))


def test_refinement_with_queries_beats_the_noisy_support_alone():
    wins = 0
    for seed in range(10):
        support, query, labels = clustered_task(seed=seed)
        refined = QueryRefinement(steps=3)(support, torch.ones(1, 5), query)
        wins += accuracy(refined, query, labels) > accuracy(support, query, labels)
    assert wins >= 8


def test_more_shots_move_a_class_less():
    support, query, _ = clustered_task()
    refine = QueryRefinement(steps=1)
    one = refine(support, torch.ones(1, 5), query)
    many = refine(support, torch.full((1, 5), 20.0), query)
    start = F.normalize(support, dim=-1)
    assert (many - start).norm() < (one - start).norm()


def test_temperature_and_query_weight_learn_from_the_query_loss():
    support, query, labels = clustered_task()
    refine = QueryRefinement(steps=2)
    w = refine(support, torch.ones(1, 5), query)
    loss = F.cross_entropy(cosine_logits(query, w, torch.zeros(1, 5), torch.tensor(10.0))[0], labels)
    loss.backward()
    assert refine.log_temperature.grad is not None and refine.log_query_weight.grad is not None
    assert refine.log_query_weight.grad.abs() > 0


def test_a_transductive_model_reads_the_queries_and_can_be_measured_without():
    model = FewShotModel(ModelConfig(generator="proto", width=8, query_steps=3)).eval()
    support, query = torch.rand(5, 1, 28, 28), torch.rand(10, 1, 28, 28)
    clf = model.adapt(support, list("abcde"))
    assert clf.transductive and model.transductive
    probs, applied = model.classify(clf, query)
    assert not applied.transductive and applied.weights.shape == clf.weights.shape
    torch.testing.assert_close(model.predict(applied, query), probs)  # the applied weights give the same answers
    alone = [model.predict(clf, query[i : i + 1])[0] for i in range(3)]
    assert any(not torch.allclose(a, p) for a, p in zip(alone, probs[:3]))  # answers depend on the other queries
    inductive = model.adapt(support, list("abcde"), use_queries=False)
    assert not inductive.transductive
