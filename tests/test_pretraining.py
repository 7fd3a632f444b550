"""Stage 1: supervised pre-training on a folder dataset, then stage 2 starting from its backbone."""

import json

import pytest
import torch
from safetensors.torch import load_file

from small_datasets import make_alphabets
from paramembed.config import TrainConfig
from paramembed.errors import ParamembedError
from paramembed.pretraining import pretrain, rotate_by
from paramembed.training import train


def test_rotate_by_turns_each_image_by_its_own_quarter_turns():
    images = torch.arange(2 * 9, dtype=torch.float32).view(2, 1, 3, 3)
    out = rotate_by(images, torch.tensor([0, 3]))
    assert torch.equal(out[0], images[0]) and torch.equal(out[1], torch.rot90(images[1], 3, dims=(1, 2)))


def test_pretrain_then_meta_train_from_its_backbone(tmp_path):
    root = make_alphabets(tmp_path / "omni", alphabets=3, characters=5)
    common = dict(data=str(root), holdout=["alphabet2"], out_dir=str(tmp_path / "runs"), val_ways=3, val_shots=1,
                  val_episodes=5, device="cpu", seed=0)
    config = TrainConfig(name="stage1", stage="pretrain", rotations=True, augment="glyph", batch_size=16, epochs=1.0,
                         checkpoint_every=0, val_every=0, **common)
    config.model.generator = "proto"
    run = pretrain(config, progress=False)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["split"] == "validation" and 0.0 <= lines[-1]["accuracy"] <= 1.0
    assert json.loads((run / "config.json").read_text())["finished"] is True
    assert torch.exp(load_file(str(run / "model.safetensors"))["log_scale"]).item() == pytest.approx(10.0)

    meta = TrainConfig(name="stage2", init_from=str(run), ways=[3], shots=[1], queries=2, tasks_per_batch=2, episodes=4,
                       warmup_episodes=1, checkpoint_every=0, val_every=0, backbone_lr_scale=0.1, **common)
    stage2 = train(meta, progress=False)
    before, after = load_file(str(run / "model.safetensors")), load_file(str(stage2 / "model.safetensors"))
    first = "backbone.layers.0.0.weight"
    assert torch.allclose(before[first], after[first], atol=1e-2)  # started from it, moved gently
    assert any(k.startswith("generator.") for k in after)


def test_pretraining_refuses_procedural_data(tmp_path):
    config = TrainConfig(stage="pretrain", out_dir=str(tmp_path), val_ways=5)
    with pytest.raises(ParamembedError, match="real dataset"):
        pretrain(config, progress=False)
