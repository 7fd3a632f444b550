"""AppTest for the explorer page, on a tiny untrained model (fast, and always present)."""

import base64
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import plotly.colors
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from paramembed import ModelConfig, build_model, save_model
from paramembed.app.display import md_text

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explorer.py")


@pytest.fixture()
def tiny_model(tmp_path, monkeypatch):
    folder = save_model(build_model(ModelConfig(width=8, embedding_dim=8, hidden_dim=16)), tmp_path / "tiny")
    monkeypatch.setenv("PARAMEMBED_MODELS", str(folder))
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    for name in ("PARAMEMBED_MODE", "PARAMEMBED_ALLOW_FOLDERS", "PARAMEMBED_DATA_ROOTS", "PARAMEMBED_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return folder


def small_app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["explorer_classes"] = 20
    at.session_state["explorer_shots"] = [1, 2]
    return at


def open_tab(at, label: str):
    """Pick a tab below the chart, as a click does (only the open tab's content runs)."""
    at.session_state["explorer_tab"] = label
    return at.run()


def chart_keys(at) -> list[str]:
    return [c.key for c in at.get("plotly_chart")]


def test_renders_projection_agreement_drift_and_exports(tiny_model):
    at = small_app().run()
    assert not at.exception
    assert not at.error
    assert [t.label for t in at.tabs] == ["Generated weights vs plain prototypes", "Drift with shots", "Export"]
    assert chart_keys(at) == ["explorer_chart", "explorer_agreement"]  # the first open draws two charts, not three
    assert "20 classes" in at.markdown[0].value or any("20 classes" in m.value for m in at.markdown)
    assert not at.get("download_button")
    open_tab(at, "Drift with shots")
    assert not at.exception
    assert chart_keys(at) == ["explorer_chart", "explorer_drift"]
    assert at.radio(key="explorer_drift_space").value == "embedding"
    open_tab(at, "Export")
    downloads = at.get("download_button")
    assert len(downloads) == 2 and all(d.proto.ignore_rerun for d in downloads)  # downloading changes nothing
    assert chart_keys(at) == ["explorer_chart"]


def test_drift_with_one_shot_count_says_what_it_needs(tiny_model):
    at = small_app()
    at.session_state["explorer_shots"] = [2]
    open_tab(at.run(), "Drift with shots")
    assert not at.exception and not at.get("plotly_chart")[1:]
    assert any("at least two shot counts" in i.value for i in at.info)


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


def test_server_folders_only_under_the_shared_roots(tiny_model, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "private" / "names").mkdir(parents=True)
    monkeypatch.setenv("PARAMEMBED_DATA_ROOTS", str(shared))
    at = small_app().run()
    at.radio(key="explorer_source").set_value("folder").run()
    assert any("Type the path" in i.value for i in at.info)
    messages = []
    for path in (tmp_path / "private", tmp_path / "nowhere", "/etc/shadow"):
        at.text_input(key="explorer_folder").input(str(path)).run()
        assert not at.exception
        assert at.error and "not under the folders this server shares" in at.error[0].value
        messages.append(at.error[0].value.replace(md_text(repr(str(path))), "PATH"))  # errors are shown escaped
    assert len(set(messages)) == 1  # an existing private folder reads like a missing one
    assert not at.get("plotly_chart")
    at.text_input(key="explorer_folder").input(str(shared / "missing")).run()
    assert at.error and "not a folder or" in at.error[0].value


def test_network_mode_offers_no_server_folders(tiny_model, monkeypatch):
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    at = small_app().run()
    assert not at.exception
    options = at.radio(key="explorer_source").options
    assert len(options) == 3 and not any("on this server" in o for o in options)
    assert any("you upload" in o for o in options)
    monkeypatch.setenv("PARAMEMBED_MODE", "local")
    assert any("on this server" in o for o in AppTest.from_file(PAGE, default_timeout=60).run().radio(key="explorer_source").options)


def omniglot_zip(alphabets: int = 2, characters: int = 3, drawings: int = 4) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for a in range(alphabets):
            for c in range(characters):
                for d in range(drawings):
                    png = io.BytesIO()
                    Image.fromarray((rng.random((28, 28)) > 0.8).astype(np.uint8) * 255).save(png, format="PNG")
                    zf.writestr(f"script{a}/char{c}/{d}.png", png.getvalue())
    return buffer.getvalue()


def test_an_uploaded_archive_is_embedded(tiny_model):
    at = small_app()
    at.session_state["explorer_source"] = "upload"
    at.run()
    assert any("Upload an archive" in i.value for i in at.info)
    at.file_uploader(key="explorer_upload").set_value(("mine.zip", omniglot_zip(), "application/zip")).run()
    assert not at.exception and not at.error
    assert any("6 classes** from 2 alphabet(s)" in m.value for m in at.markdown)
    assert chart_keys(at) == ["explorer_chart", "explorer_agreement"]


def chart_spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_search_highlights_matches_and_dims_the_rest(tiny_model):
    at = small_app().run()
    name = at.multiselect(key="explorer_picked").options[0].split(" (")[0]
    at.text_input(key="explorer_search").input(name).run()
    assert not at.exception
    assert any(f"1 of 20 points match {name!r}" in c.value for c in at.caption)
    opacities = [o for trace in chart_spec(at)["data"] for o in trace["marker"]["opacity"]]
    assert sorted(opacities) == [0.15] * 19 + [1.0]
    images = chart_spec(at)["layout"]["images"]
    assert sorted(i["opacity"] for i in images) == [0.15] * 19 + [1.0]
    at.text_input(key="explorer_search").input("no such class anywhere").run()
    assert any("No class or alphabet matches" in w.value for w in at.warning)
    assert all(o == 1.0 for trace in chart_spec(at)["data"] for o in trace["marker"]["opacity"])


def test_drawings_on_the_plot_for_each_point_and_toggle(tiny_model):
    at = small_app().run()
    spec = chart_spec(at)
    images = spec["layout"]["images"]
    assert len(images) == 20 and all(i["source"].startswith("data:image/png;base64,") for i in images)
    # Each drawing is tinted with its point's colour (real colours, not the theme's placeholders).
    colours = {t["marker"]["color"].lower() for t in spec["data"]}
    assert colours <= {c.lower() for c in plotly.colors.qualitative.Plotly}
    ink = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[0]["source"].split(",", 1)[1]))))
    rgb = tuple(ink[..., :3][ink[..., 3] > 0][0])
    assert "#%02x%02x%02x" % rgb in colours
    at.checkbox(key="explorer_thumbnails").uncheck().run()
    assert not chart_spec(at)["layout"].get("images")
    at.checkbox(key="explorer_thumbnails").check()
    at.radio(key="explorer_dims").set_value(3).run()
    assert not at.exception
    assert not chart_spec(at)["layout"].get("images")  # layout images are 2D only
    off = at.checkbox(key="explorer_thumbnails_off")
    assert off.disabled and off.value is False  # shown off, not greyed but ticked


def test_first_open_defaults_are_small_and_click_is_selectable(tiny_model):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.slider(key="explorer_classes").value == 40
    assert at.multiselect(key="explorer_shots").value == [1, 5]
    assert any("40 classes** from 4 alphabet(s)" in m.value for m in at.markdown)
    chart = at.get("plotly_chart")[0].proto
    assert chart.selection_mode and len(chart.selection_mode) == 3  # points (click), box, lasso
    # A lasso or box dragmode makes Streamlit turn clicks into plain events: clicking selected nothing.
    assert json.loads(chart.spec)["layout"].get("dragmode") in (None, "pan", "zoom")
    assert any("Click a point to select it" in c.value for c in at.caption)
    assert len(at.caption[0].value.split(". ")) == 2  # the two-sentence introduction


def test_a_colour_model_reads_the_procedural_photos(tmp_path, monkeypatch):
    from paramembed.config import InputSpec

    model = build_model(ModelConfig(width=8, embedding_dim=8, hidden_dim=16, input=InputSpec(channels=3, image_size=32)))
    monkeypatch.setenv("PARAMEMBED_MODELS", str(save_model(model, tmp_path / "colour")))
    at = small_app().run()
    assert not at.exception and not at.error
    assert any("20 classes" in m.value for m in at.markdown)
    assert len(chart_spec(at)["layout"]["images"]) == 20


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
    at = AppTest.from_file(PAGE, default_timeout=300).run()  # the defaults: 40 classes, 1 and 5 shots
    assert not at.exception and not at.error
    assert any("40 classes" in m.value for m in at.markdown)
    assert chart_keys(at) == ["explorer_chart", "explorer_agreement"]


# ============ issue 19: words for photos, upload names, axes, 3D points ============
def class_folder_zip(classes: int = 6, images: int = 6) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for c in range(classes):
            for i in range(images):
                png = io.BytesIO()
                Image.fromarray((rng.random((28, 28)) > 0.8).astype(np.uint8) * 255).save(png, format="PNG")
                zf.writestr(f"thing{c}/{i}.png", png.getvalue())
    return buffer.getvalue()


def test_an_uploaded_class_folder_archive_is_named_by_its_file(tiny_model):
    at = small_app()
    at.session_state["explorer_source"] = "upload"
    at.run()
    at.file_uploader(key="explorer_upload").set_value(("my-photos.zip", class_folder_zip(), "application/zip")).run()
    assert not at.exception and not at.error
    spec = json.dumps(chart_spec(at))
    assert "upload-" not in spec and "my-photos" in spec


def test_pca_axes_say_the_variance_they_explain_and_tsne_axes_do_not_pretend(tiny_model):
    at = small_app().run()
    layout = chart_spec(at)["layout"]
    assert re.fullmatch(r"PC1 \(\d+% of variance\)", layout["xaxis"]["title"]["text"])
    assert re.fullmatch(r"PC2 \(\d+% of variance\)", layout["yaxis"]["title"]["text"])


def test_3d_points_are_large_enough_to_point_at(tiny_model):
    at = small_app().run()
    at.radio(key="explorer_dims").set_value(3).run()
    sizes = [s for trace in chart_spec(at)["data"] for s in trace["marker"]["size"]]
    assert min(sizes) >= 6


def test_a_photo_model_speaks_of_groups_and_images_not_alphabets_and_drawings(tmp_path, monkeypatch):
    from paramembed.config import InputSpec

    model = build_model(ModelConfig(width=8, embedding_dim=8, hidden_dim=16, input=InputSpec(channels=3, image_size=32)))
    monkeypatch.setenv("PARAMEMBED_MODELS", str(save_model(model, tmp_path / "colour")))
    at = small_app().run()
    assert not at.exception and not at.error
    shown = " ".join([c.value for c in at.caption] + [m.value for m in at.markdown] + [w.value for w in at.warning]
                     + [s.label for s in at.slider] + [c.label for c in at.checkbox])
    assert "alphabet" not in shown.lower() and "drawing" not in shown.lower(), shown
    assert "Classes per group" in shown and "Images on the plot" in shown
    assert chart_spec(at)["layout"]["legend"]["title"]["text"] == "group"
