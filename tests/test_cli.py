"""The command line as a user meets it: help, evaluate, and one clear line for every bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paramembed import ModelConfig, build_model, save_model

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "paramembed", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_model(build_model(ModelConfig(width=16)), tmp_path_factory.mktemp("m") / "tiny")


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_help_lists_the_commands():
    out = run("--help").stdout
    for command in ("train", "evaluate", "models"):
        assert command in out


def test_evaluate_prints_mean_and_ci_and_json(model_dir):
    table = run("evaluate", "--model", str(model_dir), "--ways", "5", "--shots", "1", "--episodes", "20")
    assert table.returncode == 0, table.stderr
    assert "5-way 1-shot" in table.stdout and "+-" in table.stdout
    as_json = run("evaluate", "--model", str(model_dir), "--episodes", "10", "--method", "proto", "--json")
    (row,) = json.loads(as_json.stdout)
    assert row["method"] == "proto" and row["episodes"] == 10 and 0 <= row["mean"] <= 1


def test_missing_checkpoint(tmp_path):
    assert_one_line_error(run("evaluate", "--model", str(tmp_path / "nope")), "no model at")


def test_corrupt_checkpoint(model_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((model_dir / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    assert_one_line_error(run("evaluate", "--model", str(broken)), "corrupt checkpoint")


def test_folder_with_too_few_classes(model_dir, tmp_path):
    from PIL import Image

    for c in range(2):
        (tmp_path / "d" / f"c{c}").mkdir(parents=True)
        for i in range(3):
            Image.new("L", (10, 10), 255 * (i % 2)).save(tmp_path / "d" / f"c{c}" / f"{i}.png")
    result = run("evaluate", "--model", str(model_dir), "--data", str(tmp_path / "d"), "--ways", "5", "--queries", "1")
    assert_one_line_error(result, "5-way task needs 5")


def test_unreadable_image_in_folder(model_dir, tmp_path):
    from PIL import Image

    for c in "ab":
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(16):
            Image.new("L", (10, 10), 255 * (i % 2)).save(tmp_path / "d" / c / f"{i}.png")
    (tmp_path / "d" / "a" / "x.png").write_text("not a png")
    assert_one_line_error(run("evaluate", "--model", str(model_dir), "--data", str(tmp_path / "d")), "x.png")


def test_config_with_an_unknown_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\nepisodez: 10\n")
    assert_one_line_error(run("train", "--config", str(config)), "episodez")


@pytest.mark.slow
def test_train_writes_metrics_and_a_checkpoint(tmp_path):
    result = run(
        "train", "--quiet", "--name", "cli", "--set", f"out_dir={tmp_path}", "--set", "episodes=8",
        "--set", "ways=[5]", "--set", "shots=[1]", "--set", "tasks_per_batch=2", "--set", "model.width=16",
        "--set", "val_episodes=5", "--set", "val_ways=5",
    )
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "cli"
    assert (run_dir / "model.safetensors").exists() and (run_dir / "config.json").exists()
    assert [json.loads(line)["split"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()][-1] == "validation"
