"""Hostile input through the app (issue 21): user text is shown as text, never rendered as Markdown.

A class named `![b](http://127.0.0.1:8629/x.png)` made every browser showing the playground fetch
that URL. Every element AppTest can read that Streamlit renders as Markdown must hold the name
escaped, never the raw image syntax.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_app_playground import add_class, app, assert_clean, model_available, png, upload, upload_mode, uploader  # noqa: E402,F401

EVIL = "![b](http://127.0.0.1:8629/x.png)"
MARKDOWN_ELEMENTS = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title", "header")


def rendered(at) -> list[str]:
    """Every string AppTest sees that Streamlit renders as Markdown (bodies, and help tooltips)."""
    out = []
    for kind in MARKDOWN_ELEMENTS:
        for element in getattr(at, kind):
            out.append(str(element.value))
            help_text = getattr(element.proto, "help", "")
            if help_text:
                out.append(help_text)
    for widget in list(at.file_uploader) + list(at.button) + list(at.text_input):
        out.append(widget.label)
    return out


def test_a_class_named_like_a_markdown_image_is_shown_as_text():
    at = upload_mode(app())
    add_class(at, EVIL)
    add_class(at, "beta")
    uploader(at, "upload_images_1").set_value([upload(f"{EVIL}.png", png(i)) for i in range(2)]).run()
    uploader(at, "upload_images_2").set_value([upload(f"b{i}.png", png(100 + i)) for i in range(2)]).run()
    at.selectbox(key="query_label").set_value(("query", EVIL)).run()
    uploader(at, "upload_queries").set_value([upload("q.png", png(0)), upload("bad [x](http://h/y.png).png", b"no")]).run()
    assert_clean(at)
    shown = rendered(at)
    assert not [s for s in shown if "](" in s.replace("\\](", "")], [s for s in shown if "](" in s][:3]
    assert any("!\\[b\\](http://127.0.0.1:8629/x.png)" in s for s in shown)  # the name is there, as text
    # The query cards are HTML (paramembed.app.cards): their only images are the thumbnails, inline.
    sources = [src for block in at.get("html") for src in re.findall(r'<img src="([^"]*)"', block.proto.body)]
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)


# ============ the explorer: a visitor's refused upload ============
from test_app_explorer import PAGE as EXPLORER, small_app, tiny_model  # noqa: E402,F401


def test_explorer_refuses_a_bomb_upload_without_server_paths_or_leftovers(tiny_model, tmp_path, monkeypatch):
    import io
    import zipfile

    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(20):  # 320 MB of zeros in 16 MB members, ~330 KB zipped
            zf.writestr(f"a/c/{i}.png", b"\0" * (16 * 2**20))
    at = small_app()
    at.session_state["explorer_source"] = "upload"
    at.run()
    at.file_uploader(key="explorer_upload").set_value(("bomb.zip", buffer.getvalue(), "application/zip")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "bomb.zip" in errors[0] and "256 MB" in errors[0], errors
    assert not any(str(tmp_path) in e for e in errors)  # no server path
    cache = tmp_path / "cache"
    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert left == []  # the old page kept the archive and its partial unpacking


# ============ network visitors see no server paths ============


def test_network_visitors_see_no_runs_folder_path(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    runs = tmp_path / "secret-runs"
    monkeypatch.setenv("PARAMEMBED_RUNS", str(runs))
    monkeypatch.setenv("PARAMEMBED_MODE", "network")
    pages = Path(__file__).resolve().parents[2] / "pages"
    for page in ("train.py", "curves.py"):
        at = AppTest.from_file(str(pages / page), default_timeout=60).run()
        assert not at.exception
        shown = rendered(at)
        assert not [s for s in shown if "secret-runs" in s], page
    monkeypatch.setenv("PARAMEMBED_MODE", "local")  # on one's own machine the path helps
    at = AppTest.from_file(str(pages / "train.py"), default_timeout=60).run()
    assert any("secret-runs" in s for s in rendered(at))
