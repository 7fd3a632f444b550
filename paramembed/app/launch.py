"""`python -P paramembed/app/launch.py [streamlit flags]`: `streamlit run app.py`, warmed up (what `make run` runs).

The same server as `streamlit run app.py <flags>`, plus `paramembed.app.warm`: while the server
starts and the browser loads the page, a background thread imports torch, loads the default
model and solves the first task, so the first Playground shows results without waiting for all
of that (issue 22). `PARAMEMBED_WARM=0` turns the warm-up off (to measure what it saves).

Run as a file, not with `-m paramembed.app.launch`: `-m` imports the `paramembed` package, and
with it torch, on the main thread before the server starts (its health check answered 2.7 s
later). `-P` keeps this file's folder off `sys.path`; `paramembed` is imported by the warm-up only.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"
log = logging.getLogger("paramembed.warm")


def server_environment() -> None:
    """Settings that must be in place before torch loads (OpenMP reads them once)."""
    # OpenMP threads that find no work sleep instead of spinning. A server shares its cores with its
    # own threads, the browser and other sessions; spinning threads then made one Conv-4 pass 4-6x
    # slower (measured with 2 threads on 2 busy cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pages_from_navigation_only() -> None:
    """Every visit runs app.py, which lists the pages (`st.navigation`), even a fresh server's first one.

    Streamlit still treats an app with a `pages/` folder as a folder-of-pages app until some script
    calls `st.navigation`. Until then, a visitor who opens a page's own address (a bookmark, or a page
    that reconnects after a restart) got that page's file run on its own: file names for the page
    list, no language picker, no page setup. app.py clears Streamlit's flag on its first run; here
    it is cleared before the first visitor (the flag is Streamlit's own: tests/e2e checks the result).
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


def warm() -> None:
    """The warm-up, beside the server's start; a failure is logged, never raised (the page then does the work).

    Started with the process, not once the server serves: its imports then delay the health
    check by about a second. The first results had seemed 1-2 s sooner for it, but that bench's
    clock left out the health wait; measured again on the wall clock (4 runs each, side by side,
    load 2-3), starting it once the server listens made no clear difference (medians 7.2 vs 6.9 s).
    """
    try:
        from paramembed.app.warm import warm_later, warm_up

        log.info("warmed up in %.1f s", warm_up())
        log.info("other pages warmed up in %.1f s", warm_later())
    except Exception:  # noqa: BLE001  (the page reports any real problem itself)
        log.warning("warm-up failed; the first page will do the work", exc_info=True)


def main(argv: list[str] | None = None) -> None:
    server_environment()
    from streamlit.web import cli

    pages_from_navigation_only()
    if os.environ.get("PARAMEMBED_WARM", "1") != "0":
        # Named with background.PREFIX: Streamlit's warnings about its cached calls are expected there.
        threading.Thread(target=warm, name="paramembed-warm-up", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
