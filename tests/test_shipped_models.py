"""The models in assets/models load without training or downloads, match their configs and work.

The accuracy bound is loose on purpose: it catches a broken or mis-loaded model, not a regression
of the README's figures (those come from `python -m paramembed report`).
"""

import json

import pytest

from paramembed.checkpoint import ASSETS, DEFAULT_MODEL, load_model
from paramembed.data.registry import get_dataset
from paramembed.evaluation import evaluate

GLYPH_MODELS = ["hyper", "latent", "proto", "maml"]
MAX_BYTES = {"photo": 10 * 2**20}


def shipped(name):
    return pytest.mark.skipif(not (ASSETS / name / "model.safetensors").exists(), reason=f"assets/models/{name} is not shipped yet")


@pytest.mark.parametrize("name", GLYPH_MODELS + ["photo"])
def test_shipped_model_loads_and_matches_its_config(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    folder = ASSETS / name
    model = load_model(name, device="cpu")
    config = json.loads((folder / "config.json").read_text())
    assert model.config.generator == config["model"]["generator"]
    assert config["train"]["data"] in ("procedural", "procedural-photo")  # never trained on real images
    assert (folder / "metrics.jsonl").exists()
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size <= MAX_BYTES.get(name, 5 * 2**20)


@shipped(DEFAULT_MODEL)
def test_default_model_is_a_generator():
    assert load_model().method in ("hyper", "latent")


@pytest.mark.parametrize("name", GLYPH_MODELS)
def test_shipped_glyph_model_is_well_above_chance(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    model = load_model(name, device="cpu")
    test = get_dataset("procedural", "test", model.config.input)
    result = evaluate(model, test, ways=5, shots=1, queries=5, episodes=30 if name == "maml" else 100, seed=1)
    assert result.mean > 0.6, f"{name}: {result}"  # chance is 0.2
