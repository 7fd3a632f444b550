"""The adaptation rows come from the method table, and batched adaptation agrees with one at a time."""

import pytest
import torch

from paramembed.bench.adaptation import REFERENCE, adaptation_ratios, adaptation_section, method_rows, sample_tasks
from paramembed.config import ModelConfig
from paramembed.data.episodes import stack_tasks
from paramembed.errors import ParamembedError
from paramembed.methods import METHODS, TRAINABLE
from paramembed.models.fewshot import FewShotModel

TINY = dict(width=8, hidden_dim=16, embedding_dim=8)


def test_every_method_has_a_row_on_a_model_it_can_run_on():
    rows = method_rows()
    assert {r.label.split("-")[0] for r in rows} == set(METHODS)
    for row in rows:
        assert row.model in TRAINABLE
        method = METHODS[row.label.split("-")[0]]
        assert row.gradient == (method.kind == "gradient")
        if not method.trainable:  # no model of its own: runs on the reference model
            assert (row.model, row.method) == (REFERENCE, method.name)
    assert [r.maml_steps for r in rows if r.label.startswith("maml")] == [5, 10]


def test_ratios_compare_gradient_rows_with_the_reference():
    rows = [{"method": "hyper", "task": "t", "median_ms": 10.0, "accuracy": 0.9},
            {"method": "maml-10", "task": "t", "median_ms": 250.0, "accuracy": 0.85},
            {"method": "finetune-100", "task": "t", "median_ms": 50.0, "accuracy": 0.95}]
    ratios = adaptation_ratios(rows, ["t"], ["maml-10", "finetune-100"])
    assert ratios["maml-10/hyper t"]["time_ratio"] == pytest.approx(25.0)
    assert ratios["maml-10/hyper t"]["accuracy_difference"] == pytest.approx(0.05)
    assert ratios["maml-10/hyper t"]["target_met"] is True
    assert "target_met" not in ratios["finetune-100/hyper t"]  # the target is about 10-step MAML only
    rows[0]["accuracy"] = 0.8  # faster but less accurate: the target is not met
    assert adaptation_ratios(rows, ["t"], ["maml-10"])["maml-10/hyper t"]["target_met"] is False


def test_adaptation_section_times_and_scores_every_row():
    torch.manual_seed(0)
    models = {name: FewShotModel(ModelConfig(generator=name, **TINY)).eval() for name in TRAINABLE}
    sources = {name: "tiny" for name in TRAINABLE}
    tasks = {"5-way 1-shot": sample_tasks(2, ways=5, shots=1, queries=1)}
    out = adaptation_section(models, sources, tasks, torch.device("cpu"))
    assert [r["method"] for r in out["rows"]] == [r.label for r in method_rows()]
    for row in out["rows"]:
        assert row["tasks"] == 2 and row["model"] == "tiny" and 0.0 <= row["accuracy"] <= 1.0 and row["median_ms"] > 0
    assert set(out["ratios"]) == {f"{r.label}/hyper 5-way 1-shot" for r in method_rows() if r.gradient}


def test_batched_adaptation_matches_one_task_at_a_time():
    torch.manual_seed(0)
    model = FewShotModel(ModelConfig(**TINY)).eval()
    torch.nn.init.normal_(model.generator.decode[-1].weight, std=0.1)  # a non-zero correction to compare
    tasks = sample_tasks(3, ways=5, shots=2, queries=1)
    batch = stack_tasks(tasks)
    clf = model.adapt_tasks(batch.support, batch.support_labels, ways=5)
    assert clf.weights.shape == (3, 5, model.backbone.feature_dim)
    for t, task in enumerate(tasks):
        one = model.adapt(task.support, task.support_labels.tolist())
        assert torch.allclose(clf.weights[t], one.weights[0], atol=1e-5)
        assert torch.allclose(clf.bias[t], one.bias[0], atol=1e-5)
    with pytest.raises(ParamembedError, match="generator method"):
        model.adapt_tasks(batch.support, batch.support_labels, ways=5, method="finetune")
