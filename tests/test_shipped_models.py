"""The models in assets/models load without training or downloads, match their configs and work.

The accuracy floors are loose on purpose: they catch a broken or mis-loaded model on a small
sample of classes it never saw in training, not a regression of the README's figures (those come
from `python -m paramembed report`).
"""

import json

import pytest

from shared_data import OMNIGLOT, SHARED_DATA
from paramembed.checkpoint import ASSETS
from paramembed.zoo import DEFAULT_MODEL, load_model
from paramembed.config import read_config_file
from paramembed.data.registry import get_dataset
from paramembed.evaluation import evaluate

ROOT = ASSETS.parent.parent
GLYPH_MODELS = ["hyper", "latent", "proto", "maml", "hyper-sim"]
REAL_DATA_MODELS = ["latent", "proto", "maml", "photo-scratch"]  # stage 2 from a pre-trained backbone
FROZEN_MODELS = ["hyper", "photo"]  # stage "frozen": a fixed backbone, the head trained on its cached features
MAX_BYTES = {"photo-scratch": 10 * 2**20}
TINY_IMAGENET = SHARED_DATA / "tiny_imagenet32_150.tar.gz"
CALTECH = SHARED_DATA / "caltech101_85.tar.gz"


def needs(name):
    return pytest.mark.skipif(not (ASSETS / name / "model.safetensors").exists(), reason=f"assets/models/{name} is not shipped yet")


@pytest.mark.parametrize("name", GLYPH_MODELS + ["photo", "photo-scratch"])
def test_shipped_model_loads_and_matches_its_config(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    folder = ASSETS / name
    model = load_model(name, device="cpu")
    config = json.loads((folder / "config.json").read_text())
    assert model.config.generator == config["model"]["generator"]
    assert (folder / "metrics.jsonl").exists()
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size <= MAX_BYTES.get(name, 5 * 2**20)


@pytest.mark.parametrize("name", REAL_DATA_MODELS)
def test_real_data_models_follow_their_recipe_and_held_out_split(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    shipped = json.loads((ASSETS / name / "config.json").read_text())["train"]
    recipe = read_config_file(ROOT / "configs" / f"{name}.yaml")
    assert shipped["holdout"] == recipe["holdout"] and shipped["holdout"]
    assert shipped["init_from"] and shipped["stage"] == "meta"
    backbone = read_config_file(ROOT / "configs" / f"{shipped['init_from'].split('/')[-1]}.yaml")
    assert backbone["holdout"] == recipe["holdout"]  # stage 1 never saw the validation classes either


@pytest.mark.parametrize("name", FROZEN_MODELS)
def test_frozen_models_read_the_queries_and_keep_to_their_held_out_split(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    shipped = json.loads((ASSETS / name / "config.json").read_text())["train"]
    recipe = read_config_file(ROOT / "configs" / f"{name}.yaml")
    assert shipped["stage"] == "frozen" and shipped["holdout"] == recipe["holdout"] and shipped["holdout"]
    assert load_model(name, device="cpu").transductive
    if shipped["init_from"]:  # every earlier stage held the same classes out
        base = read_config_file(ROOT / "configs" / f"{shipped['init_from'].split('/')[-1]}.yaml")
        assert base["holdout"] == recipe["holdout"]


@needs("hyper-sim")
def test_sim_to_real_model_never_saw_a_real_image():
    train = json.loads((ASSETS / "hyper-sim" / "config.json").read_text())["train"]
    assert train["data"] == "procedural" and not train.get("mix_data")


@needs(DEFAULT_MODEL)
def test_default_model_is_a_generator():
    assert load_model().method in ("hyper", "latent")


@pytest.mark.skipif(not OMNIGLOT.exists(), reason=f"real Omniglot not found at {OMNIGLOT} (../shared is absent)")
@pytest.mark.parametrize("name", GLYPH_MODELS)
def test_glyph_model_beats_a_floor_on_held_out_alphabets(name):
    if not (ASSETS / name / "model.safetensors").exists():
        pytest.skip(f"assets/models/{name} is not shipped yet")
    model = load_model(name, device="cpu")
    holdout = read_config_file(ROOT / "configs" / "glyph-backbone.yaml")["holdout"]
    held_out = get_dataset(str(OMNIGLOT), "validation", model.config.input, holdout=holdout)
    result = evaluate(model, held_out, ways=5, shots=1, queries=5, episodes=20 if name == "maml" else 60, seed=1)
    assert result.mean > 0.7, f"{name}: {result}"  # chance is 0.2


@needs("photo")
@pytest.mark.skipif(not CALTECH.exists(), reason=f"Caltech-101 not found at {CALTECH} (../shared is absent)")
def test_photo_model_beats_imprinting_on_held_out_camera_photos():
    from paramembed.evaluation import paired_difference
    from paramembed.report import PHOTO_BENCHMARKS

    model = load_model("photo", device="cpu")
    held_out = PHOTO_BENCHMARKS[0].dataset(model)  # the 20 held-out Caltech classes, cached features
    own = evaluate(model, held_out, ways=5, shots=1, queries=15, episodes=100, seed=1)
    imprinting = evaluate(model, held_out, ways=5, shots=1, queries=15, episodes=100, seed=1, method="proto", use_queries=False)
    gain, ci = paired_difference(own, imprinting)
    assert own.mean > 0.85 and gain - ci > 0, f"photo: {own}, gain {gain:+.3f} +- {ci:.3f}"


@needs("photo-scratch")
@pytest.mark.skipif(not TINY_IMAGENET.exists(), reason=f"Tiny-ImageNet not found at {TINY_IMAGENET} (../shared is absent)")
def test_photo_model_beats_a_floor_on_held_out_classes():
    model = load_model("photo-scratch", device="cpu")
    holdout = read_config_file(ROOT / "configs" / "photo-backbone.yaml")["holdout"]
    held_out = get_dataset(str(TINY_IMAGENET), "validation", model.config.input, holdout=holdout)
    result = evaluate(model, held_out, ways=5, shots=5, queries=5, episodes=60, seed=1)
    assert result.mean > 0.45, f"photo-scratch: {result}"  # chance is 0.2; a random backbone gets about 0.3
