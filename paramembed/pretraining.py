"""Stage 1: supervised pre-training of the backbone on every training class at once.

A cosine classifier over all training classes (Chen et al. 2019, "A Closer Look at Few-shot
Classification"; Chen et al. 2021, "Meta-Baseline") learns far more per CPU-second than episodes
do: every image is a 1,000-way-ish example, batches are large and dense, and nothing waits on data
(the dataset is one uint8 tensor in memory, augmented in torch). The result is an ordinary model
folder with the `proto` generator: imprinting on the pre-trained features, usable as it is and
the starting point (`init_from`) of every stage-2 run.

    images (N, C, S, S) uint8 -> rotate / augment -> backbone (B, D) -> scale * cos(f, W) (B, K)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from paramembed.checkpoint import STATE, resume_or_start, save_checkpoint, state_tensor
from paramembed.config import TrainConfig, to_dict
from paramembed.config_checks import validate_train_config
from paramembed.data.augment import augment
from paramembed.data.episodes import TaskSampler
from paramembed.device import pick_device
from paramembed.errors import ParamembedError
from paramembed.data.sources import training_data
from paramembed.evaluation import evaluate
from paramembed.logs import METRICS, append_metrics
from paramembed.models.fewshot import FewShotModel
from paramembed.runs import run_folder
from paramembed.training import diverged

LOG_EVERY = 20
# Initial norm of the head's rows. Small rows turn the same SGD step into a larger change of
# direction: with thousands of classes each row is seen a few times per epoch, and unit rows
# barely moved (1 epoch of Omniglot: 0.3% vs 18% training accuracy at 0.1).
HEAD_NORM = 0.1


def labelled_images(dataset) -> tuple[torch.Tensor, torch.Tensor, int]:
    """A folder dataset's split as (images (N, C, S, S) uint8, labels (N,), classes)."""
    if not hasattr(dataset, "rows"):
        raise ParamembedError("pre-training needs a real dataset (a folder or archive); the procedural sets are episodic only")
    rows, labels = [], []
    label = 0
    for g in range(dataset.num_groups):
        for c in range(dataset.num_classes(g)):
            r = dataset.rows(g, c)
            rows.extend(r)
            labels.extend([label] * len(r))
            label += 1
    index = torch.tensor(rows)
    return torch.from_numpy(dataset.data)[index], torch.tensor(labels), label


def rotate_by(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S), (B,) in 0..3 -> each image turned by its own multiple of 90 degrees."""
    out = images.clone()
    for k in (1, 2, 3):
        chosen = quarter_turns == k
        if chosen.any():
            out[chosen] = torch.rot90(images[chosen], k, dims=(2, 3))
    return out


def pretraining_batch(images: torch.Tensor, labels: torch.Tensor, picked: torch.Tensor, turns: int,
                      augment_kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch from the in-memory set: images (N, C, S, S) uint8, labels (N,), picked (B,) indices
    into the N x `turns` rotated samples -> (x (B, C, S, S) float in channels-last, y (B,) class ids)."""
    index, turn = picked % len(images), picked // len(images)
    x = images[index].float().div_(255.0)
    if turns > 1:
        x = rotate_by(x, turn)
    x = augment(x, augment_kind).contiguous(memory_format=torch.channels_last)
    return x, labels[index] * turns + turn


def pretraining_step(model: FewShotModel, head: torch.Tensor, optimiser: torch.optim.Optimizer,
                     x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step of the cosine classifier: x (B, C, S, S), y (B,) -> (loss, logits (B, classes)).

    Shared with the benchmark so that it times exactly this step.
    """
    feats = model.features(x)  # (B, D)
    logits = model.scale * F.normalize(feats, dim=-1) @ F.normalize(head, dim=-1).T
    loss = F.cross_entropy(logits, y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss, logits


def step_lr(config: TrainConfig, step: int, total: int) -> float:
    """Linear warm-up over the first 2% of steps, then cosine to zero."""
    warmup = max(1, total // 50)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def pretrain(config: TrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Pre-train `config.model`'s backbone on `config.data`'s training classes; returns the run folder."""
    validate_train_config(config)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    run_dir = run_folder(config)  # refuses a name that would leave out_dir

    # ============ data ============
    images, labels, classes = labelled_images(training_data(_unrotated(config), min_images=1))
    # The whole set fits in accelerator memory as uint8: batches are then indexed, rotated and
    # augmented where they are used, with no host-to-device copy per step.
    images, labels = images.to(device), labels.to(device)
    turns = 4 if config.rotations else 1
    samples = len(images) * turns
    val_data = training_data(config, "validation")
    TaskSampler(val_data, queries=5).check(config.val_ways, config.val_shots)
    steps_per_epoch = samples // config.batch_size
    total_steps = max(1, int(config.epochs * steps_per_epoch))

    # ============ model, head, optimiser ============
    model = FewShotModel(config.model).to(device).to(memory_format=torch.channels_last)
    # Unit-norm rows: the cosine makes the norm irrelevant to the logits, but a tiny norm would
    # turn every SGD step into a huge change of direction.
    head = nn.Parameter(HEAD_NORM * F.normalize(torch.randn(classes * turns, model.backbone.feature_dim), dim=-1).to(device))
    # The scale stays at its initial 10: learned from the start, it collapses towards 0 while the
    # thousands of classes are still random (the loss then sits at log K and nothing learns).
    model.log_scale.requires_grad_(False)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1] + [head]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1 and p.requires_grad]
    optimiser = torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, momentum=0.9, nesterov=True)

    # ============ resume ============
    saved = resume_or_start(run_dir, model, optimiser, resume)
    step = saved.step if saved else 0
    if saved is not None:
        head.data.copy_(state_tensor(saved.state, "head", saved.folder / STATE, shape=tuple(head.shape)))

    def checkpoint(final: bool = False) -> None:
        extra = {"train": to_dict(config), "step": step, "epochs": step / steps_per_epoch, "finished": final,
                 "images_seen": step * config.batch_size}
        save_checkpoint(run_dir, model, extra, {"head": head.detach().cpu(), "optimiser": optimiser.state_dict(), "step": step})

    def validate() -> None:
        result = evaluate(model, val_data, config.val_ways, config.val_shots, queries=5,
                          episodes=config.val_episodes, seed=12345, method="proto")
        model.train()
        append_metrics(run_dir / METRICS, {"episodes": step, "step": step, "epoch": step / steps_per_epoch,
                                    "split": "validation", "accuracy": result.mean, "ci95": result.ci95,
                                    "ways": config.val_ways, "shots": config.val_shots, "data": "held-out classes",
                                    "time": time.time()})

    # ============ loop ============
    model.train()
    bar = tqdm(total=total_steps, initial=step, disable=not progress, desc=config.name, unit="step")
    window = {"loss": 0.0, "accuracy": 0.0, "n": 0, "wait": 0.0}
    tick = time.perf_counter()
    order = None
    while step < total_steps:
        wait = time.perf_counter()
        epoch, offset = divmod(step * config.batch_size, max(1, steps_per_epoch * config.batch_size))
        if order is None or order[0] != epoch:
            g = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            order = (epoch, torch.randperm(samples, generator=g))
        picked = order[1][offset : offset + config.batch_size].to(device)
        x, y = pretraining_batch(images, labels, picked, turns, config.augment)
        window["wait"] += time.perf_counter() - wait
        lr = step_lr(config, step, total_steps)
        for group in optimiser.param_groups:
            group["lr"] = lr
        loss, logits = pretraining_step(model, head, optimiser, x, y)
        step += 1
        bar.update(1)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise ParamembedError(diverged(step, loss_value, config.lr))
        window["loss"] += loss_value
        window["accuracy"] += (logits.argmax(-1) == y).float().mean().item()
        window["n"] += 1
        if step % LOG_EVERY == 0 or step == total_steps:
            elapsed = time.perf_counter() - tick
            n = window["n"]
            append_metrics(run_dir / METRICS, {
                "episodes": step, "step": step, "epoch": step / steps_per_epoch, "split": "train",
                "loss": window["loss"] / n, "accuracy": window["accuracy"] / n, "lr": lr,
                "images_per_s": n * config.batch_size / elapsed, "data_wait_fraction": window["wait"] / elapsed,
                "time": time.time()})
            bar.set_postfix(loss=f"{window['loss'] / n:.3f}", acc=f"{window['accuracy'] / n:.3f}")
            window = {"loss": 0.0, "accuracy": 0.0, "n": 0, "wait": 0.0}
            tick = time.perf_counter()
        if config.val_every and step % config.val_every == 0 and step < total_steps:
            validate()
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total_steps:
            checkpoint()
    bar.close()
    validate()
    checkpoint(final=True)
    return run_dir


def _unrotated(config: TrainConfig) -> TrainConfig:
    # Pre-training rotates in torch (cheaper than the episodic wrapper's per-image numpy turns).
    from dataclasses import replace

    return replace(config, rotations=False)
