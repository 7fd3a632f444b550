"""The model zoo: which models exist, what they are called, and loading one (or refusing, in one line)."""

import json
from pathlib import Path

import pytest
import torch

from paramembed import ModelConfig, ParamembedError, build_model, save_model
from paramembed import list_models as public_list_models
from paramembed import load_model as public_load_model
from paramembed import zoo
from paramembed.checkpoint import ASSETS
from paramembed.config import InputSpec
from paramembed.models.pretrained import PretrainedUnavailable

TINY = dict(width=8, embedding_dim=8, hidden_dim=16)


def tiny(folder: Path, **overrides) -> Path:
    return save_model(build_model(ModelConfig(**{**TINY, **overrides})), folder)


def edit_config(folder: Path, **changes) -> None:
    """Change fields of config.json's model section; `input` takes a dict of its own fields."""
    payload = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if key == "input":
            payload["model"]["input"].update(value)
        else:
            payload["model"][key] = value
    (folder / "config.json").write_text(json.dumps(payload))


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """An assets folder with two models (one the default), a runs root named by $PARAMEMBED_RUNS."""
    assets, runs = tmp_path / "assets", tmp_path / "runs"
    tiny(assets / "alpha")
    tiny(assets / zoo.DEFAULT_MODEL)
    tiny(runs / "mine", generator="proto")
    tiny(runs / "colour", input=InputSpec(channels=3, image_size=32, centre=False))
    (runs / "empty").mkdir()  # no weights: not a model
    broken = tiny(runs / "broken")
    (broken / "config.json").write_text("{half written")
    monkeypatch.setenv("PARAMEMBED_RUNS", str(runs))
    monkeypatch.delenv(zoo.MODELS_ENV, raising=False)
    return assets, runs


# ============ discovery ============
def test_finds_shipped_default_first_then_runs_under_the_env_root(roots):
    assets, runs = roots
    entries = zoo.find_models(assets)
    assert [(e.name, e.kind) for e in entries] == [
        (zoo.DEFAULT_MODEL, "shipped"), ("alpha", "shipped"), ("colour", "run"), ("mine", "run"),
    ]
    colour = entries[2]
    assert colour.path == str(runs / "colour") and colour.channels == 3 and colour.family == "photo"
    assert entries[3].generator == "proto" and entries[3].family == "glyph"
    assert entries[0].label == f"{zoo.DEFAULT_MODEL} (shipped)"


def test_a_listed_folder_is_read_again_once_its_config_changes_and_not_before(tmp_path, monkeypatch):
    folder = tiny(tmp_path / "m")
    reads = []
    real = zoo.read_model_config
    monkeypatch.setattr(zoo, "read_model_config", lambda f: reads.append(f) or real(f))
    first = zoo.describe(folder, "run")
    assert zoo.describe(folder, "run") == first and len(reads) == 1  # listed on every rerun, read once
    edit_config(folder, generator="proto")
    assert zoo.describe(folder, "run").generator == "proto" and len(reads) == 2
    (folder / "config.json").write_text("{")  # broken after being listed: no longer offered
    assert zoo.describe(folder, "run") is None
    (folder / zoo.WEIGHTS).unlink()
    assert zoo.describe(folder, "run") is None


def test_env_folders_come_first_and_nothing_is_listed_twice(roots, tmp_path, monkeypatch):
    assets, runs = roots
    elsewhere = tiny(tmp_path / "elsewhere")
    monkeypatch.setenv(zoo.MODELS_ENV, f"{elsewhere}{zoo.os.pathsep}{runs / 'mine'}")
    entries = zoo.find_models(assets)
    assert [(e.name, e.kind) for e in entries[:2]] == [("elsewhere", "folder"), ("mine", "run")]
    assert [e.name for e in entries].count("mine") == 1


def test_an_explicit_runs_root_wins_over_the_env(roots, tmp_path):
    assets, _ = roots
    other = tmp_path / "other"
    tiny(other / "solo")
    assert [e.name for e in zoo.find_models(assets, runs=other) if e.kind == "run"] == ["solo"]


def test_pretrained_entry_is_offered_last_on_request(roots):
    assets, _ = roots
    assert zoo.PRETRAINED not in zoo.find_models(assets)
    entries = zoo.find_models(assets, pretrained=True)
    assert entries[-1] == zoo.PRETRAINED and zoo.PRETRAINED.kind == "pretrained" and zoo.PRETRAINED.path == zoo.PRETRAINED_NAME


def test_list_models_names_the_shipped_ones():
    assert zoo.list_models(Path("/nonexistent")) == []
    assert public_list_models is zoo.list_models
    if (ASSETS / zoo.DEFAULT_MODEL / "model.safetensors").exists():
        assert zoo.DEFAULT_MODEL in zoo.list_models()


# ============ loading ============
def test_loads_a_folder_in_eval_mode_on_the_cpu(tmp_path):
    model = public_load_model(tiny(tmp_path / "m"), device="cpu")
    assert not model.training and model.device.type == "cpu" and model.config.width == 8


def test_unknown_name_lists_the_shipped_models(tmp_path):
    with pytest.raises(ParamembedError, match="no model at .*shipped models:"):
        zoo.load_model(tmp_path / "nothing")


def test_pretrained_name_without_weights_says_where_the_file_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv("PARAMEMBED_RESNET18", raising=False)
    with pytest.raises(PretrainedUnavailable, match="not available offline"):
        zoo.load_model(zoo.PRETRAINED_NAME, device="cpu")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"width": 16}, "config says width 16 but the weights have 8 channels"),
        ({"generator": "latent"}, "config says generator 'latent' but the weights are a 'hyper' model's"),
        ({"generator": "maml"}, "config says generator 'maml' but the weights are a 'hyper' model's"),
        ({"backbone": "resnet18"}, "config says backbone 'resnet18' but the weights hold another backbone"),
        ({"input": {"channels": 3}}, "config says 3 input channels but the weights read 1"),
        ({"input": {"image_size": 64}}, r"config says image size 64 \(128 features\) but the weights read 8 features"),
        ({"hidden_dim": 32}, r"config gives generator\.\S+ the shape \[\d+(, \d+)?\] but the weights have"),
    ],
)
def test_config_that_disagrees_with_its_weights_names_the_field(tmp_path, change, message):
    folder = tiny(tmp_path / "m")
    edit_config(folder, **change)
    with pytest.raises(ParamembedError, match=message) as err:
        zoo.load_model(folder, device="cpu")
    assert str(err.value).startswith(f"{folder}: ") and "\n" not in str(err.value)


def test_each_method_reads_its_own_weights(tmp_path):
    for generator in ("hyper", "latent", "proto", "maml"):
        folder = tiny(tmp_path / generator, generator=generator)
        assert zoo.weights_generator(zoo.read_weight_shapes(folder)) == generator
        assert zoo.load_model(folder, device="cpu").method == generator


def test_unknown_generator_in_config_is_named(tmp_path):
    folder = tiny(tmp_path / "m")
    edit_config(folder, generator="finetune")  # a method, but not one a model is trained with
    with pytest.raises(ParamembedError, match="unknown generator 'finetune'; known: hyper, latent, proto, maml"):
        zoo.load_model(folder, device="cpu")


def test_shipped_models_still_load():
    names = zoo.list_models()
    if not names:
        pytest.skip("no shipped models in assets/models")
    for name in names:
        model = zoo.load_model(name, device="cpu")
        assert model.config == zoo.read_model_config(ASSETS / name)[0]
