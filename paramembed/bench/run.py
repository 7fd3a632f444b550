"""`run_bench`: every requested section, measured side by side in one process, as one JSON-able dict."""

from __future__ import annotations

import time
from typing import Any, Callable

from paramembed.bench.adaptation import REFERENCE, SHAPES, adaptation_section, batched_section, method_rows, resolve_models, sample_tasks
from paramembed.bench.app import app_section
from paramembed.bench.sections import SECTIONS
from paramembed.bench.data import data_section
from paramembed.bench.machine import machine_section
from paramembed.bench.photos import photos_section
from paramembed.bench.raw_images import raw_section
from paramembed.bench.pretraining import pretraining_section
from paramembed.bench.training import training_section
from paramembed.device import pick_device


def run_bench(tasks: int = 100, queries: int = 10, quick: bool = False, device: str = "auto",
              model_overrides: dict[str, str] | None = None, sections: tuple[str, ...] = SECTIONS,
              app_repeats: int = 3, log: Callable[[str], None] = lambda s: None) -> dict:
    dev = pick_device(device)
    started = time.perf_counter()
    report: dict[str, Any] = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": quick, "tasks": tasks, "queries": queries}
    log("machine: measuring matmul FLOP/s")
    report["machine"] = machine_section(dev, quick)
    models, sources = resolve_models(model_overrides or {}, dev)
    report["models"] = sources
    shape_tasks = {}
    if "adaptation" in sections or "batched" in sections:
        log(f"sampling {tasks} tasks of each shape")
        shape_tasks = {f"{w}-way {k}-shot": sample_tasks(tasks, w, k, queries) for w, k in SHAPES}
    if "adaptation" in sections:
        log("adaptation: " + ", ".join(row.label for row in method_rows()))
        report["adaptation"] = adaptation_section(models, sources, shape_tasks, dev, log)
    if "batched" in sections:
        log("batched adaptation")
        report["batched"] = batched_section(models[REFERENCE], shape_tasks["5-way 5-shot"], dev, quick)
    if "raw" in sections:
        log("raw images: adapting from files, the generated path against 10-step MAML")
        report["raw"] = raw_section(dev, repeats=3 if quick else 20, imagenet_tasks=1 if quick else 3, log=log)
    if "photos" in sections:
        log("photos: 100 raw camera-resolution files -> predictions, per photo model")
        report["photos"] = photos_section(dev, repeats=2 if quick else 5)
    if "training" in sections:
        log("meta-training: step throughput, FLOPs, the real loop")
        report["training"] = training_section(report["machine"], dev, quick)
    if "pretraining" in sections:
        log("pre-training: the real-data pipeline's step and its data share")
        report["pretraining"] = pretraining_section(report["machine"], dev, quick)
    if "data" in sections:
        log("data: rendering")
        report["data"] = data_section(quick)
    if "app" in sections:
        log(f"app: {app_repeats} fresh servers in Chromium, then the AppTest breakdown in {app_repeats} fresh processes")
        report["app"] = app_section((model_overrides or {}).get(REFERENCE), repeats=app_repeats, clicks=2 if quick else 5, log=log)
    report["bench_seconds"] = time.perf_counter() - started
    return report
