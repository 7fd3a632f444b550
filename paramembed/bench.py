"""`python -m paramembed bench`: every speed figure of the project, measured side by side in one run.

Sections (each a small function returning a dict; `run_bench` puts them in one JSON report):

- machine:     device, threads, and the matrix-multiply FLOP/s measured here and now
- adaptation:  time to adapt to one task (median, p90) and query accuracy, per method, on the
               same 5-way 5-shot and 20-way 1-shot tasks; ratios MAML/hyper and fine-tune/hyper
- batched:     many tasks in one forward pass versus one at a time, in tasks/s
- training:    images/s and episodes/s of the real training step, beside the bound implied by the
               model's FLOPs per image and the measured matmul FLOP/s; the real training loop's
               data-wait fraction; peak GPU memory on CUDA
- data:        procedural glyph rendering images/s on one core
- app:         seconds from `streamlit run` to the health endpoint, to the first predictions, per
               interaction, and the app process's peak resident memory with the default model

Absolute numbers depend on what else the machine is doing, so ratios inside one run are the
figures to compare across machines.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from paramembed.checkpoint import ASSETS
from paramembed.zoo import load_model
from paramembed.config import ModelConfig, TrainConfig, from_dict
from paramembed.data.episodes import Task, TaskSampler, stack_tasks
from paramembed.data.glyphs import GlyphAlphabets, GlyphStyle
from paramembed.data.registry import get_dataset
from paramembed.device import describe_device, pick_device
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import FewShotModel

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ((5, 5), (20, 1))  # (ways, shots) of the adaptation tasks
# (row name, model to load, adapt method, MAML inner steps)
METHOD_ROWS = (
    ("hyper", "hyper", None, None),
    ("latent", "latent", None, None),
    ("proto", "proto", None, None),
    ("maml-5", "maml", None, 5),
    ("maml-10", "maml", None, 10),
    ("finetune-100", "hyper", "finetune", None),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def _rate(fn: Callable[[], Any], device: torch.device, min_seconds: float, min_calls: int = 3) -> float:
    """Calls per second of `fn` after one warm-up call, over at least `min_seconds`."""
    fn()
    calls, elapsed = 0, 0.0
    while calls < min_calls or elapsed < min_seconds:
        dt, _ = _timed(fn, device)
        calls, elapsed = calls + 1, elapsed + dt
    return calls / elapsed


# ============ machine ============
def matmul_flops(device: torch.device, size: int, seconds: float, dtype: torch.dtype = torch.float32) -> float:
    """Measured FLOP/s of a square (size x size) matrix multiply: the machine's practical peak."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    calls_per_s = _rate(lambda: a @ b, device, seconds)
    return 2.0 * size**3 * calls_per_s


def machine_section(device: torch.device, quick: bool) -> dict:
    info = {
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "matmul_size": 512 if quick else 1024,
    }
    info["matmul_flops"] = matmul_flops(device, info["matmul_size"], 0.3 if quick else 2.0)
    if device.type == "cuda":
        info["matmul_size"] = 8192
        info["matmul_flops"] = matmul_flops(device, 8192, 1.0)
        info["matmul_flops_bf16"] = matmul_flops(device, 8192, 1.0, torch.bfloat16)
    return info


# ============ models ============
def resolve_models(overrides: dict[str, str], device: torch.device) -> tuple[dict[str, FewShotModel], dict[str, str]]:
    """Each generator's model: an override folder, else the shipped model, else a fresh one.

    Returns (models, sources): a source says where the weights came from, so the table can say
    when an accuracy is meaningless (an untrained model).
    """
    models, sources = {}, {}
    for name in ("hyper", "latent", "proto", "maml"):
        where = overrides.get(name) or name
        try:
            models[name] = load_model(where, device=device)
            sources[name] = str(where) if name in overrides else f"shipped ({ASSETS.name}/{name})"
        except ParamembedError:
            if name in overrides:
                raise
            config = ModelConfig(generator=name, latent_steps=3 if name == "latent" else 0)
            models[name] = FewShotModel(config).to(device).eval()
            sources[name] = "UNTRAINED (no shipped model yet; accuracy meaningless)"
    return models, sources


# ============ adaptation ============
def sample_tasks(count: int, ways: int, shots: int, queries: int, seed: int = 0) -> list[Task]:
    """`count` seeded tasks from the held-out procedural alphabets (the same for every method)."""
    dataset = get_dataset("procedural", "test", ModelConfig().input)
    sampler = TaskSampler(dataset, queries=queries, seed=seed)
    sampler.check(ways, shots)
    return [sampler.sample(i, ways, shots) for i in range(count)]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _summary(times: list[float], accuracies: list[float]) -> dict:
    mean = float(np.mean(accuracies))
    ci = float(1.96 * np.std(accuracies, ddof=1) / np.sqrt(len(accuracies))) if len(accuracies) > 1 else float("nan")
    return {"median_ms": 1e3 * statistics.median(times), "p90_ms": 1e3 * _percentile(times, 90), "accuracy": mean, "ci95": ci, "tasks": len(times)}


def adaptation_section(models: dict[str, FewShotModel], sources: dict[str, str], tasks: dict[str, list[Task]], device: torch.device,
                       log: Callable[[str], None] = lambda s: None) -> dict:
    """Time `model.adapt` (preprocessed support tensors) per task and method, and score the queries.

    Methods are interleaved task by task, so a change in the machine's load during the run
    slows every method alike and the ratios stay fair.
    """
    variants = []
    for row, model_name, method, maml_steps in METHOD_ROWS:
        model = models[model_name]
        if maml_steps is not None:
            model = copy.copy(model)  # a shallow copy shares the weights; only the step count differs
            model.config = dataclasses.replace(model.config, maml_steps=maml_steps)
        variants.append((row, model_name, model, method))
    rows = []
    for shape, shape_tasks in tasks.items():
        times: dict[str, list[float]] = {v[0]: [] for v in variants}
        accuracies: dict[str, list[float]] = {v[0]: [] for v in variants}
        for i, task in enumerate(shape_tasks):
            support, labels = task.support.to(device), task.support_labels.tolist()
            for row, _, model, method in variants:
                if i == 0:  # warm-up: first-call allocations and kernel choices are not adaptation time
                    model.adapt(support, labels, method=method)
                dt, clf = _timed(lambda: model.adapt(support, labels, method=method), device)
                times[row].append(dt)
                probs = model.predict(clf, task.query.to(device))
                accuracies[row].append((probs.argmax(-1).cpu() == task.query_labels).float().mean().item())
        for row, model_name, _, _ in variants:
            result = _summary(times[row], accuracies[row])
            rows.append({"method": row, "task": shape, "model": sources[model_name], **result})
            log(f"  {row} {shape}: median {result['median_ms']:.1f} ms, accuracy {100 * result['accuracy']:.1f}%")
    ratios = {}
    for shape in tasks:
        by = {r["method"]: r for r in rows if r["task"] == shape}
        hyper = by["hyper"]
        for other in ("maml-5", "maml-10", "finetune-100"):
            ratios[f"{other}/hyper {shape}"] = {
                "time_ratio": by[other]["median_ms"] / hyper["median_ms"],
                "accuracy_difference": hyper["accuracy"] - by[other]["accuracy"],
            }
        m10 = ratios[f"maml-10/hyper {shape}"]
        ratios[f"maml-10/hyper {shape}"]["target_met"] = m10["time_ratio"] >= 20 and m10["accuracy_difference"] >= 0
    return {"rows": rows, "ratios": ratios, "target": "hyper adapts >= 20x faster than 10-step MAML at equal or better accuracy"}


# ============ batched adaptation ============
def batched_section(model: FewShotModel, tasks: list[Task], device: torch.device, quick: bool) -> dict:
    """Tasks/s of `adapt_tasks` (all tasks in one backbone pass) versus `adapt` task by task."""
    ways, shots = tasks[0].ways, tasks[0].shots
    count = 1024 if device.type == "cuda" and not quick else len(tasks)  # 25k images a pass on a GPU
    reps = (count + len(tasks) - 1) // len(tasks)
    batch = stack_tasks((tasks * reps)[:count])
    support = batch.support.to(device)
    labels = batch.support_labels.to(device)
    use_amp = device.type == "cuda"
    net = model
    if device.type == "cuda":
        # Channels-last and bf16 feed the tensor cores; the generator and cosine run in float32.
        net = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def batched():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            return net.adapt_tasks(support, labels, ways)

    seconds = 0.3 if quick else 2.0
    batched_rate = _rate(batched, device, seconds) * count
    singles = [t.support.to(device) for t in tasks]
    single_labels = tasks[0].support_labels.tolist()

    def one_by_one():
        for s in singles:
            model.adapt(s, single_labels)

    single_rate = _rate(one_by_one, device, seconds, min_calls=1) * len(singles)
    out = {
        "task": f"{ways}-way {shots}-shot", "tasks_per_pass": count, "batched_tasks_per_s": batched_rate,
        "one_at_a_time_tasks_per_s": single_rate, "speedup": batched_rate / single_rate, "mixed_precision": use_amp,
    }
    if device.type == "cuda":
        out["target"] = ">= 5000 5-way 5-shot tasks/s on an H100"
        out["target_met"] = batched_rate >= 5000
    return out


# ============ meta-training ============
BENCH_TRAIN = {"ways": [20], "shots": [1], "queries": 5, "tasks_per_batch": 4}  # fixed: 480 images a step


def bench_train_config(out_dir: str, steps: int, num_workers: int, quick: bool = False) -> TrainConfig:
    fixed = {**BENCH_TRAIN, "tasks_per_batch": 1} if quick else BENCH_TRAIN
    return from_dict(TrainConfig, {
        "name": "bench", "out_dir": out_dir, **fixed, "episodes": steps * fixed["tasks_per_batch"],
        "warmup_episodes": 10, "val_every": 0, "val_episodes": 5, "val_ways": 5, "checkpoint_every": 0,
        "num_workers": num_workers,
    })


def flops_per_image(model: FewShotModel, batch) -> float:
    """Forward + backward FLOPs of one training step (convolutions and matmuls), per image."""
    from torch.utils.flop_counter import FlopCounterMode

    from paramembed.training import training_step, make_optimiser

    optimiser = make_optimiser(model, TrainConfig())
    with FlopCounterMode(display=False) as counter:
        training_step(model, model, optimiser, batch, use_amp=False)
    images = batch.support.shape[0] * (batch.support.shape[1] + batch.query.shape[1])
    return counter.get_total_flops() / images


def training_section(machine: dict, device: torch.device, quick: bool) -> dict:
    from paramembed.training import make_optimiser, training_step

    config = bench_train_config("unused", 1, 0, quick)
    dataset = get_dataset("procedural", "train", config.model.input)
    sampler = TaskSampler(dataset, queries=config.queries, seed=0)
    batches = sampler.batches(config.tasks_per_batch, tuple(config.ways), tuple(config.shots))
    batch = next(batches).to(device)
    images = batch.support.shape[0] * (batch.support.shape[1] + batch.query.shape[1])
    per_image = flops_per_image(FewShotModel(config.model).to(device).train(), batch)

    model = FewShotModel(config.model).to(device).train()
    use_amp = device.type == "cuda"
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.cuda.reset_peak_memory_stats(device)
    optimiser = make_optimiser(model, config)
    steps_per_s = _rate(lambda: training_step(model, model, optimiser, batch, use_amp), device, 1.0 if quick else 8.0)
    peak_flops = machine.get("matmul_flops_bf16" if use_amp else "matmul_flops", machine["matmul_flops"])
    bound = peak_flops / per_image
    out = {
        "config": {**BENCH_TRAIN, "tasks_per_batch": config.tasks_per_batch, "generator": config.model.generator, "width": config.model.width},
        "images_per_step": images,
        "flops_per_image": per_image,
        "images_per_s": steps_per_s * images,
        "episodes_per_s": steps_per_s * config.tasks_per_batch,
        "bound_images_per_s": bound,
        "fraction_of_bound": steps_per_s * images / bound,
        "target": "CPU meta-training reaches >= 50% of the measured FLOP bound",
    }
    if device.type == "cuda":
        out["peak_gpu_memory_mb_this_config"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["peak_gpu_memory_mb_default_config"] = _peak_gpu_memory_default(device)
    out["loop"] = _training_loop(device, steps=10 if quick else 30, num_workers=1, quick=quick)
    return out


def _peak_gpu_memory_default(device: torch.device) -> float:
    """Peak GPU memory of one step at the default TrainConfig's largest tasks (20-way 5-shot)."""
    from paramembed.training import make_optimiser, training_step

    config = TrainConfig()
    sampler = TaskSampler(get_dataset("procedural", "train", config.model.input), queries=config.queries)
    batch = next(sampler.batches(config.tasks_per_batch, (max(config.ways),) * 2, (max(config.shots),) * 2)).to(device)
    model = FewShotModel(config.model).to(device).to(memory_format=torch.channels_last).train()
    optimiser = make_optimiser(model, config)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2):  # the second step holds the optimiser's state too
        training_step(model, model, optimiser, batch, config.amp)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def _training_loop(device: torch.device, steps: int, num_workers: int, quick: bool = False) -> dict:
    """Run the real `train()` loop (data workers included) and read its own metrics."""
    from paramembed.training import METRICS, train

    with tempfile.TemporaryDirectory() as tmp:
        config = bench_train_config(tmp, steps, num_workers, quick)
        config.device = device.type
        start = time.perf_counter()
        run_dir = train(config, resume=False, progress=False)
        wall = time.perf_counter() - start
        records = [json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()]
    windows = [r for r in records if r["split"] == "train"]
    steady = windows[1:] or windows  # the first window holds start-up (worker spawn, first renders)
    wait = [r["data_wait_fraction"] for r in steady]
    return {
        "steps": steps, "num_workers": num_workers, "wall_s": wall,
        "images_per_s": float(np.mean([r["images_per_s"] for r in steady])),
        "episodes_per_s": float(np.mean([r["episodes_per_s"] for r in steady])),
        "data_wait_fraction": float(np.mean(wait)),
        "data_wait_fraction_first_window": windows[0]["data_wait_fraction"],
        "waits_on_data": bool(max(wait) > 0.05),
    }


# ============ data ============
def data_section(quick: bool) -> dict:
    """Glyph rendering on one core (this process renders single-threaded), uncached and cached."""
    seconds = 0.5 if quick else 3.0
    dataset = GlyphAlphabets("train", GlyphStyle(), cache_size=0)
    # Ten drawings per character, as a training task uses (shots + queries): character and
    # alphabet construction are counted at the rate training pays for them.
    keys = [(g, c, d) for g in range(0, 4000, 7) for c in range(2) for d in range(10)]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and n < len(keys):
        dataset.render(*keys[n])
        n += 1
    uncached = n / (time.perf_counter() - start)
    cached_ds = GlyphAlphabets("train", GlyphStyle())
    warm = keys[:500]
    cached_ds.images(warm)
    dt, _ = _timed(lambda: cached_ds.images(warm), torch.device("cpu"))
    return {
        "render_images_per_s_one_core": uncached, "image_size": GlyphStyle().image_size,
        "cached_images_per_s": len(warm) / dt, "target": "rendering >= 2000 images/s on one core",
        "target_met": uncached >= 2000,
    }


# ============ app ============
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


# Runs in a fresh process so its peak resident memory is the app's alone.
_APP_PROBE = r"""
import json, resource, sys, time
start = time.perf_counter()
out = {}
model_arg = sys.argv[1] or None
page = sys.argv[2]
import torch
from paramembed import load_model
from paramembed.data.episodes import TaskSampler
from paramembed.data.registry import get_dataset
model = load_model(model_arg)
dataset = get_dataset("procedural", "test", model.config.input)
sampler = TaskSampler(dataset, queries=5, seed=1)
def interaction(i):
    task = sampler.sample(i, 5, 5)
    clf = model.adapt(task.support, task.support_labels.tolist())
    return model.predict(clf, task.query)
interaction(0)
out["library_seconds_to_first_predictions"] = time.perf_counter() - start
times = []
for i in range(1, 21):
    t = time.perf_counter(); interaction(i); times.append(time.perf_counter() - t)
times.sort()
out["library_interaction_ms_median"] = 1e3 * times[len(times) // 2]
if page:
    from streamlit.testing.v1 import AppTest
    t = time.perf_counter()
    at = AppTest.from_file(page, default_timeout=120).run()
    out["page_first_run_seconds"] = time.perf_counter() - t
    out["page_exceptions"] = [str(e.value)[:200] for e in at.exception]
    # An info/warning on the first run (e.g. no shipped model yet) means no predictions were shown.
    out["page_messages"] = [str(m.value)[:160] for m in list(at.error) + list(at.warning) + list(at.info)]
    buttons = [b for b in at.button if any(w in (str(b.key) + " " + str(b.label)).lower() for w in ("new", "sample", "another"))]
    if buttons:
        runs = []
        for _ in range(5):
            t = time.perf_counter(); buttons[0].click().run(); runs.append(time.perf_counter() - t)
            buttons = [b for b in at.button if b.key == buttons[0].key] or buttons
        runs.sort()
        out["page_interaction_ms_median"] = 1e3 * runs[len(runs) // 2]
        out["page_interaction_button"] = str(buttons[0].key or buttons[0].label)
    else:
        out["page_interaction_ms_median"] = None
        out["page_interaction_reason"] = "no new-task button (key or label with new/sample/another) on the page"
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("APP_PROBE " + json.dumps(out))
"""


def app_section(default_model: str | None) -> dict:
    out: dict[str, Any] = {"server": server_start_seconds()}
    page = ROOT / "pages" / "playground.py"
    out["page"] = str(page.relative_to(ROOT)) if page.exists() else None
    if not page.exists():
        out["page_reason"] = "pages/playground.py does not exist yet: page figures not measured"
    try:
        load_model(default_model)
    except ParamembedError as err:
        out["probe"] = {"measured": False, "reason": f"no default model: {err}"}
        return out
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _APP_PROBE, default_model or "", str(page) if page.exists() else ""],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("APP_PROBE ")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        out["probe"] = {"measured": False, "reason": f"probe failed: {tail[:300]}"}
    else:
        out["probe"] = {"measured": True, "model": default_model or "default (assets/models/hyper)", **json.loads(lines[-1][10:])}
        if out["server"].get("measured") and "page_first_run_seconds" in out["probe"]:
            out["seconds_start_to_first_predictions"] = out["server"]["seconds_to_health"] + out["probe"]["page_first_run_seconds"]
    return out


# ============ report ============
def run_bench(tasks: int = 100, queries: int = 10, quick: bool = False, device: str = "auto",
              model_overrides: dict[str, str] | None = None, sections: tuple[str, ...] = ("adaptation", "batched", "training", "data", "app"),
              log: Callable[[str], None] = lambda s: None) -> dict:
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
        log("adaptation: hyper, latent, proto, maml-5, maml-10, finetune-100")
        report["adaptation"] = adaptation_section(models, sources, shape_tasks, dev, log)
    if "batched" in sections:
        log("batched adaptation")
        report["batched"] = batched_section(models["hyper"], shape_tasks["5-way 5-shot"], dev, quick)
    if "training" in sections:
        log("meta-training: step throughput, FLOPs, the real loop")
        report["training"] = training_section(report["machine"], dev, quick)
    if "data" in sections:
        log("data: rendering")
        report["data"] = data_section(quick)
    if "app" in sections:
        log("app: server start, first predictions, memory")
        report["app"] = app_section((model_overrides or {}).get("hyper"))
    report["bench_seconds"] = time.perf_counter() - started
    return report


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def format_report(r: dict) -> str:
    m = r["machine"]
    lines = [f"paramembed bench  {r['created']}  {m['device']}  torch {m['torch']}  load avg {_fmt(m['load_average'], 2)}"
             + ("  (quick)" if r["quick"] else ""),
             f"matmul {m['matmul_size']}^2 fp32: {m['matmul_flops'] / 1e9:,.1f} GFLOP/s"
             + (f", bf16: {m['matmul_flops_bf16'] / 1e12:,.1f} TFLOP/s" if "matmul_flops_bf16" in m else ""), ""]
    lines.append("models: " + "; ".join(f"{k}: {v}" for k, v in r["models"].items()))
    if "adaptation" in r:
        a = r["adaptation"]
        lines += ["", f"ADAPTATION  one task at a time, {r['tasks']} tasks per shape, {r['queries']} queries per class",
                  f"{'method':<14}{'task':<16}{'median ms':>11}{'p90 ms':>10}{'accuracy':>18}"]
        for row in a["rows"]:
            lines.append(f"{row['method']:<14}{row['task']:<16}{row['median_ms']:>11.2f}{row['p90_ms']:>10.2f}"
                         f"{100 * row['accuracy']:>10.1f} +- {100 * row['ci95']:.1f}")
        for name, ratio in a["ratios"].items():
            flag = ""
            if "target_met" in ratio:
                flag = "  target (>=20x, acc >= MAML's) " + ("MET" if ratio["target_met"] else "not met")
            lines.append(f"  {name:<34} {ratio['time_ratio']:>8.1f}x slower than hyper; hyper accuracy "
                         f"{100 * ratio['accuracy_difference']:+.1f} points{flag}")
    if "batched" in r:
        b = r["batched"]
        lines += ["", f"BATCHED ADAPTATION  hyper, {b['task']}, {b['tasks_per_pass']} tasks per pass"
                  + (" (bf16, channels-last)" if b["mixed_precision"] else ""),
                  f"  batched {b['batched_tasks_per_s']:,.0f} tasks/s; one at a time {b['one_at_a_time_tasks_per_s']:,.0f} tasks/s; "
                  f"speedup {b['speedup']:.1f}x" + (f"; target {b['target']}: {'MET' if b['target_met'] else 'not met'}" if "target" in b else "")]
    if "training" in r:
        t = r["training"]
        c = t["config"]
        lines += ["", f"META-TRAINING  {c['generator']} width {c['width']}, {c['ways'][0]}-way {c['shots'][0]}-shot, "
                      f"{c['queries']} queries, {c['tasks_per_batch']} tasks/step ({t['images_per_step']} images)",
                  f"  training step: {t['images_per_s']:,.0f} images/s, {t['episodes_per_s']:,.1f} episodes/s",
                  f"  FLOP bound: {t['flops_per_image'] / 1e6:,.1f} MFLOP/image (fwd+bwd) at the measured matmul rate -> "
                  f"{t['bound_images_per_s']:,.0f} images/s; reached {100 * t['fraction_of_bound']:.0f}% (target 50% on CPU)"]
        lp = t["loop"]
        lines.append(f"  real train() loop, {lp['num_workers']} data worker(s), {lp['steps']} steps: {lp['images_per_s']:,.0f} images/s, "
                     f"{lp['episodes_per_s']:,.1f} episodes/s; waits on data {100 * lp['data_wait_fraction']:.1f}% of the time "
                     f"after the first window ({100 * lp['data_wait_fraction_first_window']:.0f}% in it) -> "
                     + ("WAITS on data" if lp["waits_on_data"] else "does not wait on data"))
        if "peak_gpu_memory_mb_default_config" in t:
            lines.append(f"  peak GPU memory: {t['peak_gpu_memory_mb_default_config']:,.0f} MB at the default config's largest step "
                         f"(20-way 5-shot x 4 tasks), {t['peak_gpu_memory_mb_this_config']:,.0f} MB at this config")
    if "data" in r:
        d = r["data"]
        lines += ["", "DATA",
                  f"  glyph rendering {d['image_size']}x{d['image_size']}, one core, no cache: {d['render_images_per_s_one_core']:,.0f} images/s "
                  f"(target 2,000: {'MET' if d['target_met'] else 'not met'}); from the cache: {d['cached_images_per_s']:,.0f} images/s"]
    if "app" in r:
        a = r["app"]
        s = a["server"]
        lines += ["", "APP",
                  "  streamlit run -> health endpoint: " + (f"{s['seconds_to_health']:.1f} s" if s.get("measured") else f"not measured ({s['reason']})")]
        p = a.get("probe", {})
        if not p.get("measured"):
            lines.append(f"  first predictions, interactions, memory: not measured ({p.get('reason')})")
        else:
            lines.append(f"  library path ({p['model']}): load + first task adapted and predicted in "
                         f"{p['library_seconds_to_first_predictions']:.2f} s; new sampled task (sample + adapt + predict) "
                         f"{p['library_interaction_ms_median']:.1f} ms")
            if a.get("page") and "page_first_run_seconds" in p:
                lines.append(f"  {a['page']} (AppTest): first run {p['page_first_run_seconds']:.2f} s"
                             + (f", exceptions: {p['page_exceptions']}" if p["page_exceptions"] else "")
                             + (f"; the page said: {' | '.join(p['page_messages'])}" if p.get("page_messages") else ""))
                if "seconds_start_to_first_predictions" in a:
                    lines.append(f"  server start to first predictions: {a['seconds_start_to_first_predictions']:.1f} s (health + page run)")
                lines.append("  per interaction on the page: " + (f"{p['page_interaction_ms_median']:.0f} ms ({p['page_interaction_button']})"
                             if p.get("page_interaction_ms_median") is not None else f"not measured ({p.get('page_interaction_reason')})"))
            else:
                lines.append(f"  page: not measured ({a.get('page_reason', 'no page run')})")
            lines.append(f"  peak resident memory of the app process with the default model loaded: {p['peak_rss_mb']:,.0f} MB")
    lines += ["", f"bench took {r['bench_seconds']:.0f} s"]
    return "\n".join(lines)


def _parse_models(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in ("hyper", "latent", "proto", "maml"):
            raise ParamembedError(f"--model wants NAME=FOLDER with NAME one of hyper, latent, proto, maml; got {item!r}")
        out[name] = path
    return out


def _bench(args: argparse.Namespace) -> None:
    if args.tasks < 2:
        raise ParamembedError(f"--tasks must be at least 2, got {args.tasks}")
    if args.threads:
        torch.set_num_threads(args.threads)
    report = run_bench(
        tasks=args.tasks, queries=args.queries, quick=args.quick, device=args.device,
        model_overrides=_parse_models(args.model), sections=tuple(args.only or ("adaptation", "batched", "training", "data", "app")),
        log=lambda s: print(f"[bench] {s}", file=sys.stderr, flush=True),
    )
    print(format_report(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure adaptation, meta-training, data and app speed side by side; prints a table, writes JSON")
    p.add_argument("--tasks", type=int, default=100, help="tasks per shape for the adaptation rows (100: about a minute of MAML on a CPU)")
    p.add_argument("--queries", type=int, default=10, help="queries per class for the accuracies")
    p.add_argument("--quick", action="store_true", help="short timing windows and loops: for tests, figures are rough")
    p.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                   help="use this folder for generator NAME (hyper, latent, proto, maml) instead of the shipped model; repeatable")
    p.add_argument("--only", action="append", choices=["adaptation", "batched", "training", "data", "app"],
                   help="run only these sections (repeatable; default all)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); 1 gives steadier latencies on a busy machine")
    p.add_argument("--json", default=str(ROOT / "runs" / "bench" / "bench.json"), help="where the JSON report goes")
    p.set_defaults(func=_bench)
