import json

import pytest
import torch

from paramembed.zoo import load_model
from paramembed.config import ModelConfig, TrainConfig
from paramembed.data.registry import get_dataset
from paramembed.evaluation import evaluate, mean_ci95
from paramembed.models.fewshot import FewShotModel
from paramembed.training import learning_rate, train


def tiny_config(tmp_path, **overrides) -> TrainConfig:
    values = dict(
        name="tiny", out_dir=str(tmp_path), model=ModelConfig(generator="hyper", width=32),
        ways=[5], shots=[1], queries=3, tasks_per_batch=4, episodes=40, warmup_episodes=8,
        val_every=0, val_episodes=20, val_ways=5, checkpoint_every=20, lr=3e-3,
    )
    values.update(overrides)
    return TrainConfig(**values)


def read_metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_mean_ci95():
    mean, ci = mean_ci95([0.0, 1.0] * 50)
    assert mean == 0.5 and abs(ci - 1.96 * 0.5025 / 10) < 1e-3


def test_learning_rate_warms_up_then_decays():
    c = TrainConfig(lr=1.0, warmup_episodes=10, episodes=110)
    assert learning_rate(c, 0) < learning_rate(c, 9) <= 1.0
    assert learning_rate(c, 10) == pytest.approx(1.0) and learning_rate(c, 110) == pytest.approx(0.05)


@pytest.mark.slow
def test_short_meta_training_beats_chance_and_the_untrained_model(tmp_path):
    torch.manual_seed(0)
    config = tiny_config(tmp_path, episodes=480)
    val = get_dataset("procedural", "validation", config.model.input)
    before = evaluate(FewShotModel(config.model), val, 5, 1, queries=5, episodes=150, seed=3)
    run_dir = train(config, progress=False)
    after = evaluate(load_model(run_dir, device="cpu"), val, 5, 1, queries=5, episodes=150, seed=3)
    assert after.mean > 0.6  # chance is 0.2
    assert after.mean > before.mean + 2 * max(after.ci95, before.ci95)
    lines = read_metrics(run_dir)
    train_lines = [m for m in lines if m["split"] == "train"]
    assert train_lines[-1]["loss"] < train_lines[0]["loss"]
    assert {"accuracy", "lr", "episodes_per_s", "images_per_s"} <= set(train_lines[0])
    assert any(m["split"] == "validation" for m in lines)


def test_resume_continues_from_the_saved_step(tmp_path):
    run_dir = train(tiny_config(tmp_path, episodes=40), progress=False)
    first = read_metrics(run_dir)
    assert json.loads((run_dir / "config.json").read_text())["step"] == 10
    train(tiny_config(tmp_path, episodes=80), progress=False)  # asked for more: picks up at step 10
    resumed = [m for m in read_metrics(run_dir)[len(first):] if m["split"] == "train"]
    assert resumed[0]["step"] == 20 and resumed[-1]["step"] == 20
    assert json.loads((run_dir / "config.json").read_text())["episodes"] == 80


def test_fresh_start_overwrites(tmp_path):
    run_dir = train(tiny_config(tmp_path, episodes=8), progress=False)
    train(tiny_config(tmp_path, episodes=8), resume=False, progress=False)
    assert [m["step"] for m in read_metrics(run_dir) if m["split"] == "train"] == [2]
