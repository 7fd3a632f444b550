import pytest

from paramembed.config import TrainConfig, apply_overrides, from_dict, load_train_config
from paramembed.errors import ParamembedError


def test_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: demo\nmodel:\n  generator: latent\nways: [5, 10]\n")
    config = load_train_config(path, ["episodes=123", "model.latent_steps=2", "shots=5"])
    assert isinstance(config, TrainConfig)
    assert (config.name, config.model.generator, config.model.latent_steps) == ("demo", "latent", 2)
    assert config.ways == [5, 10] and config.shots == [5] and config.episodes == 123


def test_unknown_key_names_the_key_and_the_known_ones():
    with pytest.raises(ParamembedError, match=r"unknown config key 'model.generatr'.*generator"):
        from_dict(TrainConfig, {"model": {"generatr": "hyper"}})


def test_wrong_type_is_named():
    with pytest.raises(ParamembedError, match="episodes"):
        from_dict(TrainConfig, {"episodes": "many"})


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ParamembedError, match="key=value"):
        apply_overrides({}, ["episodes"])
    with pytest.raises(ParamembedError, match="does not exist"):
        load_train_config(tmp_path / "nope.yaml")


# ============ validation: every number range-checked, one line naming the key ============

import math  # noqa: E402
from pathlib import Path  # noqa: E402

from paramembed.config_checks import check_device, validate_train_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def validated(tmp_path, *overrides):
    config = load_train_config(None, [f"out_dir={tmp_path}", *overrides])
    validate_train_config(config)
    return config


@pytest.mark.parametrize(
    "override, words",
    [
        ("lr=.nan", "lr"),
        ("lr=0", "lr"),
        ("weight_decay=-1", "weight_decay"),
        ("model.width=0", "model.width"),
        ("model.embedding_dim=0", "model.embedding_dim"),
        ("model.maml_lr=.inf", "model.maml_lr"),
        ("model.input.image_size=2", "model.input.image_size"),
        ("model.input.channels=2", "model.input.channels"),
        ("model.input.polarity=dark", "model.input.polarity"),
        ("num_workers=-1", "num_workers"),
        ("val_episodes=-1", "val_episodes"),
        ("val_episodes=1", "val_episodes"),  # one episode: its interval is NaN
        ("val_ways=1", "val_ways"),
        ("episodes=0", "episodes"),
        ("queries=0", "queries"),
        ("ways=[1]", "ways"),
        ("ways=[20, 5]", "ways"),
        ("ways=[2, 3, 4]", "ways"),
        ("shots=[0]", "shots"),
        ("within_alphabet=1.5", "within_alphabet"),
        ("mix_weight=.nan", "mix_weight"),
        ("epochs=0", "epochs"),
        ("stage=finetune", "stage"),
        ("device=bogus", "device"),
        ("augment=heavy", "augment"),
        ("name=a/b", "name"),
        ("seed=-3", "seed"),
    ],
)
def test_out_of_range_settings_are_refused_by_name(tmp_path, override, words):
    with pytest.raises(ParamembedError, match=words) as err:
        validated(tmp_path, override)
    assert "\n" not in str(err.value)


def test_non_integers_are_refused_for_whole_number_keys():
    for value in ("2.9", "true", "[3]", "1e-3", ".nan"):
        with pytest.raises(ParamembedError, match="'episodes' should be a whole number"):
            load_train_config(None, [f"episodes={value}"])
    # Whole numbers written as floats or in e-notation mean what they say.
    assert load_train_config(None, ["episodes=2e4"]).episodes == 20000
    assert load_train_config(None, ["episodes=300.0"]).episodes == 300
    with pytest.raises(ParamembedError, match="'ways' should be a whole number"):
        load_train_config(None, ["ways=[5, 7.5]"])


def test_text_and_flag_keys_refuse_other_kinds():
    with pytest.raises(ParamembedError, match="'name' should be text"):
        load_train_config(None, ["name="])  # YAML null, once the text "None"
    with pytest.raises(ParamembedError, match="'amp' should be true or false"):
        load_train_config(None, ["amp=2"])
    with pytest.raises(ParamembedError, match="'lr' should be a number"):
        load_train_config(None, ["lr=true"])


def test_out_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ParamembedError, match="out_dir .*is a file"):
        validate_train_config(TrainConfig(out_dir=str(blocker / "runs")))
    if Path("/proc").is_dir():
        with pytest.raises(ParamembedError, match="out_dir '/proc/forbidden': cannot create"):
            validate_train_config(TrainConfig(out_dir="/proc/forbidden"))
    validate_train_config(TrainConfig(out_dir=str(tmp_path / "not" / "yet")))
    assert not (tmp_path / "not").exists() and list(tmp_path.iterdir()) == [blocker]  # the probe cleans up


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "5\n", "just text\n"])
def test_a_config_file_that_is_not_a_mapping(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ParamembedError, match="should hold a mapping"):
        load_train_config(path, ["episodes=3"])


def test_a_section_given_a_value_is_named_with_a_separator():
    with pytest.raises(ParamembedError, match=r"^config key 'model' should be a mapping"):
        from_dict(TrainConfig, {"model": 5})
    with pytest.raises(ParamembedError, match="'model' is a single value"):
        load_train_config(None, ["model=5", "model.width=3"])
    with pytest.raises(ParamembedError, match="empty key"):
        load_train_config(None, ["model..width=3"])


def test_devices():
    for ok in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert check_device(ok) == ok
    for bad in ("bogus", "cuda:", "gpu", ""):
        with pytest.raises(ParamembedError, match="device should be"):
            check_device(bad)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_passes(tmp_path, path):
    validated_config = load_train_config(path, [f"out_dir={tmp_path}"])
    for data in (validated_config.data, validated_config.mix_data):
        if "shared/" in data and not (ROOT / data).exists():
            pytest.skip(f"{path.name} trains on {data}, which is absent here (../shared is not beside the repository)")
    validate_train_config(validated_config)
    assert math.isfinite(validated_config.lr)
