"""The first page's work, done once per server process before anyone asks for it.

A cold server answers its health check in about a second, but the first Playground then imports
torch, loads the default model, reads the sampling data and runs the first task: seconds in
front of a spinner. `warm_up` does that work in a background thread while the server starts
and the browser loads the page (`paramembed/app/launch.py`), into the same process-wide
`st.cache_resource` caches the page reads, and runs the default task once so torch's first-call
costs are paid too. A page that arrives before it is done waits on the same imports and caches;
nothing is computed twice. Then `warm_later` waits until the Playground has sent its first page
(`first_page_sent`), and a moment more while the browser draws it (`LATER_DELAY_S`), and pays the
other pages' first costs (pandas, plotly's first figure, the explorer's default view and its t-SNE),
so that they share neither the GIL with the first page's own work nor the cores with its drawing.

Each of them ends by freezing what is alive (`freeze_long_lived`): Streamlit collects every
garbage-collector generation after every script run (`runner.postScriptGC`), and with torch,
numpy, pandas and plotly loaded that walk over ~270,000 long-lived objects took ~190 ms on every
click, holding the GIL before the browser heard that the run had ended. Frozen, it takes <1 ms.
"""

from __future__ import annotations

import gc
import threading
import time

from paramembed.app import background  # noqa: F401  (its log filter: the warm-up runs on a background thread)

# What the Playground shows first (task_sources.sample_section's widget defaults).
FIRST_TASK = {"ways": 5, "shots": 5, "queries": 3, "within": False, "seed": 0, "index": 0}
# Set by the Playground once its page is sent; the other pages' warm-up waits for it (or this long).
FIRST_PAGE_SENT = threading.Event()
LATER_AFTER_S = 30.0
# ... and then this long again: Streamlit's frontend is still drawing the sent page, on one of the two
# cores. Started at once, the warm-up's imports and drawing took the other one from the browser:
# the results appeared 0.7-1.7 s after the page was sent, against 0.45-0.56 s with this wait (side
# runs, 6 each), and `bench --only app` read 3.77 / 3.47 s against 3.24 / 3.13 s (two pairs).
LATER_DELAY_S = 1.5
# Set once the long-lived objects are frozen (`freeze_long_lived`), by a warm-up or the first page.
_FROZEN = threading.Event()


def first_page_sent() -> None:
    FIRST_PAGE_SENT.set()
    if not _FROZEN.is_set():  # a server without the launcher's warm-up (`streamlit run app.py`, AppTest)
        freeze_long_lived()


def freeze_long_lived(collect: bool = True) -> None:
    """Move every object alive now out of the collector's sight (`gc.freeze`), after a collection.

    Called when what is alive is what lives as long as the process: imported modules, the loaded
    models. A frozen object is never collected, so this runs only at such moments (after the
    warm-ups, after the first page), never after every run: a run's garbage would be kept for good.
    `collect=False` skips the collection (~160 ms holding the GIL) where a page may be waiting:
    right after the imports the automatic collections have left no garbage (measured: 0 objects),
    and `warm_later` collects everything again (`gc.unfreeze` first) once the first page is out.
    """
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    _FROZEN.set()


def _default_model():
    """(path, model, its lock) of the model every page opens on (the first listed), loaded; None when there is none."""
    from paramembed import ui

    entries = ui.find_models()
    if not entries:
        return None
    path = entries[0].path
    return path, ui.load_model_cached(path, "auto"), ui.model_lock(path, "auto")


def warm_up() -> float:
    """Import the pages' libraries, load the default model, sample and solve the first task; seconds taken."""
    start = time.perf_counter()
    import plotly.graph_objects  # noqa: F401  (the results' charts; half a second on its own)

    from paramembed.app import results_view, task_sources  # noqa: F401  (results_view: the page's own imports)
    from paramembed.tasks import solve

    default = _default_model()
    if default is None:
        return time.perf_counter() - start
    _, model, lock = default
    task = task_sources.sampled_task(model.config.input, task_sources.PROCEDURAL, **FIRST_TASK)
    with lock:
        solve(model, task)  # first calls into torch: kernel choice, allocator, thread pool
    freeze_long_lived(collect=False)  # the first page may be waiting on this thread's caches
    return time.perf_counter() - start


def warm_later(timeout_s: float = LATER_AFTER_S, delay_s: float = LATER_DELAY_S) -> float:
    """The other pages' first costs, once the first page is sent (their imports would share the GIL with
    its work): pandas (app.py no longer imports it before the Playground), plotly.express, plotly's
    first figure of each kind the explorer draws (its validators load on first use: 0.6-1.5 s), and the
    explorer's default view with its t-SNE (`explorer_data.warm_default_view`). Seconds taken, waiting excluded."""
    if FIRST_PAGE_SENT.wait(timeout_s):
        time.sleep(delay_s)  # while the browser draws that page (LATER_DELAY_S)
    start = time.perf_counter()
    import pandas  # noqa: F401  (through its own door, as app.py does: see the comment there)

    from paramembed.app import explorer_data, explorer_figures

    explorer_figures.warm_up()
    default = _default_model()  # the explorer opens on the same default model as the Playground
    if default is not None:
        explorer_data.warm_default_view(*default)
    freeze_long_lived()
    return time.perf_counter() - start
