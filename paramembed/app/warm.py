"""The first page's work, done once per server process before anyone asks for it.

A cold server answers its health check in about a second, but the first Playground then imports
torch, loads the default model, reads the sampling data and runs the first task: seconds in
front of a spinner. `warm_up` does that work in a background thread while the server starts
and the browser loads the page (`paramembed/app/launch.py`), into the same process-wide
`st.cache_resource` caches the page reads, and runs the default task once so torch's first-call
costs are paid too. A page that arrives before it is done waits on the same imports and caches;
nothing is computed twice. Then `warm_later` waits until the Playground has sent its first page
(`first_page_sent`) and pays the other pages' first costs (pandas, plotly's first figure), so
that they do not share the GIL with the first page's own work.
"""

from __future__ import annotations

import logging
import threading
import time

# What the Playground shows first (task_sources.sample_section's widget defaults).
FIRST_TASK = {"ways": 5, "shots": 5, "queries": 3, "within": False, "seed": 0, "index": 0}
# Set by the Playground once its page is sent; the other pages' warm-up waits for it (or this long).
FIRST_PAGE_SENT = threading.Event()
LATER_AFTER_S = 30.0


def first_page_sent() -> None:
    FIRST_PAGE_SENT.set()


def warm_up() -> float:
    """Import the pages' libraries, load the default model, sample and solve the first task; seconds taken."""
    start = time.perf_counter()
    # Called outside a script run, Streamlit logs "missing ScriptRunContext" for every cached call.
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        import plotly.graph_objects  # noqa: F401  (the results' charts; half a second on its own)

        from paramembed import ui
        from paramembed.app import results_view, task_sources  # noqa: F401  (results_view: the page's own imports)
        from paramembed.tasks import solve

        entries = ui.find_models()
        if not entries:
            return time.perf_counter() - start
        model = ui.load_model_cached(entries[0].path, "auto")
        task = task_sources.sampled_task(model.config.input, task_sources.PROCEDURAL, **FIRST_TASK)
        with ui.model_lock(entries[0].path, "auto"):
            solve(model, task)  # first calls into torch: kernel choice, allocator, thread pool
    finally:
        quiet.setLevel(level)
    return time.perf_counter() - start


def warm_later(timeout_s: float = LATER_AFTER_S) -> float:
    """The other pages' first costs, once the first page is sent (their imports would share the GIL with
    its work): pandas (app.py no longer imports it before the Playground), plotly.express, and
    plotly's first figure of each kind the explorer draws (its validators load on first use: 0.6-1.5 s).
    Seconds taken, waiting excluded."""
    FIRST_PAGE_SENT.wait(timeout_s)
    start = time.perf_counter()
    import pandas  # noqa: F401  (through its own door, as app.py does: see the comment there)

    from paramembed.app import explorer_figures

    explorer_figures.warm_up()
    return time.perf_counter() - start
