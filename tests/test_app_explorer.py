"""AppTest for the explorer page, on a tiny untrained model (fast, and always present)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paramembed import ModelConfig, build_model, save_model

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "explorer.py")


@pytest.fixture()
def tiny_model(tmp_path, monkeypatch):
    folder = save_model(build_model(ModelConfig(width=8, embedding_dim=8, hidden_dim=16)), tmp_path / "tiny")
    monkeypatch.setenv("PARAMEMBED_MODELS", str(folder))
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    return folder


def small_app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["explorer_classes"] = 20
    at.session_state["explorer_shots"] = [1, 2]
    return at


def test_renders_projection_agreement_drift_and_exports(tiny_model):
    at = small_app().run()
    assert not at.exception
    assert not at.error
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 3  # projection, weights-vs-prototypes, drift
    assert "20 classes" in at.markdown[0].value or any("20 classes" in m.value for m in at.markdown)
    downloads = at.get("download_button")
    assert len(downloads) == 2


def test_picking_a_class_shows_its_neighbours(tiny_model):
    at = small_app().run()
    assert at.selectbox(key="explorer_shown").value == 2  # the default: the largest shot count
    at.multiselect(key="explorer_picked").select(at.multiselect(key="explorer_picked").options[0]).run()
    assert not at.exception
    assert any("selected" in h.value for h in at.subheader)
    assert any("Nearest by cosine" in m.value for m in at.markdown)


def test_tsne_3d_and_colour_by_shots(tiny_model):
    at = small_app().run()
    at.selectbox(key="explorer_projection").select("tsne")
    at.radio(key="explorer_dims").set_value(3)
    at.selectbox(key="explorer_shown").select("all")
    at.selectbox(key="explorer_colour").select("shots").run()
    assert not at.exception
    assert not at.error


def test_bad_folder_is_a_clear_error(tiny_model, tmp_path):
    at = small_app().run()
    at.radio(key="explorer_source").set_value("folder").run()
    assert any("Type the path" in i.value for i in at.info)
    at.text_input(key="explorer_folder").input(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert at.error and "existing folder" in at.error[0].value


def test_playground_source_without_a_task_says_so(tiny_model):
    at = small_app().run()
    at.radio(key="explorer_source").set_value("playground").run()
    assert not at.exception
    assert any("Playground page" in i.value for i in at.info)


def test_no_model_says_so(tmp_path, monkeypatch):
    import paramembed.ui as ui

    monkeypatch.setenv("PARAMEMBED_MODELS", "")
    monkeypatch.setattr(ui, "find_models", lambda: [])
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("no model" in i.value.lower() for i in at.info)


def test_playground_task_is_embedded(tiny_model):
    import io

    import numpy as np
    from PIL import Image

    from paramembed.tasks import TaskDraft, decode_files

    draft = TaskDraft()
    rng = np.random.default_rng(0)
    for name in ("cat", "dog", "owl"):
        draft.add_class(name)
        files = []
        for i in range(2):
            buffer = io.BytesIO()
            Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(buffer, format="PNG")
            files.append((f"{name}{i}.png", buffer.getvalue()))
        images, problems = decode_files(files)
        assert not problems
        draft.add_images(name, images)
    at = small_app()
    at.session_state["draft"] = draft
    at.session_state["explorer_source"] = "playground"
    at.session_state["explorer_shots"] = [1, 2, 5]  # the task has only 2 images per class
    at.run()
    assert not at.exception
    assert not at.error
    assert any("3 classes" in m.value for m in at.markdown)
    assert any("up to 2" in i.value for i in at.info)
    assert at.selectbox(key="explorer_shown").options == ["all", "1", "2"]


@pytest.mark.slow
def test_shipped_model_shows_real_content_on_first_open(monkeypatch):
    from paramembed import list_models

    if "hyper" not in list_models():
        pytest.skip("assets/models/hyper is absent (written by `make models`)")
    monkeypatch.delenv("PARAMEMBED_MODELS", raising=False)
    at = AppTest.from_file(PAGE, default_timeout=300).run()  # the defaults: 100 classes, 1/2/5/10 shots
    assert not at.exception and not at.error
    assert any("100 classes" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 3
