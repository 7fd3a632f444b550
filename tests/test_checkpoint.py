import json

import pytest
import torch

from paramembed import ModelConfig, ParamembedError, build_model, load_model, save_model


def test_round_trip_gives_identical_predictions(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(generator="hyper", width=16)).eval()
    torch.nn.init.normal_(model.generator.decode[-1].weight)  # non-zero, so the generator matters
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    assert loaded.config == model.config
    support, query = torch.rand(6, 1, 28, 28), torch.rand(4, 1, 28, 28)
    labels = [0, 0, 1, 1, 2, 2]
    a = model.predict(model.adapt(support, labels), query)
    b = loaded.predict(loaded.adapt(support, labels), query)
    assert torch.equal(a, b)


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(ParamembedError, match="no model at"):
        load_model(tmp_path / "nothing")
    folder = save_model(build_model(ModelConfig(width=8)), tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ParamembedError, match="corrupt checkpoint"):
        load_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ParamembedError, match="not valid JSON"):
        load_model(folder)


def test_config_that_does_not_match_weights(tmp_path):
    folder = save_model(build_model(ModelConfig(width=8)), tmp_path / "m")
    payload = json.loads((folder / "config.json").read_text())
    payload["model"]["generator"] = "proto"
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ParamembedError, match="config says generator 'proto' but the weights are a 'hyper' model's"):
        load_model(folder)
