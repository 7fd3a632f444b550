"""The project as installed: the download snippet runs outside the repository, the CLI is on PATH."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from paramembed import ModelConfig, build_model, load_model, save_model
from paramembed.checkpoint import ASSETS, WEIGHTS
from paramembed.export import save_classifier, usage_snippet

ROOT = Path(__file__).resolve().parent.parent


def outside_python(cwd: Path, code: str) -> subprocess.CompletedProcess:
    """This venv's python in `cwd`, with nothing that would put the repository on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def require_installed(cwd: Path) -> None:
    assert not cwd.resolve().is_relative_to(ROOT), "the check only means something outside the repository"
    found = outside_python(cwd, "import paramembed; print(paramembed.__file__)")
    if found.returncode != 0:
        pytest.fail(f"paramembed is not importable outside the repository: run `pip install -e .` in {ROOT} "
                    f"(`make test` does it)\n{found.stderr.strip().splitlines()[-1]}")


@pytest.mark.slow
@pytest.mark.parametrize("shipped", [True, False], ids=["shipped-name", "model-folder"])
def test_the_download_snippet_runs_from_a_folder_outside_the_repository(tmp_path, shipped):
    work = tmp_path / "downloads"
    work.mkdir()
    require_installed(work)
    if shipped:
        if not (ASSETS / "hyper" / WEIGHTS).is_file():
            pytest.skip("assets/models/hyper is not shipped")
        model_ref, model = "hyper", load_model("hyper", device="cpu")
    else:
        torch.manual_seed(0)
        folder = save_model(build_model(ModelConfig(width=8)), tmp_path / "my-run")
        model_ref, model = str(folder), load_model(folder, device="cpu")
    size = model.config.input.image_size
    support = torch.rand(6, model.config.input.channels, size, size)
    clf = model.adapt(support, ["a", "a", "b", "b", "c", "c"])
    save_classifier(clf, work / "classifier.safetensors", model_ref=model_ref, model_config=model.config)
    Image.new("L" if model.config.input.channels == 1 else "RGB", (size, size), 255).save(work / "query.png")

    result = outside_python(work, usage_snippet(model_ref))
    assert result.returncode == 0, result.stderr
    label, probability = result.stdout.split()
    assert label in ("a", "b", "c") and 0.0 < float(probability) <= 1.0
