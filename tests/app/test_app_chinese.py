"""In Chinese, no page shows a word of English that is not a name: AppTest walks every page and its main states.

Each state's whole page (labels, help, options, messages, tabs, expanders, tables, chart titles,
axes and legends) goes through `shown_text.english_left`; a message that missed the catalog shows
up as English words. Runs on the shipped models (skips without them).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from paramembed.app.messages_zh_cn import MESSAGES_ZH_CN
from paramembed.checkpoint import ASSETS
from paramembed.methods import METHOD_NAMES
from shown_text import english_left, shown_texts

ROOT = Path(__file__).resolve().parents[2]
# Names that stay as they are: models (folders), methods, the datasets' own group and class names,
# the class names this test types.
MODEL_NAMES = {p.name for folder in (ASSETS, ASSETS.parent / "backbones") if folder.is_dir() for p in folder.iterdir()}
CLASS_NAMES = {"圆圈", "横线"}
DATA_NAMES = (r"\btest-[\w-]*\d+\b", r"\bchar-\d+\b", r"\bmy-run-[\d-]+\b", r"\b[a-z]+\d+[\w-]*")

pytestmark = pytest.mark.skipif(not (ASSETS / "hyper" / "model.safetensors").is_file(), reason="no shipped models")


@pytest.fixture(autouse=True)
def chinese_server(monkeypatch, tmp_path):
    for name in ("PARAMEMBED_MODELS", "PARAMEMBED_MODE", "PARAMEMBED_ADMIN_TOKEN", "PARAMEMBED_ALLOW_TRAINING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    # The server's default too, not only ?lang=: AppTest calls a widget's format_func outside the
    # script's thread, where the session's language is unknown and the server's default speaks.
    monkeypatch.setenv("PARAMEMBED_LANG", "zh-CN")


def app(page: str = "app.py", lang: str = "zh-CN") -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    at.query_params["lang"] = lang
    return at


def english_on(at, extra: set[str] = frozenset()) -> list[str]:
    names = MODEL_NAMES | set(METHOD_NAMES) | CLASS_NAMES | set(extra)
    found = []
    for where, text in shown_texts(at):
        for pattern in DATA_NAMES:
            text = re.sub(pattern, " ", text)
        left = english_left(text, names)
        if left:
            found.append(f"{where}: {left} in {text[:160]!r}")
    return found


RESULT_TABS = ("tab_queries", "tab_why", "tab_params", "tab_download")
EXPLORER_TABS = ("weights_vs_prototypes", "tab_drift", "tab_export")
# Each page's tabs that draw only when open: (the tabs' key, their message keys, the first is open at first)
LAZY_TABS = (("result_tab", RESULT_TABS), ("explorer_tab", EXPLORER_TABS))


def check_shown(at, extra: set[str] = frozenset()) -> None:
    assert not at.exception, [e.value for e in at.exception]
    found = english_on(at, extra)
    assert not found, "\n".join(found)


def open_tab(at, key: str, tabs_key: str = "result_tab"):
    at.session_state[tabs_key] = MESSAGES_ZH_CN[key]
    return at.run()


def check(at, extra: set[str] = frozenset()) -> None:
    """The page as shown, and each of its lazy tabs in turn (only the open one is drawn)."""
    check_shown(at, extra)
    labels = {t.label for t in at.tabs}
    for tabs_key, keys in LAZY_TABS:
        if MESSAGES_ZH_CN[keys[1]] not in labels:
            continue
        for key in keys[1:]:
            check_shown(open_tab(at, key, tabs_key), extra)
        open_tab(at, keys[0], tabs_key)


def png(seed: int, vertical: bool) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.full((48, 48), 255, np.uint8)
    at = int(rng.integers(10, 38))
    if vertical:
        arr[6:42, at - 2 : at + 2] = 0
    else:
        arr[at - 2 : at + 2, 6:42] = 0
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()


def uploader(at, name: str):
    return next(u for u in at.file_uploader if u.key.rsplit("_", 1)[0] == name)


# ============ the check itself ============
def test_the_walk_finds_english_in_chinese_mode(monkeypatch):
    monkeypatch.setitem(MESSAGES_ZH_CN, "tab_download", "Download")
    at = app().run()
    assert any("Download" in f for f in english_on(at)), "an untranslated tab label went unnoticed"


def test_english_mode_is_english(monkeypatch):
    monkeypatch.delenv("PARAMEMBED_LANG")
    at = app(lang="en").run()
    assert not at.exception
    assert at.title[0].value == "Playground" and at.tabs[0].label == "Queries"
    assert english_on(at)  # the same walk sees English (it is not blind)


# ============ every page, in Chinese ============
def test_playground_sampled_task():
    at = app().run()
    check(at)
    assert at.title[0].value == "试验场"
    assert any(m.value.startswith("**任务：5类5样本") for m in at.markdown)


@pytest.mark.slow
def test_playground_states():
    at = app().run()
    at.toggle(key="presentation").set_value(True).run()
    at.multiselect(key="compare").set_value(list(m for m in METHOD_NAMES if m != "hyper")).run()
    check(at)
    at.button(key="compare_run").click().run()  # the gradient methods, run on request
    check(at)
    at.multiselect(key="compare").set_value([]).run()
    at.number_input(key="sample_ways").set_value(10).run()  # over 8 ways: a confusion matrix
    at.checkbox(key="sample_within").check().run()
    check(at)
    at.selectbox(key="method").set_value("proto").run()  # a method that is not the model's own
    open_tab(at, "tab_download").button(key="onnx_make").click().run()
    check_shown(at)
    open_tab(at, RESULT_TABS[0])
    at.selectbox(key="sample_source").set_value("omniglot-holdout").run()
    check(at)
    at.selectbox(key="model").set_value(str(ASSETS / "photo")).run()
    check(at)


@pytest.mark.slow
def test_playground_hand_made_task():
    at = app().run()
    at.radio(key="task_source").set_value("Upload").run()
    check(at)  # no class yet: "not a task yet" (the library's English, marked as such)
    for name in CLASS_NAMES:
        at.text_input(key="new_class_name").input(name)
        at.button(key="add_class").click().run()
    for i, name in enumerate(sorted(CLASS_NAMES)):
        key = f"upload_images_{i + 1}"
        uploader(at, key).set_value([(f"{name}{j}.png", png(10 * i + j, i == 0), "image/png") for j in range(3)]).run()
    uploader(at, "upload_queries").set_value([("q1.png", png(99, True), "image/png"),
                                              ("q2.png", png(98, False), "image/png")]).run()
    check(at)
    assert any("手绘图" in i.value for i in at.info), [i.value for i in at.info]  # routed: "these look like drawings"
    for source in ("Draw", "Camera"):
        at.radio(key="task_source").set_value(source).run()
        check(at)


def test_explorer():
    at = app("pages/explorer.py")
    at.session_state["explorer_classes"] = 20
    at.run()
    check(at)
    assert at.title[0].value == "权重嵌入探索器"


@pytest.mark.slow
def test_explorer_states():
    at = app("pages/explorer.py")
    at.session_state["explorer_classes"] = 20
    at.session_state["explorer_shots"] = [1, 2, 5]
    at.run()
    at.multiselect(key="explorer_picked").set_value(at.multiselect(key="explorer_picked").options[:2]).run()
    at.text_input(key="explorer_search").input("alphabet-0").run()
    check(at, {"alphabet-0"})  # what the person typed
    at.text_input(key="explorer_search").input("zzz").run()
    at.radio(key="explorer_dims").set_value(3).run()
    at.selectbox(key="explorer_colour").set_value("shots").run()
    at.selectbox(key="explorer_space").set_value("prototypes").run()
    check(at, {"zzz"})
    for source in ("playground", "upload", "procedural"):
        at.radio(key="explorer_source").set_value(source).run()
        check(at, {"zzz"})


def test_curves():
    at = app("pages/curves.py").run()
    check(at)
    at.multiselect(key="curves_runs").set_value([]).run()
    check(at)


def test_train(monkeypatch):
    at = app("pages/train.py").run()
    check(at)
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    at = app("pages/train.py").run()
    check(at)  # training is off on a shared server: says so, in Chinese
