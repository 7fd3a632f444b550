"""Stage "frozen": a generator meta-trained on cached features of a fixed backbone."""

import json

import pytest
import torch
from safetensors import safe_open

from paramembed.checkpoint import WEIGHTS, save_model
from paramembed.config import InputSpec, ModelConfig, TrainConfig
from paramembed.config_checks import validate_train_config
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import FewShotModel
from paramembed.training import train
from paramembed.zoo import load_model
from small_datasets import make_alphabets


@pytest.fixture
def base(tmp_path, monkeypatch):
    """A tiny trained-looking glyph model folder to start from, and a small Omniglot-layout dataset."""
    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    folder = save_model(FewShotModel(ModelConfig(generator="hyper", width=8)), tmp_path / "base")
    data = make_alphabets(tmp_path / "omni", alphabets=3, characters=6, drawings=8)
    return folder, data


def frozen_config(tmp_path, base, **overrides):
    folder, data = base
    values = dict(name="frozen", out_dir=str(tmp_path / "runs"), stage="frozen", init_from=str(folder), data=str(data),
                  holdout=["alphabet0"], model=ModelConfig(generator="hyper", width=8, query_steps=2),
                  ways=[3], shots=[1], queries=3, tasks_per_batch=4, episodes=40, warmup_episodes=4,
                  val_every=20, val_episodes=4, val_ways=3, checkpoint_every=20)
    values.update(overrides)
    return TrainConfig(**values)


def test_frozen_run_keeps_the_backbone_and_learns_the_refinement(tmp_path, base):
    run = train(frozen_config(tmp_path, base), progress=False)
    start, trained = load_model(base[0], device="cpu"), load_model(run, device="cpu")
    for key, value in start.state_dict().items():
        if key.startswith("backbone."):
            torch.testing.assert_close(trained.state_dict()[key], value)
    assert trained.transductive
    assert trained.refinement.log_temperature.item() != pytest.approx(torch.tensor(10.0).log().item())
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(m["split"] == "validation" for m in lines) and any(m["split"] == "train" for m in lines)


def test_frozen_run_resumes_from_its_checkpoint(tmp_path, base):
    run = train(frozen_config(tmp_path, base, episodes=40), progress=False)
    train(frozen_config(tmp_path, base, episodes=80), progress=False)
    assert json.loads((run / "config.json").read_text())["episodes"] == 80


def test_frozen_stage_needs_a_fixed_backbone_and_no_augmentation(tmp_path, base):
    with pytest.raises(ParamembedError, match="needs a pretrained backbone"):
        validate_train_config(frozen_config(tmp_path, base, init_from=""))
    with pytest.raises(ParamembedError, match="cannot be augmented"):
        validate_train_config(frozen_config(tmp_path, base, augment="glyph"))
    pretrained = ModelConfig(backbone="efficientnet_lite0", input=InputSpec(channels=3, image_size=64, centre=False))
    with pytest.raises(ParamembedError, match="use stage 'frozen'"):
        validate_train_config(TrainConfig(model=pretrained))


def test_a_pretrained_backbone_is_left_out_of_the_model_folder(tmp_path):
    config = ModelConfig(backbone="efficientnet_lite0", generator="hyper", query_steps=3,
                         input=InputSpec(channels=3, image_size=64, centre=False))
    model = FewShotModel(config).eval()
    folder = save_model(model, tmp_path / "photo")
    with safe_open(str(folder / WEIGHTS), framework="pt") as f:
        keys = list(f.keys())
    assert keys and not any(k.startswith("backbone.") for k in keys)
    assert (folder / WEIGHTS).stat().st_size < 5 * 2**20
    loaded = load_model(folder, device="cpu")
    x = torch.rand(4, 3, 64, 64)
    clf = loaded.adapt(x[:2], ["a", "b"])
    torch.testing.assert_close(loaded.predict(clf, x[2:]), model.predict(model.adapt(x[:2], ["a", "b"]), x[2:]))
