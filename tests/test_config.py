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
