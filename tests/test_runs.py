"""Unit tests for paramembed.runs: listing, metrics, smoothing, CSV, configs, and the process life cycle."""

import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

import paramembed.run_metrics as M
import paramembed.run_processes as P
import paramembed.runs as R
from paramembed.errors import ParamembedError


def write(path: Path, lines: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))


TRAIN = {"episodes": 40, "step": 10, "split": "train", "loss": 1.5, "accuracy": 0.4, "lr": 1e-3, "time": 0.0}
VAL = {"episodes": 40, "step": 10, "split": "validation", "accuracy": 0.5, "ci95": 0.03, "ways": 5, "shots": 1, "time": 0.0}


def test_runs_root_comes_from_argument_env_or_repo(tmp_path, monkeypatch):
    monkeypatch.delenv("PARAMEMBED_RUNS", raising=False)
    assert R.runs_root() == R.ROOT / "runs"
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path))
    assert R.runs_root() == tmp_path
    assert R.runs_root(tmp_path / "x") == tmp_path / "x"


def test_list_runs_shipped_first(tmp_path):
    assets, root = tmp_path / "assets", tmp_path / "runs"
    write(assets / "hyper" / R.METRICS, [TRAIN])
    write(root / "b" / R.METRICS, [TRAIN])
    write(root / "a" / R.METRICS, [TRAIN])
    (root / "no-log").mkdir()
    runs = R.list_runs(root, assets=assets)
    assert [(r.label, r.source) for r in runs] == [("shipped: hyper", "shipped"), ("a", "run"), ("b", "run")]


def test_read_metrics_skips_a_half_written_line(tmp_path):
    path = tmp_path / R.METRICS
    write(path, [TRAIN, "", VAL, '{"episodes": 80, "spl'])
    assert M.read_metrics(path) == [TRAIN, VAL]
    assert M.read_metrics(tmp_path / "missing.jsonl") == []
    assert M.series([TRAIN, VAL], "validation", "accuracy") == ([40.0], [0.5])
    assert M.series([TRAIN, dict(TRAIN, loss=float("nan"))], "train", "loss") == ([40.0], [1.5])


def test_smooth_is_debiased_and_bounded():
    assert M.smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert M.smooth([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])  # no pull towards 0
    out = M.smooth([0.0, 10.0], 0.5)
    assert out[1] == pytest.approx((0.5 * 0.5 * 0 + 0.5 * 10) / 0.75)
    with pytest.raises(ValueError):
        M.smooth([1.0], 1.0)


def test_metrics_csv_has_a_run_column_and_blank_missing_cells():
    text = M.metrics_csv({"a": [TRAIN], "b": [VAL]})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["run"] for r in rows] == ["a", "b"]
    assert rows[0]["loss"] == "1.5" and rows[1]["loss"] == ""
    assert rows[1]["ci95"] == "0.03"


def test_progress_and_planned_episodes(tmp_path):
    assert M.run_progress([TRAIN], 80) == 0.5
    assert M.run_progress([TRAIN], None) is None
    (tmp_path / R.CONFIG_FILE).write_text("episodes: 400\n")
    assert M.planned_episodes(tmp_path) == 400
    (tmp_path / R.CONFIG_FILE).unlink()
    (tmp_path / "config.json").write_text(json.dumps({"train": {"episodes": 123}}))
    assert M.planned_episodes(tmp_path) == 123


@pytest.mark.parametrize("name", ["", "../x", "a b", "-lead", "x" * 65, "a/b", "a\nb"])
def test_bad_names_are_refused(name):
    with pytest.raises(ParamembedError, match="run name"):
        R.check_name(name)


def test_make_config_validates_and_targets_the_runs_root(tmp_path):
    config = R.make_config("ok", method="latent", width=16, ways=(10, 5), shots=(1, 1), episodes=100, root=tmp_path)
    assert config.ways == [5, 10] and config.shots == [1] and config.val_ways == 5
    assert config.model.generator == "latent" and config.model.width == 16
    assert Path(config.out_dir) == tmp_path.resolve()
    assert config.val_every == 20 and config.warmup_episodes == 10
    with pytest.raises(ParamembedError, match="unknown method"):
        R.make_config("ok", method="svm", root=tmp_path)
    with pytest.raises(ParamembedError, match="ways must be at least 2"):
        R.make_config("ok", ways=(1, 5), root=tmp_path)
    with pytest.raises(ParamembedError, match="width"):
        R.make_config("ok", width=1, root=tmp_path)


def test_status_of_runs_without_a_process(tmp_path):
    folder = tmp_path / "cli-run"
    write(folder / R.METRICS, [TRAIN])
    assert P.run_status(folder) == "running"  # a log that just changed: someone is training it
    old = time.time() - 3600
    os.utime(folder / R.METRICS, (old, old))
    assert P.run_status(folder) == "unknown"
    (folder / "config.json").write_text(json.dumps({"finished": True}))
    assert P.run_status(folder) == "finished"


def test_a_dead_pid_is_failed_or_stopped(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / R.PID_FILE).write_text(json.dumps({"pid": 2**22 + 12345}))  # above Linux's pid_max: no such process
    assert P.run_status(folder) == "failed"
    assert P.active_run(tmp_path) is None
    (folder / R.STOPPED_FILE).touch()
    assert P.run_status(folder) == "stopped"


def test_start_refuse_second_and_stop(tmp_path):
    # A long run (many episodes) that we stop: start_run's argv is a list and its files land in the root.
    config = R.make_config("long", width=8, ways=(5, 5), shots=(1, 1), episodes=100_000, tasks_per_batch=1,
                           val_episodes=5, root=tmp_path)
    process = P.start_run(config, tmp_path, owner="me")
    try:
        assert P.active_run(tmp_path) == "long"
        assert P.run_status(tmp_path / "long") == "running"
        pid_record = json.loads((tmp_path / "long" / R.PID_FILE).read_text())
        assert pid_record["argv"][:4] == [sys.executable, "-m", "paramembed", "train"]
        assert "--fresh" in pid_record["argv"]
        with pytest.raises(ParamembedError, match="still training"):
            P.start_run(R.make_config("other", root=tmp_path), tmp_path)
        with pytest.raises(ParamembedError, match="already exists"):
            P.save_upload("long", b"PK", tmp_path)
        with pytest.raises(ParamembedError, match="another session"):
            P.stop_run("long", tmp_path, token="someone else")
    finally:
        assert P.stop_run("long", tmp_path, wait_s=10, token="me")
    assert process.poll() is not None
    assert P.run_status(tmp_path / "long") == "stopped"
    assert P.active_run(tmp_path) is None
    assert not P.stop_run("long", tmp_path)


def test_upload_must_be_an_archive(tmp_path):
    with pytest.raises(ParamembedError, match="not a zip or tar.gz"):
        P.save_upload("up", b"not a zip", tmp_path)
    assert not (tmp_path / "up").exists()


def test_a_name_cannot_write_outside_the_runs_root(tmp_path, capsys):
    from paramembed.cli import main

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "metrics.jsonl").write_text("precious\n")
    code = main(["train", "--name", "../victim", "--fresh", "--quiet", "--set", f"out_dir={tmp_path / 'runs'}",
                 "--set", "episodes=4", "--set", "model.width=8"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run name '../victim'" in err
    assert (victim / "metrics.jsonl").read_text() == "precious\n"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", ".hidden", "a\x00b", ""])
def test_run_folder_refuses_names_that_are_not_one_folder(tmp_path, name):
    from paramembed.config import TrainConfig

    with pytest.raises(ParamembedError, match="run name"):
        R.run_folder(TrainConfig(name=name, out_dir=str(tmp_path)))
    assert R.run_folder(TrainConfig(name="ok.v2", out_dir=str(tmp_path))) == tmp_path / "ok.v2"


def test_progress_eta_duration_and_checkpoint(tmp_path):
    p = M.Progress(step=30, total_steps=100, episodes=120, total_episodes=400, first_step=10, started=0.0, time=40.0)
    assert p.fraction == 0.3 and p.eta_s == pytest.approx(140.0)  # 20 steps in 40 s, 70 to go
    assert M.Progress(10, 100, 40, 400, 10, 0.0, 5.0).eta_s is None  # nothing timed yet after a resume
    assert [M.format_duration(s) for s in (9.6, 185, 3725)] == ["10 s", "3 min 05 s", "1 h 02 min"]
    assert M.read_progress(tmp_path) is None
    M.write_progress(tmp_path, 5, 25, 4, 0, 100.0)
    assert M.read_progress(tmp_path).episodes == 20 and M.read_progress(tmp_path).total_episodes == 100
    assert not M.checkpoint_info(tmp_path).exists
    (tmp_path / "model.safetensors").write_bytes(b"x")
    (tmp_path / "config.json").write_text(json.dumps({"step": 5, "episodes": 20, "finished": True}))
    info = M.checkpoint_info(tmp_path)
    assert info.exists and not info.resumable and info.describe() == "final model at episode 20 (step 5)"


def test_training_writes_progress_every_step(tmp_path):
    from paramembed.config import ModelConfig, TrainConfig
    from paramembed.training import train

    config = TrainConfig(name="p", out_dir=str(tmp_path), model=ModelConfig(generator="proto", width=8), ways=[5],
                         shots=[1], tasks_per_batch=2, episodes=6, val_episodes=2, val_every=0, checkpoint_every=0)
    folder = train(config, progress=False)
    progress = M.read_progress(folder)
    assert (progress.step, progress.total_steps, progress.episodes) == (3, 3, 6)
