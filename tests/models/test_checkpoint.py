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


# ============ training checkpoints: one atomic step, resumed exactly ============

import os  # noqa: E402

from paramembed.checkpoint import ASSETS, MANIFEST, read_checkpoint, read_model_config, save_checkpoint  # noqa: E402
from paramembed.config import TrainConfig  # noqa: E402


class Killed(Exception):
    """Stands for a SIGKILL landing in the middle of a checkpoint."""


def tiny_model(seed):
    torch.manual_seed(seed)
    return build_model(ModelConfig(width=8))


def save_step(run_dir, step, seed):
    model = tiny_model(seed)
    save_checkpoint(run_dir, model, {"step": step}, {"optimiser": {"lr": torch.tensor(float(step))}, "step": step})
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_weights_equal(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def kill_on_call(monkeypatch, target, name, call):
    """Make `target.name` raise Killed on its `call`-th call (1-based), behave normally otherwise."""
    real, calls = getattr(target, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


def test_a_kill_between_the_writes_leaves_the_last_complete_checkpoint(tmp_path, monkeypatch):
    first = save_step(tmp_path, 54, seed=0)
    kill_on_call(monkeypatch, torch, "save", 1)  # weights and config of step 55 written, the state not
    with pytest.raises(Killed):
        save_step(tmp_path, 55, seed=1)
    monkeypatch.undo()
    saved = read_checkpoint(tmp_path)
    assert saved.step == 54 and saved.state["optimiser"]["lr"].item() == 54.0
    assert_weights_equal(saved.weights, first)


def test_a_kill_at_the_manifest_swap_leaves_the_last_complete_checkpoint(tmp_path, monkeypatch):
    first = save_step(tmp_path, 10, seed=0)
    manifest_replaces = []
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(dst) == MANIFEST:
            manifest_replaces.append(dst)
            raise Killed
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        save_step(tmp_path, 20, seed=1)
    monkeypatch.undo()
    assert manifest_replaces
    saved = read_checkpoint(tmp_path)
    assert saved.step == 10
    assert_weights_equal(saved.weights, first)
    # The next save cleans up the half-written folder.
    last = save_step(tmp_path, 30, seed=2)
    assert len(list(tmp_path.glob("ckpt-*"))) == 1
    assert_weights_equal(read_checkpoint(tmp_path).weights, last)


def test_the_top_level_files_follow_each_checkpoint_and_load(tmp_path):
    save_step(tmp_path, 1, seed=0)
    second = save_step(tmp_path, 2, seed=1)
    assert json.loads((tmp_path / "config.json").read_text())["step"] == 2
    assert_weights_equal(load_model(tmp_path, device="cpu").state_dict(), second)
    assert not (tmp_path / "state.pt").exists()  # the state lives only inside the checkpoint folder


def test_a_truncated_state_or_corrupt_weights_give_one_line(tmp_path):
    save_step(tmp_path, 3, seed=0)
    folder = read_checkpoint(tmp_path).folder
    state = (folder / "state.pt").read_bytes()
    (folder / "state.pt").write_bytes(state[: len(state) // 2])
    with pytest.raises(ParamembedError, match="truncated or corrupt training state") as err:
        read_checkpoint(tmp_path)
    assert "\n" not in str(err.value)
    (folder / "state.pt").write_bytes(state)
    (folder / "model.safetensors").write_bytes(b"\x10" * 64)
    with pytest.raises(ParamembedError, match="corrupt checkpoint") as err:
        read_checkpoint(tmp_path)
    assert "\n" not in str(err.value)


def test_a_state_holding_code_is_refused(tmp_path):
    save_step(tmp_path, 3, seed=0)
    folder = read_checkpoint(tmp_path).folder
    torch.save({"step": 3, "payload": ModelConfig()}, folder / "state.pt")  # a pickled object, not tensors
    with pytest.raises(ParamembedError, match="truncated or corrupt training state"):
        read_checkpoint(tmp_path)


def test_an_old_layout_cut_short_between_its_writes_is_refused(tmp_path):
    # Before manifests: weights + config.json of step 55 written, the kill, then state.pt of step 54.
    save_model(tiny_model(0), tmp_path, {"step": 55})
    torch.save({"optimiser": {}, "step": 54}, tmp_path / "state.pt")
    with pytest.raises(ParamembedError, match=r"disagree .*step 54.*step 55.*--fresh"):
        read_checkpoint(tmp_path)
    torch.save({"optimiser": {}, "step": 55}, tmp_path / "state.pt")
    assert read_checkpoint(tmp_path).step == 55  # a complete old-layout checkpoint still resumes


def test_no_checkpoint_and_a_broken_manifest(tmp_path):
    assert read_checkpoint(tmp_path) is None
    (tmp_path / MANIFEST).write_text(json.dumps({"folder": "ckpt-9-gone", "step": 9}))
    with pytest.raises(ParamembedError, match="missing"):
        read_checkpoint(tmp_path)
    (tmp_path / MANIFEST).write_text("{")
    with pytest.raises(ParamembedError, match="not a valid checkpoint manifest"):
        read_checkpoint(tmp_path)


def test_shipped_models_load_unchanged():
    for folder in sorted(p for p in ASSETS.iterdir() if (p / "model.safetensors").is_file()) if ASSETS.is_dir() else []:
        config, _ = read_model_config(folder)
        load_model(folder, device="cpu")


def test_a_config_json_with_a_width_of_zero_is_one_line(tmp_path):
    folder = save_model(tiny_model(0), tmp_path / "m")
    payload = json.loads((folder / "config.json").read_text())
    payload["model"]["width"] = 0
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ParamembedError, match="model.width must be at least 1"):
        load_model(folder)


def kill_config(tmp_path, name):
    return TrainConfig(
        name=name, out_dir=str(tmp_path), model=ModelConfig(generator="hyper", width=8), ways=[5], shots=[1],
        queries=2, tasks_per_batch=2, episodes=24, warmup_episodes=4, val_every=0, val_episodes=2, val_ways=5,
        checkpoint_every=8, device="cpu", amp=False,
    )


def test_training_killed_during_a_checkpoint_resumes_to_the_same_result(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from paramembed.training import train

    whole = train(kill_config(tmp_path, "whole"), progress=False)
    # The second checkpoint (step 8) dies after its weights and config, before the optimiser state.
    kill_on_call(monkeypatch, torch, "save", 2)
    with pytest.raises(Killed):
        train(kill_config(tmp_path, "killed"), progress=False)
    monkeypatch.undo()
    killed = tmp_path / "killed"
    assert read_checkpoint(killed).step == 4
    resumed = train(kill_config(tmp_path, "killed"), progress=False)
    assert_weights_equal(load_file(str(resumed / "model.safetensors")), load_file(str(whole / "model.safetensors")))
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["split"] == "train"]
    assert steps == sorted(set(steps))  # no step logged twice
