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


# ============ arguments out of range: one line, exit 2, never a NaN ============

from paramembed import cli  # noqa: E402


def main_error(capsys, *args):
    code = cli.main(list(args))
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "nan" not in captured.out.lower()
    return lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--episodes", "0"], "--episodes"),
        (["--episodes", "1"], "--episodes"),  # one episode: a NaN interval
        (["--queries", "0"], "--queries"),
        (["--device", "bogus"], "--device"),
        (["--ways", "5", "1"], "--ways"),
        (["--shots", "0"], "--shots"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_evaluate_arguments_out_of_range(capsys, model_dir, args, words):
    assert words in main_error(capsys, "evaluate", "--model", str(model_dir), *args)


def test_evaluate_with_no_episodes_fails_without_nan(model_dir):
    result = run("evaluate", "--model", str(model_dir), "--episodes", "0")
    assert_one_line_error(result, "--episodes")
    assert "nan" not in result.stdout.lower()


@pytest.mark.parametrize(
    "setting, words",
    [
        ("lr=.nan", "lr"),
        ("model.width=0", "model.width"),
        ("model.input.image_size=2", "model.input.image_size"),
        ("num_workers=-1", "num_workers"),
        ("out_dir=/proc/forbidden", "out_dir"),
        ("val_episodes=-1", "val_episodes"),
        ("episodes=2.9", "episodes"),
        ("device=bogus", "device"),
    ],
)
def test_train_settings_out_of_range(capsys, tmp_path, setting, words):
    if setting.startswith("out_dir=/proc") and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    overrides = ["--set", setting] if setting.startswith("out_dir") else ["--set", f"out_dir={tmp_path}", "--set", setting]
    assert words in main_error(capsys, "train", *overrides)
    assert list(tmp_path.iterdir()) == []  # refused before a run folder was made


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "42\n"])
def test_train_config_file_that_is_not_a_mapping(capsys, tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert "mapping" in main_error(capsys, "train", "--config", str(path), "--set", "episodes=3")


def test_a_missing_dependency_of_a_command_is_not_hidden(monkeypatch):
    import paramembed

    # As if report's dependencies were not installed: building the parser must fail, not drop `report`.
    monkeypatch.delattr(paramembed, "report", raising=False)
    monkeypatch.setitem(sys.modules, "paramembed.report", None)
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()


def test_report_and_bench_are_commands():
    out = run("--help").stdout
    assert "report" in out and "bench" in out
