"""Serving settings: local by default, network mode safe by default, paths confined to roots."""

import pytest

from paramembed.errors import ParamembedError
from paramembed.serving import confine, serving_from_env


def test_local_mode_allows_training_and_folders():
    s = serving_from_env({})
    assert s.mode == "local" and s.allow_training and s.allow_server_folders


def test_network_mode_turns_training_and_folders_off_unless_asked():
    s = serving_from_env({"PARAMEMBED_MODE": "network"})
    assert not s.may_train() and not s.may_read_folders()
    s = serving_from_env({"PARAMEMBED_MODE": "network", "PARAMEMBED_ALLOW_TRAINING": "1"})
    assert s.may_train() and not s.may_read_folders()


def test_admin_token_unlocks_only_when_it_matches():
    s = serving_from_env({"PARAMEMBED_MODE": "network", "PARAMEMBED_ADMIN_TOKEN": "s3cret"})
    assert s.may_train("s3cret") and s.may_read_folders("s3cret")
    assert not s.may_train("wrong") and not s.may_train("") and not s.may_train(None)
    assert not serving_from_env({"PARAMEMBED_MODE": "network"}).is_admin("")


@pytest.mark.parametrize("env, words", [
    ({"PARAMEMBED_MODE": "public"}, "PARAMEMBED_MODE"),
    ({"PARAMEMBED_ALLOW_TRAINING": "maybe"}, "PARAMEMBED_ALLOW_TRAINING"),
    ({"PARAMEMBED_MAX_EPISODES": "lots"}, "PARAMEMBED_MAX_EPISODES"),
    ({"PARAMEMBED_MAX_EPISODES": "0"}, "at least 1"),
])
def test_bad_settings_name_the_variable(env, words):
    with pytest.raises(ParamembedError, match=words):
        serving_from_env(env)


def test_confine_keeps_paths_under_a_root_and_refuses_the_rest_alike(tmp_path):
    root = tmp_path / "shared"
    (root / "a").mkdir(parents=True)
    assert confine(root / "a", (root,)) == (root / "a").resolve()
    assert confine(root / "missing", (root,)) == (root / "missing").resolve()
    messages = []
    for outside in (tmp_path, tmp_path / "nope", root / ".." / "escape", "/etc/shadow"):
        with pytest.raises(ParamembedError) as err:
            confine(outside, (root,))
        messages.append(str(err.value).split("'")[-1])
    assert len(set(messages)) == 1  # existing and missing paths read the same


def test_confine_follows_links_out_of_the_root(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ParamembedError):
        confine(root / "link", (root,))
    with pytest.raises(ParamembedError, match="null"):
        confine("a\x00b", (root,))
