"""AppTest for the training-curves page, on a temporary runs root with hand-written logs."""

import json
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import paramembed.runs as R

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "curves.py")


def write_config(folder: Path, stage: str, data: str, holdout: list[str], batch_size: int = 256) -> None:
    train = {"stage": stage, "data": data, "holdout": holdout, "batch_size": batch_size}
    (folder / "config.json").write_text(json.dumps({"model": {}, "train": train}))


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
    assert len(at.get("download_button")) == 1 and at.get("download_button")[0].proto.ignore_rerun


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
    import paramembed.curves as C

    monkeypatch.setattr(C, "curve_runs", lambda: [])
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("No training logs yet" in i.value for i in at.info)


def test_validation_says_which_data_and_pretraining_gets_its_own_axis(runs_root):
    write_config(runs_root / "alpha", "meta", ".data/omniglot_background.tar.gz", ["Korean", "Bengali"])
    write_log(runs_root / "stem")
    write_config(runs_root / "stem", "pretrain", ".data/tiny_imagenet32_150.tar.gz", ["n01", "n02", "n03"], batch_size=128)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["curves_runs"] = ["alpha", "beta", "stem"]
    at.run()
    assert not at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4  # meta-training pair, then pre-training pair
    meta_accuracy, pre_accuracy = charts[1], charts[3]
    names = [t.get("name") for t in meta_accuracy["data"]]
    assert "alpha validation: 2 held-out Omniglot alphabets, 5-way 1-shot" in names
    assert "beta validation: validation tasks, 5-way 1-shot" in names  # no config: says only what it knows
    assert [t.get("name") for t in pre_accuracy["data"]][-1] == "stem validation: 3 held-out Tiny-ImageNet classes, 5-way 1-shot"
    assert meta_accuracy["layout"]["xaxis"]["title"]["text"] == "episodes (tasks seen)"
    assert pre_accuracy["layout"]["xaxis"]["title"]["text"] == "pre-training steps (batches of 128 images)"
    assert [h.value for h in at.subheader][:2] == ["Meta-training: generating classifiers from support sets",
                                                  "Backbone pre-training: one classifier over all training classes"]
    summary = at.dataframe[0].value
    assert list(summary["length"]) == ["200 episodes", "120 episodes", "200 steps"]


def test_shipped_logs_show_on_first_open():
    shipped = [run for run in R.list_runs() if run.source == "shipped"]
    if not shipped:
        pytest.skip("no shipped model in assets/models yet (written by `make models`)")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    chosen = at.multiselect(key="curves_runs").value
    assert chosen and any(label.startswith("shipped backbone: ") for label in chosen)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4
    meta = [t["name"] for t in charts[1]["data"] if "validation" in t["name"]]
    assert "shipped: hyper validation: 5 held-out Omniglot alphabets, 20-way 1-shot" in meta
    pre = [t["name"] for t in charts[3]["data"] if "validation" in t["name"]]
    assert "shipped backbone: photo-backbone validation: 30 held-out Tiny-ImageNet classes, 5-way 5-shot" in pre
    assert charts[3]["layout"]["xaxis"]["title"]["text"].startswith("pre-training steps")
