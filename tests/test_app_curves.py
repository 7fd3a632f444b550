"""AppTest for the training-curves page, on a temporary runs root with hand-written logs."""

import json
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import paramembed.runs as R

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "curves.py")


def write_log(folder: Path, n: int = 5, age_s: float = 3600.0) -> None:
    folder.mkdir(parents=True)
    lines = []
    for i in range(1, n + 1):
        lines.append({"episodes": 40 * i, "step": 10 * i, "split": "train", "loss": 2.0 / i, "accuracy": 0.2 + 0.1 * i,
                      "lr": 1e-3, "episodes_per_s": 2.0, "images_per_s": 200.0, "data_wait_fraction": 0.1, "time": time.time()})
        lines.append({"episodes": 40 * i, "step": 10 * i, "split": "validation", "accuracy": 0.3 + 0.1 * i, "ci95": 0.02,
                      "ways": 5, "shots": 1, "time": time.time()})
    path = folder / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    os.utime(path, (time.time() - age_s,) * 2)  # an old log is a finished-or-abandoned run, not a live one


@pytest.fixture()
def runs_root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    write_log(root / "alpha")
    write_log(root / "beta", n=3)
    monkeypatch.setenv("PARAMEMBED_RUNS", str(root))
    return root


def test_lists_runs_and_draws_both_charts(runs_root):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["curves_runs"] = ["alpha", "beta"]
    at.run()
    assert not at.exception
    assert at.multiselect(key="curves_runs").value == ["alpha", "beta"]
    assert not any("re-read" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    loss = json.loads(charts[0].proto.spec)
    names = [trace.get("name") for trace in loss["data"]]
    assert "alpha" in names and "beta" in names
    assert loss["layout"]["yaxis"]["type"] == "log"
    assert len(at.get("download_button")) == 1


def test_controls_change_the_charts(runs_root):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["curves_runs"] = ["alpha"]
    at.run()
    at.checkbox(key="curves_log_loss").uncheck()
    at.checkbox(key="curves_log_episodes").check()
    at.slider(key="curves_smoothing").set_value(0.0).run()
    assert not at.exception
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert loss["layout"]["yaxis"]["type"] == "linear"
    assert loss["layout"]["xaxis"]["type"] == "log"
    assert loss["data"][0]["y"] == [2.0 / i for i in range(1, 6)]  # no smoothing, no raw shadow line
    assert len(loss["data"]) == 1


def test_a_live_run_says_it_refreshes(runs_root):
    write_log(runs_root / "gamma", n=2, age_s=0.0)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["curves_runs"] = ["gamma"]
    at.run()
    assert not at.exception
    assert any("re-read" in c.value for c in at.caption)


def test_no_run_chosen_says_so(runs_root):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["curves_runs"] = []
    at.run()
    assert any("Choose one or more runs" in i.value for i in at.info)


def test_no_logs_at_all_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "list_runs", lambda root=None: [])
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("No training logs yet" in i.value for i in at.info)


def test_shipped_logs_show_on_first_open():
    shipped = [run for run in R.list_runs() if run.source == "shipped"]
    if not shipped:
        pytest.skip("no shipped model in assets/models yet (written by `make models`)")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.multiselect(key="curves_runs").value
    assert len(at.get("plotly_chart")) == 2
