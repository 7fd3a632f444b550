"""Meta-training: read top to bottom, data -> model -> loss -> optimiser -> resume -> loop.

Each step draws `tasks_per_batch` tasks (ways and shots drawn per step from the config's ranges),
runs all their images through the backbone at once, generates one classifier per task and takes
the cross-entropy of the query predictions. Metrics go to `runs/<name>/metrics.jsonl` as JSON
lines; `model.safetensors` + `config.json` + `state.pt` are written as one atomic checkpoint
(paramembed.checkpoint), so a killed run resumes from its last complete one.

Under `torchrun` the same loop runs DistributedDataParallel (NCCL on GPUs, Gloo on CPUs): rank r
draws batches r, r + world, r + 2*world, ... of one seed scheme, and only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset
from tqdm import tqdm

from paramembed.checkpoint import STATE, has_checkpoint, init_backbone, resume_or_start, save_checkpoint, state_tensor
from paramembed.config import TrainConfig, to_dict
from paramembed.config_checks import validate_train_config
from paramembed.data.augment import augment
from paramembed.data.episodes import TaskBatch, TaskSampler
from paramembed.data.sources import task_sampler, training_data
from paramembed.logs import METRICS, append_metrics
from paramembed.device import pick_device
from paramembed.errors import ParamembedError
from paramembed.evaluation import evaluate
from paramembed.models.fewshot import FewShotModel
from paramembed.run_metrics import write_progress
from paramembed.runs import run_folder

LOG_EVERY = 10  # optimiser steps between training-metric lines


class TaskStream(IterableDataset):
    """Endless `TaskBatch`es for one rank; each DataLoader worker takes every W-th step."""

    def __init__(self, config: TrainConfig, first_step: int, rank: int, world: int):
        self.config, self.first_step, self.rank, self.world = config, first_step, rank, world

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        c = self.config
        sampler = task_sampler(c)
        start = (self.first_step + worker) * self.world + self.rank
        yield from sampler.batches(c.tasks_per_batch, tuple(c.ways), tuple(c.shots), start=start, stride=workers * self.world)


def learning_rate(config: TrainConfig, episodes: int) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak at the last episode."""
    if episodes < config.warmup_episodes:
        return config.lr * (episodes + 1) / config.warmup_episodes
    progress = min(1.0, (episodes - config.warmup_episodes) / max(1, config.episodes - config.warmup_episodes))
    return config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_optimiser(model: FewShotModel, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices and kernels only (not on biases, norms or the scale).

    Each group carries an `lr_scale`: the backbone's is `config.backbone_lr_scale`, the
    generator's `config.generator_lr_scale`, everything else's (scale, query refinement) 1.
    """
    def part(name: str) -> float:
        if name.startswith("backbone."):
            return config.backbone_lr_scale
        return config.generator_lr_scale if name.startswith("generator.") else 1.0

    groups = []
    for scale in sorted({part(n) for n, _ in model.named_parameters()}):
        named = [(n, p) for n, p in model.named_parameters() if part(n) == scale]
        for decay in (True, False):
            params = [p for _, p in named if (p.dim() > 1) == decay]
            if params:
                groups.append({"params": params, "weight_decay": config.weight_decay if decay else 0.0, "lr_scale": scale})
    return torch.optim.AdamW(groups, lr=config.lr)


def training_step(forward, model: FewShotModel, optimiser: torch.optim.Optimizer, batch: TaskBatch, use_amp: bool):
    """One optimiser step on a batch of tasks -> (loss, query logits (tasks, ways*queries, ways)).

    `forward` is the model itself, its DDP wrapper or its compiled version; `model` owns the
    parameters. Shared with the benchmark so that it times exactly this step.
    """
    device = batch.support.device
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
        logits, clf = forward(batch)  # (tasks, ways*queries, ways)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.query_labels.flatten())
        if clf.aux_loss is not None:
            loss = loss + clf.aux_loss
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimiser.step()
    return loss, logits


def augment_batch(batch: TaskBatch, kind: str) -> TaskBatch:
    """The same batch with every support and query image augmented on its own."""
    T, S = batch.support.shape[:2]
    images = augment(torch.cat([batch.support.flatten(0, 1), batch.query.flatten(0, 1)]), kind)
    support, query = images[: T * S].unflatten(0, (T, S)), images[T * S :].unflatten(0, (T, -1))
    return TaskBatch(support, batch.support_labels, query, batch.query_labels, batch.ways, batch.shots)


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise; NCCL for CUDA ranks, Gloo for CPU ones."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def diverged(step: int, loss: float, lr: float) -> str:
    """The one line a run stops with when its loss stops being a number."""
    return (f"training diverged at step {step}: the loss is {loss} (not finite), so the run stopped; nothing after "
            f"its last checkpoint was saved. Lower lr (now {lr:g}) and start again with --fresh")


def saved_window(state: dict) -> dict:
    """The open log window a checkpoint saved ({} for one written before windows were saved, or a damaged one)."""
    window = state.get("window")
    if not isinstance(window, dict):
        return {}
    values = {key: window.get(key) for key in ("loss", "accuracy", "n")}
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values.values()):
        return {}
    return values


def train(config: TrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Meta-train `config` and return the run folder (`config.out_dir/config.name`)."""
    validate_train_config(config)
    # ============ distributed setup and device ============
    device = pick_device(config.device)
    rank, world = _distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    torch.manual_seed(config.seed)
    run_dir = run_folder(config)  # refuses a name that would leave out_dir
    is_main = rank == 0

    # ============ data ============
    val_data = training_data(config, "validation")
    TaskSampler(val_data, queries=5).check(config.val_ways, config.val_shots)
    train_data = training_data(config)
    TaskSampler(train_data, queries=config.queries).check(max(config.ways), max(config.shots))

    # ============ model ============
    model = FewShotModel(config.model)
    if config.init_from and not (resume and has_checkpoint(run_dir)):
        init_backbone(model, config.init_from)
    # Channels-last on every device: oneDNN's CPU convolutions and cuDNN's tensor cores both prefer it.
    model = model.to(device).to(memory_format=torch.channels_last)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.stage == "frozen":  # batches hold cached features: the backbone is never run
        net = model.forward_features
    forward = torch.compile(net) if config.compile else net

    # ============ optimiser ============
    optimiser = make_optimiser(model, config)
    use_amp = config.amp and device.type == "cuda"

    # ============ resume ============
    saved = resume_or_start(run_dir, model, optimiser, resume, write=is_main)
    step = saved.step if saved else 0
    if saved is not None:
        torch.set_rng_state(state_tensor(saved.state, "torch_rng", saved.folder / STATE, torch.uint8))
    per_step = config.tasks_per_batch * world
    total_steps = math.ceil(config.episodes / per_step)

    def checkpoint(final: bool = False) -> None:
        if not is_main:
            return
        extra = {"train": to_dict(config), "step": step, "episodes": step * per_step, "finished": final}
        # The open log window travels too: the first training-loss line after a resume then averages
        # the same steps as an uninterrupted run's, not only those since the resume.
        logged = {key: window[key] for key in ("loss", "accuracy", "n")}
        save_checkpoint(run_dir, model, extra, {"optimiser": optimiser.state_dict(), "step": step,
                                                "torch_rng": torch.get_rng_state(), "window": logged})

    def validate() -> None:
        if not is_main:
            return
        result = evaluate(model, val_data, config.val_ways, config.val_shots, queries=5, episodes=config.val_episodes, seed=12345)
        model.train()
        append_metrics(
            run_dir / METRICS,
            {"episodes": step * per_step, "step": step, "split": "validation", "accuracy": result.mean,
             "ci95": result.ci95, "ways": config.val_ways, "shots": config.val_shots, "time": time.time()},
        )

    # ============ loop ============
    stream = TaskStream(config, step, rank, world)
    loader = DataLoader(stream, batch_size=None, num_workers=config.num_workers, persistent_workers=False,
                        pin_memory=device.type == "cuda", prefetch_factor=4 if config.num_workers else None)
    model.train()
    window = {"loss": 0.0, "accuracy": 0.0, "n": 0, "timed": 0, "images": 0, "data_wait": 0.0}
    if saved is not None:
        window.update(saved_window(saved.state))
    tick = time.perf_counter()
    bar = tqdm(total=total_steps, initial=step, disable=not (progress and is_main), desc=config.name, unit="step")
    batches = iter(loader)
    first_step, loop_started, last_progress = step, time.time(), -math.inf
    while step < total_steps:
        wait_start = time.perf_counter()
        batch: TaskBatch = next(batches).to(device, non_blocking=True)
        window["data_wait"] += time.perf_counter() - wait_start
        lr = learning_rate(config, step * per_step)
        for group in optimiser.param_groups:
            group["lr"] = lr * group["lr_scale"]
        if config.augment != "none":
            batch = augment_batch(batch, config.augment)
        loss, logits = training_step(forward, model, optimiser, batch, use_amp)
        step += 1
        bar.update(1)
        if is_main and (step == total_steps or time.monotonic() - last_progress >= 0.5):
            write_progress(run_dir, step, total_steps, per_step, first_step, loop_started)  # the app's progress bar and ETA
            last_progress = time.monotonic()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise ParamembedError(diverged(step, loss_value, config.lr))
        window["loss"] += loss_value
        window["accuracy"] += (logits.argmax(-1) == batch.query_labels).float().mean().item()
        window["n"] += 1
        window["timed"] += 1
        window["images"] += batch.support.shape[0] * (batch.support.shape[1] + batch.query.shape[1])
        if is_main and (step % LOG_EVERY == 0 or step == total_steps):
            elapsed = time.perf_counter() - tick
            n = window["n"]
            record = {
                "episodes": step * per_step, "step": step, "split": "train",
                "loss": window["loss"] / n, "accuracy": window["accuracy"] / n, "lr": lr,
                "episodes_per_s": window["timed"] * per_step / elapsed, "images_per_s": window["images"] * world / elapsed,
                "data_wait_fraction": window["data_wait"] / elapsed, "time": time.time(),
            }
            append_metrics(run_dir / METRICS, record)
            bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['accuracy']:.3f}")
            window = {"loss": 0.0, "accuracy": 0.0, "n": 0, "timed": 0, "images": 0, "data_wait": 0.0}
            tick = time.perf_counter()
        crossed = lambda every: every and (step * per_step) // every != ((step - 1) * per_step) // every  # noqa: E731
        if crossed(config.val_every):
            validate()
        if crossed(config.checkpoint_every):
            checkpoint()
    bar.close()
    if not (config.val_every and (step * per_step) % config.val_every < per_step):
        validate()  # unless the loop's last step just did
    checkpoint(final=True)
    if world > 1:
        dist.barrier()
    return run_dir
