"""`python -m paramembed bench --quick`: every section lands in the JSON and the table prints.

No timing assertions (speed targets are read from a real `make bench` run); this checks that
each measurement runs end to end and reports what the issue asks for.
"""

import json

import pytest

from paramembed.bench import _parse_models, format_report
from paramembed.cli import main
from paramembed.errors import ParamembedError


@pytest.mark.slow
def test_quick_bench_reports_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--tasks", "2", "--queries", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for section in ("machine", "models", "adaptation", "batched", "training", "data", "app"):
        assert section in report, f"missing section {section}"
    assert report["machine"]["matmul_flops"] > 0
    rows = {(r["method"], r["task"]) for r in report["adaptation"]["rows"]}
    for method in ("hyper", "latent", "proto", "maml-5", "maml-10", "finetune-100"):
        for task in ("5-way 5-shot", "20-way 1-shot"):
            assert (method, task) in rows
    for row in report["adaptation"]["rows"]:
        assert row["tasks"] == 2 and 0.0 <= row["accuracy"] <= 1.0 and row["p90_ms"] >= row["median_ms"] > 0
    assert {"maml-10/hyper 5-way 5-shot", "finetune-100/hyper 20-way 1-shot"} <= set(report["adaptation"]["ratios"])
    assert report["batched"]["batched_tasks_per_s"] > 0 and report["batched"]["one_at_a_time_tasks_per_s"] > 0
    training = report["training"]
    assert training["flops_per_image"] > 1e6  # Conv-4 at 28x28 is tens of MFLOPs per image
    assert 0 < training["fraction_of_bound"] and training["images_per_s"] > 0
    assert isinstance(training["loop"]["waits_on_data"], bool)
    assert report["data"]["render_images_per_s_one_core"] > 0
    app = report["app"]
    assert "server" in app and "probe" in app
    if app["probe"]["measured"]:
        assert app["probe"]["peak_rss_mb"] > 0
    else:
        assert app["probe"]["reason"]  # says why, e.g. no default model shipped yet
    table = capsys.readouterr().out
    for heading in ("ADAPTATION", "BATCHED ADAPTATION", "META-TRAINING", "DATA", "APP"):
        assert heading in table
    assert format_report(report) in table


def test_model_overrides_are_checked():
    assert _parse_models(["hyper=/some/folder"]) == {"hyper": "/some/folder"}
    with pytest.raises(ParamembedError, match="NAME=FOLDER"):
        _parse_models(["resnet=/x"])
    with pytest.raises(ParamembedError, match="NAME=FOLDER"):
        _parse_models(["hyper"])


def test_batched_adaptation_matches_one_task_at_a_time():
    import torch

    from paramembed.bench import sample_tasks
    from paramembed.config import ModelConfig
    from paramembed.data.episodes import stack_tasks
    from paramembed.models.fewshot import FewShotModel

    torch.manual_seed(0)
    model = FewShotModel(ModelConfig(width=8, hidden_dim=16, embedding_dim=8)).eval()
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
