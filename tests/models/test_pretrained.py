"""The ImageNet ResNet-18 option, tested with locally saved random weights: never a download."""

import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import resnet18

from paramembed import ModelConfig, InputSpec, save_model
from paramembed import zoo
from paramembed.models import pretrained
from paramembed.models.fewshot import FewShotModel
from paramembed.models.pretrained import WEIGHTS_FILE, PretrainedUnavailable
from paramembed.zoo import load_model, load_photo_model, load_pretrained_model


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """An empty torch cache, no env override, and a network that refuses every download."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv(pretrained.WEIGHTS_ENV, raising=False)

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no internet in tests")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", refuse)


@pytest.fixture
def weights_file(tmp_path):
    torch.manual_seed(0)
    state = resnet18(weights=None).state_dict()
    path = tmp_path / WEIGHTS_FILE
    torch.save(state, path)
    return path, state


def _photos(n, seed):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)) for _ in range(n)]


def test_loads_a_local_state_dict_into_the_backbone(weights_file):
    path, state = weights_file
    model = load_pretrained_model(path, image_size=64, device="cpu")
    assert model.config.backbone == "resnet18" and model.config.generator == "proto"
    assert torch.equal(model.backbone.net.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.backbone.net.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert model.features(torch.rand(2, 3, 64, 64)).shape == (2, 512)


def test_adapt_and_predict_on_raw_photos(weights_file):
    model = load_pretrained_model(weights_file[0], image_size=64, device="cpu")
    clf = model.adapt(_photos(4, 0), ["cat", "cat", "dog", "dog"])
    assert clf.weights.shape == (1, 2, 512) and clf.labels == ["cat", "dog"]
    probs = model.predict(clf, _photos(3, 1))
    assert probs.shape == (3, 2) and torch.allclose(probs.sum(1), torch.ones(3))


def test_env_variable_and_torch_cache_are_found(weights_file, monkeypatch):
    path, state = weights_file
    monkeypatch.setenv(pretrained.WEIGHTS_ENV, str(path))
    assert torch.equal(load_pretrained_model(image_size=64, device="cpu").backbone.net.conv1.weight, state["conv1.weight"])
    monkeypatch.delenv(pretrained.WEIGHTS_ENV)
    cached = pretrained.cached_weights_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())
    model = load_pretrained_model(image_size=64, device="cpu")
    assert torch.equal(model.backbone.net.conv1.weight, state["conv1.weight"])


def test_offline_message_says_where_to_put_the_file():
    with pytest.raises(PretrainedUnavailable) as err:
        load_pretrained_model(allow_download=False)
    message = str(err.value)
    assert WEIGHTS_FILE in message and str(pretrained.cached_weights_path()) in message and pretrained.WEIGHTS_ENV in message
    with pytest.raises(PretrainedUnavailable, match="download failed: .*no internet"):
        load_pretrained_model(allow_download=True)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(PretrainedUnavailable, match="no such file"):
        load_pretrained_model(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedUnavailable, match="not a readable"):
        load_pretrained_model(junk)
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(PretrainedUnavailable, match="not a ResNet-18"):
        load_pretrained_model(other)


def test_falls_back_to_the_photo_model_with_a_notice(tmp_path, monkeypatch):
    photo = tmp_path / "photo"
    save_model(FewShotModel(ModelConfig(input=InputSpec(channels=3, image_size=32, centre=False))), photo)
    monkeypatch.setattr(zoo, "FALLBACK_MODEL", str(photo))
    model, notice = load_photo_model(device="cpu")
    assert model.config.backbone == "conv4" and model.config.input.channels == 3
    assert WEIGHTS_FILE in notice and "instead" in notice
    model, notice = load_photo_model(prefer_pretrained=False, device="cpu")
    assert notice is None


def test_a_saved_pretrained_model_reloads_from_its_folder(weights_file, tmp_path):
    model = load_pretrained_model(weights_file[0], image_size=64, device="cpu")
    save_model(model, tmp_path / "resnet")
    again = load_model(tmp_path / "resnet", device="cpu")
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model.features(x), again.features(x), atol=1e-5)


def test_cli_says_it_falls_back_offline(tmp_path, monkeypatch, capsys):
    from paramembed.cli import PRETRAINED_NAME, main

    assert PRETRAINED_NAME == zoo.PRETRAINED_NAME
    photo = tmp_path / "photo"
    save_model(FewShotModel(ModelConfig(input=InputSpec(channels=3, image_size=32, centre=False))), photo)
    monkeypatch.setattr(zoo, "FALLBACK_MODEL", str(photo))
    code = main(["evaluate", "--model", PRETRAINED_NAME, "--data", "procedural-photo", "--episodes", "2", "--queries", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "note: ImageNet ResNet-18 weights are not available offline" in captured.err and "instead" in captured.err
    assert '"method": "hyper"' in captured.out  # the fallback photo model answered
