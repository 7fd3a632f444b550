"""The app figures: the probe drives the real pages, and the latency table says what it measured.

The in-process test runs the app on a tiny untrained model with a small explorer, so it is fast;
the subprocess test runs the probe file as `app_section` does.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paramembed import ModelConfig, build_model, save_model
from paramembed.bench import probe
from paramembed.bench.app import LATENCY_TARGETS, latency_figures, page_problems
from paramembed.bench.report import format_app, latency_table

SMALL_EXPLORER = {"explorer_classes": 20, "explorer_shots": [1, 2]}


@pytest.fixture()
def tiny_model(tmp_path, monkeypatch):
    folder = save_model(build_model(ModelConfig(width=8, embedding_dim=8, hidden_dim=16)), tmp_path / "tiny")
    monkeypatch.setenv("PARAMEMBED_MODELS", str(folder))
    monkeypatch.setenv("PARAMEMBED_RUNS", str(tmp_path / "runs"))
    return folder


def fake_page(first: float, clicks: list[float], explorer: float, **extra) -> dict:
    return {"first_page_s": first, "new_task_s": clicks, "explorer_first_open_s": explorer,
            "first_page": {"exceptions": [], "messages": []}, "new_task": {"exceptions": [], "messages": []},
            "explorer": {"exceptions": [], "messages": [], "charts": 3}, **extra}


def test_probe_times_first_page_new_tasks_and_explorer(tiny_model):
    out = probe.measure_pages(clicks=2, preset=SMALL_EXPLORER, timeout=120)
    assert out["first_page_s"] > 0 and out["explorer_first_open_s"] > 0
    assert len(out["new_task_s"]) == 2 and all(s > 0 for s in out["new_task_s"])
    for where in ("first_page", "new_task", "explorer"):
        assert out[where]["exceptions"] == [], out[where]
    assert out["explorer"]["charts"] == 2  # the explorer really rendered: projection, agreement (drift waits for its tab)
    figures = latency_figures([out])
    assert [f["runs"] for f in figures.values()] == [1, 2, 1]


def test_figures_are_medians_beside_their_targets():
    pages = [fake_page(2.0, [0.2, 3.0], 6.0), fake_page(4.0, [0.4], 7.0), fake_page(9.0, [0.3], 8.0)]
    figures = latency_figures(pages)
    assert list(figures) == [t.key for t in LATENCY_TARGETS]
    cold, click, explorer = figures.values()
    assert (cold["median_s"], cold["worst_s"], cold["runs"], cold["met"]) == (4.0, 9.0, 3, True)
    assert (click["median_s"], click["worst_s"], click["runs"], click["met"]) == (0.35, 3.0, 4, True)
    assert (explorer["median_s"], explorer["met"]) == (7.0, False)  # target 5 s


def test_latency_table_has_one_row_per_figure_with_its_target():
    pages = [fake_page(2.0, [], 6.0, new_task_reason="no button with key 'sample_new' on the first page")]
    lines = latency_table(latency_figures(pages))
    assert lines[0].split() == ["figure", "median", "worst", "runs", "target", "verdict"]
    assert len(lines) == 1 + len(LATENCY_TARGETS)
    cold, click, explorer = lines[1:]
    assert cold.split()[:4] == ["cold", "first", "page", "(playground)"]
    assert "2.00 s" in cold and "<= 5 s" in cold and cold.endswith("MET")
    assert "<= 1 s" in click and "not measured (no button with key 'sample_new'" in click
    assert "6.00 s" in explorer and "<= 5 s" in explorer and explorer.endswith("not met")
    median_end = lines[0].index("median") + len("median")  # the columns line up under the header
    assert cold.index("2.00 s") + len("2.00 s") == median_end == explorer.index("6.00 s") + len("6.00 s")


def test_app_block_reports_problems_and_unmeasured_probes():
    pages = [fake_page(1.0, [0.1], 2.0)]
    pages[0]["explorer"]["exceptions"] = ["ValueError: boom"]
    app = {"server": {"measured": False, "reason": "port busy"}, "clicks": 1, "load_average": 1.5, "model": "tiny",
           "probe": {"measured": True, "processes": 1, "peak_rss_mb": 900.0, "problems": page_problems(pages),
                     "first_page_messages": []},
           "latencies": latency_figures(pages)}
    text = "\n".join(format_app(app))
    assert "not measured (port busy)" in text and "median of 1 fresh processes" in text
    assert "explorer: ValueError: boom" in text and "900 MB" in text
    assert "page latencies: not measured (no default model" in "\n".join(
        format_app({"server": app["server"], "probe": {"measured": False, "reason": "no default model: none"}}))


def test_probe_output_is_found_among_other_lines():
    assert probe.parse_probe_output('warning: x\nAPP_PROBE {"a": 1}\n') == {"a": 1}
    assert probe.parse_probe_output("Traceback ...\n") is None


@pytest.mark.slow
def test_probe_file_runs_cold_in_a_fresh_process(tiny_model):
    env = {**os.environ, "PYTHONPATH": str(probe.ROOT)}
    done = subprocess.run([sys.executable, "-P", str(Path(probe.__file__)), "library", "--model", str(tiny_model), "--tasks", "2"],
                          capture_output=True, text=True, timeout=300, env=env)
    out = probe.parse_probe_output(done.stdout)
    assert out is not None, done.stderr[-500:]
    assert out["seconds_to_first_predictions"] > 0 and out["peak_rss_mb"] > 0
    assert set(out["stage_ms_median"]) == {"sample", "preprocess", "adapt", "predict"}
