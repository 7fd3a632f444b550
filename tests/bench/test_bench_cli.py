"""`python -m paramembed bench --quick`: every section lands in the JSON and the table prints.

No timing assertions (speed targets are read from a real `make bench` run); this checks that
each measurement runs end to end and reports what the issue asks for.
"""

import json

import pytest

from paramembed.bench.adaptation import method_rows
from paramembed.bench.app import LATENCY_TARGETS
from paramembed.bench.cli import parse_models
from paramembed.bench.report import format_report
from paramembed.cli import main
from paramembed.errors import ParamembedError
from paramembed.methods import TRAINABLE


@pytest.mark.slow
def test_quick_bench_reports_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--tasks", "2", "--queries", "2", "--app-repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for section in ("machine", "models", "adaptation", "batched", "raw", "training", "data", "app"):
        assert section in report, f"missing section {section}"
    assert report["machine"]["matmul_flops"] > 0
    rows = {(r["method"], r["task"]) for r in report["adaptation"]["rows"]}
    for row in method_rows():
        for task in ("5-way 5-shot", "20-way 1-shot"):
            assert (row.label, task) in rows
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
    assert "server" in app and "probe" in app and "browser" in app
    browser = app["browser"]
    if browser["measured"]:  # a real server in Chromium: every click timed
        assert not browser["problems"], browser["problems"]
        assert [f["key"] for f in browser["figures"]][:2] == ["first_results", "new_task"]
        assert all(f["median_s"] >= 0 and f["values"] for f in browser["figures"])
    else:
        assert browser["reason"]
    if app["probe"]["measured"]:
        assert app["probe"]["peak_rss_mb"] > 0 and not app["probe"]["problems"]
        assert list(app["latencies"]) == [t.key for t in LATENCY_TARGETS]
        assert all(f["median_s"] > 0 for f in app["latencies"].values())
    else:
        assert app["probe"]["reason"]  # says why, e.g. no default model shipped yet
    table = capsys.readouterr().out
    for heading in ("ADAPTATION", "BATCHED ADAPTATION", "RAW IMAGES", "META-TRAINING", "DATA", "APP"):
        assert heading in table
    assert format_report(report) in table


def test_model_overrides_are_checked():
    assert parse_models(["hyper=/some/folder"]) == {"hyper": "/some/folder"}
    assert parse_models([f"{name}=/x/{name}" for name in TRAINABLE]) == {name: f"/x/{name}" for name in TRAINABLE}
    with pytest.raises(ParamembedError, match="NAME=FOLDER"):
        parse_models(["resnet=/x"])
    with pytest.raises(ParamembedError, match="NAME=FOLDER"):
        parse_models(["hyper"])


@pytest.mark.parametrize("flags, message", [(["--tasks", "1"], "--tasks"), (["--app-repeats", "0"], "--app-repeats"),
                                            (["--model", "resnet=/x"], "NAME=FOLDER")])
def test_bad_flags_end_in_one_line(flags, message, tmp_path, capsys):
    assert main(["bench", *flags, "--json", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "b.json").exists()
