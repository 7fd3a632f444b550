"""Training-step benchmarks: images/s of the real step beside its FLOP bound, and the real loop.

The bound is the model's forward + backward FLOPs per image against the matmul FLOP/s the
machine section measured, so "fraction of bound" says how much of the hardware the step uses.
The loop figures come from `train()`'s own metrics, data workers included.
"""

from __future__ import annotations

import json
import tempfile
import time

import numpy as np
import torch

from paramembed.bench.timing import rate
from paramembed.config import TrainConfig, from_dict
from paramembed.data.episodes import TaskSampler
from paramembed.data.registry import get_dataset
from paramembed.models.fewshot import FewShotModel


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

    from paramembed.training import make_optimiser, training_step

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

    model = FewShotModel(config.model).to(device).to(memory_format=torch.channels_last).train()  # as train() does
    use_amp = device.type == "cuda"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    optimiser = make_optimiser(model, config)
    steps_per_s = rate(lambda: training_step(model, model, optimiser, batch, use_amp), device, 1.0 if quick else 8.0)
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
