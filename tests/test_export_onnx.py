"""The adapted classifier as ONNX, run by onnxruntime in a process that cannot import paramembed.

Also: an installed paramembed without the repository's models says exactly where they go.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from paramembed.checkpoint import ASSETS, WEIGHTS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

RUNNER = r'''
import json, sys
# No paramembed: any attempt to import it fails, and the repository is not on sys.path.
sys.modules["paramembed"] = None
sys.path = [p for p in sys.path if p and "wt" not in p and "/work/main" not in p or "site-packages" in p]
import numpy as np
import onnxruntime as ort

folder = sys.argv[1]
session = ort.InferenceSession(folder + "/classifier.onnx")
meta = session.get_modelmeta().custom_metadata_map
probs = session.run(["probs"], {"images": np.load(folder + "/images.npy")})[0]
print(json.dumps({"probs": probs.tolist(), "labels": json.loads(meta["labels"]), "input": json.loads(meta["input"])}))
'''


def run_outside(folder: Path) -> dict:
    result = subprocess.run([sys.executable, "-I", "-c", RUNNER, str(folder)], capture_output=True, text=True, timeout=300,
                            cwd=folder)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["hyper", "photo", "proto"])
def test_onnx_classifier_gives_the_same_probabilities_without_paramembed(tmp_path, name):
    from paramembed import load_model
    from paramembed.export import classifier_to_onnx

    if not (ASSETS / name / WEIGHTS).is_file():
        pytest.skip(f"assets/models/{name} is not shipped")
    model = load_model(name, device="cpu")
    spec = model.config.input
    torch.manual_seed(0)
    images = torch.rand(10, spec.channels, spec.image_size, spec.image_size)
    clf = model.adapt(images[:6], ["cat", "cat", "dog", "dog", "owl", "owl"])
    # A transductive model's weights depend on the queries: the export holds them as applied (what the app exports).
    expected, applied = model.classify(clf, images[6:])
    (tmp_path / "classifier.onnx").write_bytes(classifier_to_onnx(model, applied))
    np.save(tmp_path / "images.npy", images[6:].numpy())
    out = run_outside(tmp_path)
    assert np.abs(np.array(out["probs"]) - expected.numpy()).max() < 1e-4
    assert out["labels"] == ["cat", "dog", "owl"] and out["input"]["image_size"] == spec.image_size


def test_a_maml_classifier_is_refused_with_a_reason():
    from paramembed import load_model
    from paramembed.errors import ParamembedError
    from paramembed.export import classifier_to_onnx

    if not (ASSETS / "maml" / WEIGHTS).is_file():
        pytest.skip("assets/models/maml is not shipped")
    model = load_model("maml", device="cpu")
    clf = model.adapt(torch.rand(4, 1, 28, 28), [0, 0, 1, 1])
    with pytest.raises(ParamembedError, match="safetensors"):
        classifier_to_onnx(model, clf)


def test_without_shipped_models_the_message_says_where_they_go(tmp_path, monkeypatch):
    import paramembed.zoo as zoo
    from paramembed.errors import ParamembedError

    monkeypatch.setattr(zoo, "ASSETS", tmp_path / "site-packages" / "assets" / "models")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamembedError) as err:
        zoo.load_model("hyper")
    text = str(err.value)
    assert str(tmp_path / "site-packages" / "assets" / "models" / "hyper") in text
    assert "model.safetensors" in text and "pip install -e ." in text
