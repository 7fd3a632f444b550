"""The browser loads the chart library in its first idle moment, not when a chart is first asked for.

    preload.chart_library()    # once per run, from app.py: every page

Streamlit loads Plotly's renderer (a 4.7 MB script) only when a page first draws a Plotly chart.
Opening the explorer then cost the browser ~2 s more than the server's run: fetching, compiling and
running that script before the first chart could be drawn (issue 22, measured in Chromium).
This starts the same import when the browser is first idle (`requestIdleCallback`). On a first
visit that comes once the first results are drawn: in side runs the fetch began ~0.1 s after them
and the script then ran for ~1.4 s, and a "New task" click made 0.5 or 1 s after the results took
no longer than without the preload (0.44-0.76 s against 0.40-0.74 s, measured from the press).
It is the module Streamlit's own lazy import asks for (same address), so the chart later finds it
loaded.

A loaded library still compiles the code of each kind of figure when it first draws one: the
explorer's first open took 0.73 s and its second 0.42 s in one side run. So, one idle moment at a
time, it then draws a tiny figure of each kind the app shows off screen (`WARM_FIGURES`) and
throws it away: the explorer's first open in the browser bench went 0.62 -> 0.54 s and
0.56 -> 0.51 s (two runs of 3 fresh servers each, side by side). The script and its figures are
ours and fixed; nothing a visitor sends reaches them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

# Hidden: an element with no content still takes a row (and its gap) in Streamlit's layout.
MARKER = "paramembed-preload"
_HTML = """<div class="%(marker)s"></div>
<style>[data-testid="stElementContainer"]:has(.%(marker)s) { display: none; }</style>
<script>
(() => {
  if (window.__paramembedPreloaded) return;
  window.__paramembedPreloaded = true;
  const entry = document.querySelector('script[type="module"][src*="static/js/index"]');
  if (!entry) return;
  const idle = (f, timeout) => (window.requestIdleCallback || (g => setTimeout(g, 200)))(f, {timeout});
  const figures = %(figures)s;
  // One figure per idle moment, off screen: each is a short task a click can slip between.
  const warm = () => {
    const plotly = window.Plotly;
    if (!plotly || !plotly.newPlot) return;
    const box = document.createElement('div');
    box.style.cssText = 'position: fixed; left: -10000px; top: 0; width: 480px; height: 320px;';
    document.body.appendChild(box);
    const next = i => {
      if (i === figures.length) { box.remove(); window.__paramembedChartsWarm = true; return; }
      plotly.newPlot(box, figures[i].data, figures[i].layout)
        .then(() => { plotly.purge(box); idle(() => next(i + 1), 2000); }, () => box.remove());
    };
    next(0);
  };
  const load = () => Promise.all(%(chunks)s.map(name => import(new URL(name, entry.src).href)))
    .then(() => idle(warm, 5000), () => {});
  idle(load, 3000);
})();
</script>"""
# A 1x1 PNG: the explorer's drawings are layout images.
PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
# One tiny figure of each kind the app draws (explorer_figures.py, the agreement box plot, the
# Playground's heatmaps and bars), drawn once and thrown away.
WARM_FIGURES = (
    {"data": [{"type": "scatter", "mode": "markers", "name": g, "x": [0, 1], "y": [1, 0], "customdata": [[0], [1]],
               "marker": {"size": [7, 11], "opacity": [1, 0.15]}} for g in "ab"],
     "layout": {"images": [{"source": PIXEL, "xref": "x", "yref": "y", "x": 0, "y": 1, "sizex": 0.1, "sizey": 0.1,
                            "xanchor": "center", "yanchor": "middle", "layer": "above"}],
                "showlegend": True, "margin": {"l": 0, "r": 0, "t": 30, "b": 0}}},
    {"data": [{"type": "scatter", "x": [1, 5, 5, 1], "y": [0, 1, 2, 1], "fill": "toself", "line": {"width": 0}},
              {"type": "scatter", "mode": "lines+markers", "x": [1, 5], "y": [1, 2]}],
     "layout": {"xaxis": {"type": "log"}}},
    {"data": [{"type": "box", "x": ["1", "1", "5"], "y": [0.1, 0.5, 0.9], "boxpoints": "outliers"}], "layout": {}},
    {"data": [{"type": "heatmap", "z": [[0, 1], [1, 0]]}], "layout": {}},
    {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}], "layout": {}},
)


@functools.cache
def chart_chunks() -> tuple[str, ...]:
    """File names of Streamlit's lazily loaded Plotly renderer in this install (none if its layout changed)."""
    js = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(sorted(p.name for p in js.glob("PlotlyChart.*.js")))


def script_json(value) -> str:
    """JSON to paste into a script: "<" escaped (Streamlit parses the element's HTML, and a tag-like "<extra>" in
    a string had kept the whole script from running)."""
    return json.dumps(value).replace("<", "\\u003c")


def chart_library() -> None:
    """Ask the browser to load Plotly's renderer and draw its warm-up figures when idle; the page shows nothing
    of it. Once per page load."""
    chunks = chart_chunks()
    if chunks:
        st.html(preload_html(chunks), unsafe_allow_javascript=True)


def preload_html(chunks: tuple[str, ...]) -> str:
    """The hidden element and its script, loading these renderer chunks and then drawing `WARM_FIGURES`."""
    return _HTML % {"marker": MARKER, "chunks": script_json(list(chunks)), "figures": script_json(WARM_FIGURES)}
