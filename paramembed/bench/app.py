"""App benchmarks: what a person waits for in a real browser, then where the time goes.

The figures people feel come from `paramembed/bench/browser.py`: fresh servers started as `make
run` starts them, driven by Chromium (first results, every main click, peak memory), against
issue 22's targets. The breakdown below them: server start is `streamlit run app.py` until the
health endpoint answers; `paramembed/bench/probe.py` in fresh processes times, with Streamlit's
AppTest in-process, the cold first page (the playground), a new sampled task (click to finished
rerun) and the explorer's first open, each a median over `repeats` processes, and the library
path stage by stage.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from paramembed.bench import probe
from paramembed.bench.browser import browser_section
from paramembed.bench.probe import ROOT, parse_probe_output
from paramembed.bench.timing import median
from paramembed.zoo import load_model
from paramembed.errors import ParamembedError


@dataclass(frozen=True)
class LatencyTarget:
    """One app figure and its target (issue #13 item 6, on an idle 2-core machine)."""

    key: str  # the figure's key in `latencies`
    label: str
    target_s: float


LATENCY_TARGETS = (
    LatencyTarget("cold_first_page", "cold first page (playground)", 5.0),
    LatencyTarget("new_task", "new sampled task (click -> rerun done)", 1.0),
    LatencyTarget("explorer_first_open", "explorer first open", 5.0),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start_seconds(timeout: float = 60.0) -> dict:
    """`streamlit run app.py` until /_stcore/health answers ok; the server is stopped after."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                return {"measured": False, "reason": f"streamlit exited with status {proc.returncode}"}
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.read().strip() == b"ok":
                        return {"measured": True, "seconds_to_health": time.perf_counter() - start}
            except OSError:
                time.sleep(0.05)
        return {"measured": False, "reason": f"no health answer within {timeout:.0f} s"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_probe(args: list[str], timeout: float = 600) -> dict:
    """One fresh probe process; {"measured": False, "reason"} when it fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-P", str(Path(probe.__file__)), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
    out = parse_probe_output(proc.stdout)
    if proc.returncode or out is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"measured": False, "reason": f"probe failed: {tail[:300]}"}
    return {"measured": True, **out}


def latency_figures(pages: list[dict]) -> dict[str, dict]:
    """The page probes' runs -> {target key: {median_s, worst_s, runs, target_s, met}}.

    A figure no run measured has median_s None and a reason.
    """
    runs = {
        "cold_first_page": [p["first_page_s"] for p in pages],
        "new_task": [s for p in pages for s in p["new_task_s"]],
        "explorer_first_open": [p["explorer_first_open_s"] for p in pages],
    }
    figures = {}
    for target in LATENCY_TARGETS:
        values = runs[target.key]
        figure: dict[str, Any] = {"label": target.label, "target_s": target.target_s, "runs": len(values)}
        if values:
            figure.update(median_s=median(values), worst_s=max(values), met=median(values) <= target.target_s)
        else:
            reasons = [p.get("new_task_reason") for p in pages if p.get("new_task_reason")]
            figure.update(median_s=None, worst_s=None, met=None, reason=reasons[0] if reasons else "no runs")
        figures[target.key] = figure
    return figures


def page_problems(pages: list[dict]) -> list[str]:
    """Exceptions any page raised while being timed: a figure of a failing page means little."""
    return sorted({f"{where}: {e}" for p in pages for where in ("first_page", "new_task", "explorer")
                   for e in p.get(where, {}).get("exceptions", [])})


def app_section(default_model: str | None, repeats: int = 3, clicks: int = 5,
                log: Callable[[str], None] = lambda s: None) -> dict:
    out: dict[str, Any] = {"browser": browser_section(repeats, log) if default_model is None else
                           {"measured": False, "reason": "the browser runs the shipped default model; --model hyper=... is not it"},
                           "server": server_start_seconds(), "repeats": repeats, "clicks": clicks,
                           "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    try:
        load_model(default_model)
    except ParamembedError as err:
        out["probe"] = {"measured": False, "reason": f"no default model: {err}"}
        return out
    model_args = ["--model", default_model] if default_model else []
    out["library"] = run_probe(["library", *model_args])
    out["model"] = default_model or "default (assets/models/hyper)"
    probes = [run_probe(["page", "--clicks", str(clicks), *model_args]) for _ in range(repeats)]
    pages = [p for p in probes if p["measured"]]
    if not pages:
        out["probe"] = {"measured": False, "reason": probes[0]["reason"]}
        return out
    out["probe"] = {"measured": True, "processes": len(pages), "peak_rss_mb": max(p["peak_rss_mb"] for p in pages),
                    "problems": page_problems(pages), "first_page_messages": pages[0]["first_page"]["messages"]}
    out["latencies"] = latency_figures(pages)
    if out["server"].get("measured"):
        out["seconds_start_to_first_page"] = out["server"]["seconds_to_health"] + out["latencies"]["cold_first_page"]["median_s"]
    return out
