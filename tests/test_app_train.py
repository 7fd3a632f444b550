"""AppTest for the train page: the form, its error messages, and a tiny run started from the page."""

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import paramembed.run_metrics as M
import paramembed.run_processes as P
import paramembed.runs as R

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def tiny_form(at: AppTest, name: str = "tiny") -> AppTest:
    at.text_input(key="train_name").input(name)
    at.select_slider(key="train_width").set_value(8)
    at.number_input(key="train_episodes").set_value(8)
    at.slider(key="train_ways").set_value((5, 5))
    at.slider(key="train_shots").set_value((1, 1))
    at.number_input(key="train_tasks_per_batch").set_value(2)
    at.number_input(key="train_val_episodes").set_value(5)
    return at


def submit(at: AppTest) -> AppTest:
    return at.button(key="FormSubmitter:train_form-Start training").click().run()


def test_renders_the_form(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.selectbox(key="train_method").options == ["hyper", "latent", "proto", "maml"]
    assert any(str(root) in c.value for c in at.caption)


def test_bad_name_is_a_clear_error(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input(key="train_name").input("../escape")
    submit(at)
    assert not at.exception
    assert at.error and "run name" in at.error[0].value
    assert not root.exists() or not any(root.iterdir())


def test_upload_chosen_without_a_file(root):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_data").set_value("upload")
    submit(at)
    assert at.error and "zip" in at.error[0].value


def test_existing_name_is_refused(root):
    (root / "taken").mkdir(parents=True)
    (root / "taken" / "metrics.jsonl").write_text("")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    tiny_form(at, "taken")
    submit(at)
    assert at.error and "already exists" in at.error[0].value


def image_folder_zip(classes: int, images: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for c in range(classes):
            for i in range(images):
                img = Image.fromarray((np.random.default_rng(c * 100 + i).random((28, 28)) * 255).astype(np.uint8))
                png = io.BytesIO()
                img.save(png, format="PNG")
                zf.writestr(f"class{c}/img{i}.png", png.getvalue())
    return buffer.getvalue()


def test_too_small_zip_is_refused_and_leaves_nothing(root, tmp_path):
    # Checked directly through the library the page calls: AppTest cannot drive a file_uploader.
    config = R.make_config("small", width=8, ways=(5, 5), shots=(1, 1), episodes=8, root=root)
    config.data = str(P.save_upload("small", image_folder_zip(6, 3), root))
    with pytest.raises(R.ParamembedError, match="dataset too small"):
        P.start_run(config, root)
    assert not R.name_taken("small", root)
    P.discard_upload("small", root)
    assert not (root / "small").exists()


def test_a_big_enough_zip_passes_the_check(root):
    # 25 classes: 5 held out for 5-way validation, 20 to train on; 6 images = 1 shot + 5 queries.
    config = R.make_config("enough", width=8, ways=(5, 5), shots=(1, 1), episodes=8, root=root)
    config.data = str(P.save_upload("enough", image_folder_zip(25, 6), root))
    R.check_data(config)
    config.ways = [21]
    with pytest.raises(R.ParamembedError, match="train split"):
        R.check_data(config)


@pytest.mark.slow
def test_a_tiny_run_started_from_the_page_finishes(root):
    # Through app.py, so the page's link to the playground resolves as it does in the real app.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py").run()
    tiny_form(at)
    submit(at)
    assert not at.exception
    assert not at.error, at.error[0].value if at.error else ""
    assert P.active_run(root) == "tiny"
    assert any("tiny" in s.value and "running" in s.value for s in at.subheader)
    # A second run while this one trains is refused, by the page and by the library.
    assert at.button(key="FormSubmitter:train_form-Start training").disabled
    with pytest.raises(R.ParamembedError, match="still training"):
        P.start_run(R.make_config("second", episodes=8, root=root), root)
    deadline = time.time() + 300
    while P.run_status(root / "tiny") == "running" and time.time() < deadline:
        time.sleep(1)
    assert P.run_status(root / "tiny") == "finished", P.log_tail(root / "tiny")
    at.run()
    assert not at.exception
    assert any("Finished" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 1
    assert (root / "tiny" / "model.safetensors").is_file()
    from paramembed import load_model
    from paramembed.ui import find_models

    assert load_model(root / "tiny").config.width == 8
    assert any(c.path == str(root / "tiny") for c in find_models(runs=root))  # what the playground lists
