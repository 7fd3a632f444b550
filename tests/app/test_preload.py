"""The chart library's preload: it finds Streamlit's Plotly renderer in this install and asks the page for it once."""

from pathlib import Path

from paramembed.app import preload

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_streamlit_has_the_plotly_renderer_the_preload_names():
    # Streamlit names its lazily loaded chunks by content hash; when a new version renames or splits
    # this one the preload would silently load nothing: this test says so instead.
    chunks = preload.chart_chunks()
    assert len(chunks) == 1 and chunks[0].startswith("PlotlyChart.") and chunks[0].endswith(".js"), chunks


def test_every_page_carries_the_preload_hidden_and_once_per_page_load():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    bodies = [h.proto.body for h in at.get("html")]
    mine = [b for b in bodies if preload.MARKER in b]
    assert len(mine) == 1, bodies
    body = mine[0]
    assert preload.chart_chunks()[0] in body and "display: none" in body
    assert "window.__paramembedPreloaded" in body  # a rerun sends it again: the browser imports it only once


def test_the_warm_up_figures_reach_the_script_whole():
    # A "<" inside the script's JSON (a hover template's "<extra>") had kept the whole script from running:
    # it is escaped, and the JSON still reads back as the same figures.
    import json

    tagged = {"hovertemplate": "%{x}<extra></extra>"}
    text = preload.script_json(tagged)
    assert "<" not in text and json.loads(text) == tagged
    kinds = {trace["type"] for figure in preload.WARM_FIGURES for trace in figure["data"]}
    assert kinds == {"scatter", "box", "heatmap", "bar"}
    html = preload.preload_html(("x.js",))
    figures = preload.script_json(preload.WARM_FIGURES)
    assert "<" not in figures and f"const figures = {figures};" in html.split("<script>")[1].split("</script>")[0]
