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
loaded. The script is ours and fixed; nothing a visitor sends reaches it.
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
  const chunks = %(chunks)s;
  const load = () => chunks.forEach(name => import(new URL(name, entry.src).href).catch(() => {}));
  (window.requestIdleCallback || (f => setTimeout(f, 200)))(load, {timeout: 3000});
})();
</script>"""


@functools.cache
def chart_chunks() -> tuple[str, ...]:
    """File names of Streamlit's lazily loaded Plotly renderer in this install (none if its layout changed)."""
    js = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(sorted(p.name for p in js.glob("PlotlyChart.*.js")))


def chart_library() -> None:
    """Ask the browser to load Plotly's renderer when idle; the page shows nothing of it. Once per page load."""
    chunks = chart_chunks()
    if chunks:
        st.html(_HTML % {"marker": MARKER, "chunks": json.dumps(list(chunks))}, unsafe_allow_javascript=True)
