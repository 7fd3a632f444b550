"""AppTest for the train page: the form, its error messages, and a tiny run started from the page."""

import json
import os
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from small_datasets import image_folder_zip
import paramembed.run_processes as P
import paramembed.runs as R
from paramembed.methods import TRAINABLE

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def tiny_form(at: AppTest, name: str = "tiny") -> AppTest:
    at.text_input(key="train_name").input(name)
    at.select_slider(key="train_width").set_value(8)
    at.number_input(key="train_episodes").set_value(8)
    at.slider(key="train_ways").set_value((5, 5))
    at.slider(key="train_shots").set_value((1, 1))
    at.number_input(key="train_tasks_per_batch").set_value(2)
    at.number_input(key="train_val_episodes").set_value(5)
    return at


def submit(at: AppTest) -> AppTest:
    return at.button(key="FormSubmitter:train_form-Start training").click().run()


def test_renders_the_form(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.selectbox(key="train_method").options == list(TRAINABLE)
    assert any(str(root) in c.value for c in at.caption)


def test_bad_name_is_a_clear_error(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input(key="train_name").input("../escape")
    submit(at)
    assert not at.exception
    assert at.error and "run name" in at.error[0].value
    assert not root.exists() or not any(root.iterdir())


def test_upload_chosen_without_a_file(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_data").set_value("upload")
    submit(at)
    assert at.error and "zip" in at.error[0].value


def test_existing_name_is_refused(root):
    (root / "taken").mkdir(parents=True)
    (root / "taken" / "metrics.jsonl").write_text("")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    tiny_form(at, "taken")
    submit(at)
    assert at.error and "already exists" in at.error[0].value


def test_too_small_zip_is_refused_and_leaves_nothing(root, tmp_path):
    # Checked directly through the library the page calls: AppTest cannot drive a file_uploader.
    config = R.make_config("small", width=8, ways=(5, 5), shots=(1, 1), episodes=8, root=root)
    with pytest.raises(R.ParamembedError, match="dataset too small"):
        P.start_run(config, root, owner="me", upload=image_folder_zip(6, 3))
    assert not (root / "small").exists()


def test_a_big_enough_zip_passes_the_check(root):
    # 25 classes: 5 held out for 5-way validation, 20 to train on; 6 images = 1 shot + 5 queries.
    config = R.make_config("enough", width=8, ways=(5, 5), shots=(1, 1), episodes=8, root=root)
    config.data = str(P.save_upload("enough", image_folder_zip(25, 6), root))
    R.check_data(config)
    config.ways = [21]
    with pytest.raises(R.ParamembedError, match="train split"):
        R.check_data(config)


@pytest.mark.slow
def test_a_tiny_run_started_from_the_page_finishes(root):
    # Through app.py, so the page's link to the playground resolves as it does in the real app.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py").run()
    tiny_form(at)
    submit(at)
    assert not at.exception
    assert not at.error, at.error[0].value if at.error else ""
    assert P.active_run(root) == "tiny"
    assert any("tiny" in s.value and "running" in s.value for s in at.subheader)
    # A second run while this one trains is refused, by the page and by the library.
    assert at.button(key="FormSubmitter:train_form-Start training").disabled
    with pytest.raises(R.ParamembedError, match="still training"):
        P.start_run(R.make_config("second", episodes=8, root=root), root)
    deadline = time.time() + 300
    while P.run_status(root / "tiny") == "running" and time.time() < deadline:
        time.sleep(1)
    assert P.run_status(root / "tiny") == "finished", P.log_tail(root / "tiny")
    at.run()
    assert not at.exception
    assert any("Finished" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 1
    assert (root / "tiny" / "model.safetensors").is_file()
    from paramembed import load_model
    from paramembed.ui import find_models

    assert load_model(root / "tiny").config.width == 8
    assert any(c.path == str(root / "tiny") for c in find_models(runs=root))  # what the playground lists


# ============ serving: network mode, episode cap ============
def test_network_mode_says_training_is_off_and_how_to_turn_it_on(root, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    text = " ".join(i.value for i in at.info)
    assert "Training is off on this server" in text and "PARAMEMBED_ALLOW_TRAINING=1" in text
    assert not [w for w in at.text_input if w.key == "train_name"]
    # The admin token unlocks it for this session.
    monkeypatch.setenv("PARAMEMBED_ADMIN_TOKEN", "s3cret")
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_admin_token"] = "s3cret"
    at.run()
    assert [w for w in at.text_input if w.key == "train_name"]


def test_episodes_are_capped_by_the_server(root, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MAX_EPISODES", "50")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert at.number_input(key="train_episodes").max == 50
    assert at.number_input(key="train_episodes").value == 50


# ============ watching a run: progress, ETA, chart, checkpoint ============
def fake_run(root: Path, name: str = "fake", stopped: bool = True, checkpoint: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    lines = [{"episodes": 40 * i, "step": 10 * i, "split": "train", "loss": 2.0 / i, "accuracy": 0.2 + 0.05 * i,
              "time": time.time()} for i in range(1, 4)]
    lines += [{"episodes": 80, "step": 20, "split": "validation", "accuracy": 0.55, "ci95": 0.04, "time": time.time()}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (folder / "train.yaml").write_text("episodes: 400\n")
    now = time.time()
    (folder / "progress.json").write_text(json.dumps({"step": 33, "total_steps": 100, "episodes": 132, "total_episodes": 400,
                                                      "first_step": 0, "started": now - 66.0, "time": now}))
    if checkpoint:
        (folder / "model.safetensors").write_bytes(b"x")
        (folder / "config.json").write_text(json.dumps({"step": 20, "episodes": 80, "finished": False}))
        (folder / "state.pt").write_bytes(b"x")
    if stopped:
        (folder / "stopped").touch()
        old = time.time() - 3600
        os.utime(folder / "metrics.jsonl", (old, old))
    return folder


def watching(name: str = "fake") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_run"] = name
    return at.run()


def test_progress_comes_from_every_step_with_an_eta(root):
    fake_run(root, stopped=False)  # a fresh log and no process record: a run started elsewhere, live
    at = watching()
    assert not at.exception
    assert any("running" in s.value for s in at.subheader)
    bar = at.get("progress")[0]
    # 33 steps in 66 s: 67 steps left take about 134 s.
    assert "step 33 / 100" in bar.proto.text and "132 / 400 episodes" in bar.proto.text
    assert "about 2 min 14 s left" in bar.proto.text
    assert bar.proto.value == 33


def test_a_stopped_run_says_which_checkpoint_it_left(root):
    fake_run(root)
    at = watching()
    assert at.warning and "last checkpoint at episode 80 (step 20)" in at.warning[0].value
    assert "loadable from the playground" in at.warning[0].value
    (root / "fake" / "model.safetensors").unlink()
    at = watching()
    assert "no checkpoint was written yet" in at.warning[0].value
    assert "loadable" not in at.warning[0].value


def test_the_chart_shows_smoothed_training_and_validation_points_over_the_whole_run(root):
    fake_run(root)
    at = watching()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in spec["data"]]
    assert "training loss (smoothed)" in names and "training accuracy (smoothed)" in names
    assert "validation accuracy (95% CI)" in names
    layout = spec["layout"]
    assert layout["xaxis"]["title"]["text"] == "episodes (tasks seen)" and layout["xaxis"]["range"] == [0, 400]
    assert layout["yaxis2"]["range"] == [0, 1] and layout["yaxis2"]["title"]["text"] == "accuracy"


# ============ who may stop a run ============
@pytest.fixture()
def sleeping_run(root, monkeypatch):
    monkeypatch.setattr(P, "train_argv", lambda path, name: [sys.executable, "-c", "import time; time.sleep(60)"])
    P.start_run(R.make_config("busy", width=8, episodes=8, root=root), root, check=False, owner="owner-token")
    yield "busy"
    P.stop_run("busy", root, wait_s=5, admin=True)


def test_only_the_starting_session_sees_the_stop_button(root, sleeping_run, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MODE", "network")  # on a shared server; locally anyone may stop (below)
    monkeypatch.setenv("PARAMEMBED_ALLOW_TRAINING", "1")
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_owner"] = "someone-else"
    at.run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "train_stop"]
    assert any("only that session (with its stop key) or an admin can stop it" in c.value for c in at.caption)
    assert at.button(key="FormSubmitter:train_form-Start training").disabled
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_owner"] = "owner-token"
    at.run()
    at.button(key="train_stop").click().run()
    assert not at.exception
    assert P.run_status(root / "busy") == "stopped"


def test_an_admin_may_stop_anyones_run(root, sleeping_run, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_ADMIN_TOKEN", "adm")
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_admin_token"] = "adm"
    at.run()
    at.button(key="train_stop").click().run()
    assert not at.exception
    assert P.run_status(root / "busy") == "stopped"


def test_locally_the_person_at_the_machine_may_stop_any_run(root, sleeping_run):
    """`make run`: a reload (a new session, another owner token) still gets the stop button."""
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["train_owner"] = "a-reloaded-page"
    at.run()
    assert not at.exception
    at.button(key="train_stop").click().run()
    assert not at.exception
    assert P.run_status(root / "busy") == "stopped"
    at.run()
    assert not at.button(key="FormSubmitter:train_form-Start training").disabled


def test_on_the_network_the_starter_keeps_control_across_a_reload(root, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    monkeypatch.setenv("PARAMEMBED_ALLOW_TRAINING", "1")
    monkeypatch.setattr(P, "train_argv", lambda path, name: [sys.executable, "-c", "import time; time.sleep(60)"])
    at = tiny_form(AppTest.from_file(PAGE, default_timeout=30).run(), "mine")
    submit(at)
    try:
        key = at.query_params["stop_key"]
        key = key[0] if isinstance(key, list) else key
        assert key and P.owns(root / "mine", key)
        # The reload: a new session, the same address (with its stop key).
        again = AppTest.from_file(PAGE, default_timeout=30)
        again.query_params["stop_key"] = key
        again.run()
        assert not again.exception
        again.button(key="train_stop").click().run()
        assert P.run_status(root / "mine") == "stopped"
        # Someone else who is given the key may stop a run too.
    finally:
        P.stop_run("mine", root, wait_s=5, admin=True)


def test_a_stop_key_entered_in_another_browser_stops_the_run(root, sleeping_run, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    monkeypatch.setenv("PARAMEMBED_ALLOW_TRAINING", "1")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not [b for b in at.button if b.key == "train_stop"]
    at.text_input(key="train_stop_key").input("owner-token").run()
    at.button(key="train_stop").click().run()
    assert not at.exception
    assert P.run_status(root / "busy") == "stopped"
