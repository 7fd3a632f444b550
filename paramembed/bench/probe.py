"""The app probe: `python -P paramembed/bench/probe.py {page,library}` prints one `APP_PROBE {json}` line.

`app_section` runs it in a fresh process per repeat, so that "cold" means cold (nothing
imported beyond what a Streamlit server has, every `st.cache_*` empty) and the process's peak
resident memory is the app's alone. It runs as a file, not with `-m paramembed.bench.probe`,
because `-m` would import the `paramembed` package (and torch) before the clock starts; `-P`
keeps this file's folder off sys.path, and PYTHONPATH names the repository. Nothing from
`paramembed` is imported at the top of this file for the same reason.

    page     the app under Streamlit's AppTest, in-process: the first run of app.py (the
             playground, the default page), `clicks` clicks on "New task" (click to finished
             rerun), then the explorer's first open (switching pages, as a person would)
    library  the playground's library path: load the model and solve the first task, then the
             median of each stage (sample, preprocess, adapt, predict) over `tasks` tasks
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PLAYGROUND, EXPLORER = "pages/playground.py", "pages/explorer.py"
NEW_TASK = "sample_new"  # the playground's "New task" button
PREFIX = "APP_PROBE "


def peak_rss_mb() -> float:
    """This process's own peak: VmHWM. Linux carries the parent's peak into ru_maxrss across exec (the
    bench's own, 1.7 GB after MAML through an EfficientNet), so that is only the fallback without /proc."""
    from paramembed.bench.browser import peak_rss_mb as process_peak

    own = process_peak(os.getpid())
    return own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def page_notes(at) -> dict:
    """What a run showed besides its content: exceptions, and errors/warnings/infos (first 160 chars)."""
    return {
        "exceptions": [str(e.value)[:200] for e in at.exception],
        "messages": [str(m.value)[:160] for m in list(at.error) + list(at.warning) + list(at.info)],
    }


def measure_pages(app: Path = APP, clicks: int = 5, preset: dict | None = None, timeout: float = 300) -> dict:
    """Seconds of the app's first run, of each "New task" click, and of the explorer's first open.

    `preset` goes into session_state before the first run (tests use it for tiny explorer sizes).
    Returns {"first_page_s", "first_page", "new_task_s": [...], "explorer_first_open_s", "explorer", ...};
    a figure the app cannot give is None with a "..._reason".
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app), default_timeout=timeout)
    for key, value in (preset or {}).items():
        at.session_state[key] = value
    out: dict = {}
    start = time.perf_counter()
    at.run()
    out["first_page_s"] = time.perf_counter() - start
    out["first_page"] = page_notes(at)
    out["new_task_s"] = []
    has_button = any(b.key == NEW_TASK for b in at.button)
    if not has_button:
        out["new_task_reason"] = f"no button with key {NEW_TASK!r} on the first page"
    for _ in range(clicks if has_button else 0):
        start = time.perf_counter()
        at.button(key=NEW_TASK).click().run()
        out["new_task_s"].append(time.perf_counter() - start)
    out["new_task"] = page_notes(at)
    start = time.perf_counter()
    at.switch_page(EXPLORER).run()
    out["explorer_first_open_s"] = time.perf_counter() - start
    out["explorer"] = {**page_notes(at), "charts": len(at.get("plotly_chart"))}
    return out


def measure_library(model_arg: str | None, tasks: int = 20) -> dict:
    """The playground's work without Streamlit: seconds to the first predictions, stage medians in ms."""
    import statistics

    start = time.perf_counter()  # the imports are part of a cold start
    from paramembed import load_model
    from paramembed.data.registry import get_dataset
    from paramembed.tasks import preprocess_task, sample_task, solve

    model = load_model(model_arg)
    dataset = get_dataset("procedural", "test", model.config.input)
    solve(model, sample_task(dataset, 5, 5, 3, False, 0, tasks))  # the first task: allocations and all
    out: dict = {"seconds_to_first_predictions": time.perf_counter() - start}
    stages: dict[str, list[float]] = {"sample": [], "preprocess": [], "adapt": [], "predict": []}
    for index in range(tasks):
        t0 = time.perf_counter()
        task = sample_task(dataset, 5, 5, 3, False, 0, index)
        t1 = time.perf_counter()
        inputs = preprocess_task(task, model.config.input)
        t2 = time.perf_counter()
        result = solve(model, task, None, inputs)
        stages["sample"].append(1e3 * (t1 - t0))
        stages["preprocess"].append(1e3 * (t2 - t1))
        stages["adapt"].append(result.adapt_ms)
        stages["predict"].append(result.predict_ms)
    out["stage_ms_median"] = {name: statistics.median(values) for name, values in stages.items()}
    out["interaction_ms_median"] = sum(out["stage_ms_median"].values())
    return out


def parse_probe_output(stdout: str) -> dict | None:
    """The probe's JSON from its stdout (other lines, e.g. Streamlit's warnings, are skipped)."""
    lines = [line for line in stdout.splitlines() if line.startswith(PREFIX)]
    return json.loads(lines[-1][len(PREFIX):]) if lines else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -P paramembed/bench/probe.py", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["page", "library"])
    parser.add_argument("--model", help="model folder or shipped name (default: the app's default model)")
    parser.add_argument("--clicks", type=int, default=5, help="'New task' clicks to time (page mode)")
    parser.add_argument("--tasks", type=int, default=20, help="tasks to time (library mode)")
    args = parser.parse_args(argv)
    if args.mode == "page":
        if args.model:
            os.environ["PARAMEMBED_MODELS"] = args.model
        # A running server has Streamlit imported already: that import is server start, not page time.
        import streamlit.testing.v1  # noqa: F401

        out = measure_pages(clicks=args.clicks)
    else:
        out = measure_library(args.model, args.tasks)
    out["peak_rss_mb"] = peak_rss_mb()
    print(PREFIX + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
