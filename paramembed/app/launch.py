"""`python -m paramembed.app.launch [streamlit flags]`: `streamlit run app.py`, warmed up (what `make run` runs).

The same server as `streamlit run app.py <flags>`, plus `paramembed.app.warm`: while the server
starts and the browser loads the page, a background thread imports torch, loads the default model
and solves the first task, so the first Playground shows results in seconds rather than after
all of that (issue 22). `PARAMEMBED_WARM=0` turns the warm-up off (to measure what it saves).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"


def server_environment() -> None:
    """Settings that must be in place before torch loads (OpenMP reads them once)."""
    # OpenMP threads that find no work sleep instead of spinning. A server shares its cores with its
    # own threads, the browser and other sessions; spinning threads then made one Conv-4 pass 4-6x
    # slower (measured with 2 threads on 2 busy cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> None:
    server_environment()
    from streamlit.web import cli

    if os.environ.get("PARAMEMBED_WARM", "1") != "0":
        from paramembed.app.warm import warm_in_background

        warm_in_background()
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
