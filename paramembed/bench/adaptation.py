"""Adaptation benchmarks: time to adapt to one task per method, and many tasks in one pass.

The rows come from `paramembed.methods.METHODS`: a method with a model of its own runs on that
model; one that works on any backbone but has no model (fine-tuning) runs on the reference
(hyper) model. Gradient methods are timed at the step counts in `GRADIENT_STEPS`.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from paramembed.bench.timing import median, percentile, rate, timed
from paramembed.checkpoint import ASSETS
from paramembed.zoo import load_model
from paramembed.config import ModelConfig
from paramembed.data.episodes import Task, TaskSampler, stack_tasks
from paramembed.data.registry import get_dataset
from paramembed.errors import ParamembedError
from paramembed.methods import METHODS, TRAINABLE, get_method
from paramembed.models.baselines import finetune_head
from paramembed.models import fewshot
from paramembed.models.fewshot import FewShotModel

SHAPES = ((5, 5), (20, 1))  # (ways, shots) of the adaptation tasks
REFERENCE = "hyper"  # every other method's time and accuracy is compared with this one's
# MAML at its usual 5 steps and at 10 (the target's comparison); fine-tuning at the head's default.
GRADIENT_STEPS = {"maml": (5, 10), "finetune": (inspect.signature(finetune_head).parameters["steps"].default,)}
TARGET_ROW = "maml-10"  # the target: hyper >= 20x faster than this row at equal or better accuracy


@dataclass(frozen=True)
class MethodRow:
    """One row of the adaptation table.

    label: what the table prints; model: whose weights to load (a `TRAINABLE` name);
    method: passed to `FewShotModel.adapt` (None: the model's own); maml_steps: overrides the
    model's inner steps when set; gradient: whether it takes optimisation steps per task.
    """

    label: str
    model: str
    method: str | None
    maml_steps: int | None
    gradient: bool


def method_rows() -> tuple[MethodRow, ...]:
    rows = []
    for m in METHODS.values():
        model, method = (m.name, None) if m.trainable else (REFERENCE, m.name)
        gradient = m.kind == "gradient"
        for steps in GRADIENT_STEPS.get(m.name, (None,)) if gradient else (None,):
            label = m.name if steps is None else f"{m.name}-{steps}"
            # Only a method with its own gradient-trained model reads its steps from the config.
            rows.append(MethodRow(label, model, method, steps if gradient and m.trainable else None, gradient))
    return tuple(rows)


def resolve_models(overrides: dict[str, str], device: torch.device) -> tuple[dict[str, FewShotModel], dict[str, str]]:
    """Each trainable method's model: an override folder, else the shipped model, else a fresh one.

    Returns (models, sources): a source says where the weights came from, so the table can say
    when an accuracy is meaningless (an untrained model).
    """
    models, sources = {}, {}
    for name in TRAINABLE:
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


def sample_tasks(count: int, ways: int, shots: int, queries: int, seed: int = 0) -> list[Task]:
    """`count` seeded tasks from the held-out procedural alphabets (the same for every method)."""
    dataset = get_dataset("procedural", "test", ModelConfig().input)
    sampler = TaskSampler(dataset, queries=queries, seed=seed)
    sampler.check(ways, shots)
    return [sampler.sample(i, ways, shots) for i in range(count)]


def summary(times: list[float], accuracies: list[float]) -> dict:
    """Median and p90 milliseconds, mean accuracy and its 95% CI half-width over the tasks."""
    mean = float(np.mean(accuracies))
    ci = float(1.96 * np.std(accuracies, ddof=1) / np.sqrt(len(accuracies))) if len(accuracies) > 1 else float("nan")
    return {"median_ms": 1e3 * median(times), "p90_ms": 1e3 * percentile(times, 90), "accuracy": mean, "ci95": ci, "tasks": len(times)}


def with_maml_steps(model: FewShotModel, steps: int) -> FewShotModel:
    """`model` taking `steps` inner steps: a shallow copy shares the weights; only the step count differs."""
    out = copy.copy(model)
    out.config = dataclasses.replace(model.config, maml_steps=steps)
    return out


def _variant(models: dict[str, FewShotModel], row: MethodRow) -> FewShotModel:
    model = models[row.model]
    return model if row.maml_steps is None else with_maml_steps(model, row.maml_steps)


def adaptation_ratios(rows: list[dict], shapes: list[str], gradient_rows: list[str]) -> dict:
    """Each gradient row's median time over the reference's, and the reference's accuracy lead."""
    ratios = {}
    for shape in shapes:
        by = {r["method"]: r for r in rows if r["task"] == shape}
        ref = by[REFERENCE]
        for other in gradient_rows:
            ratio = {"time_ratio": by[other]["median_ms"] / ref["median_ms"], "accuracy_difference": ref["accuracy"] - by[other]["accuracy"]}
            if other == TARGET_ROW:
                ratio["target_met"] = ratio["time_ratio"] >= 20 and ratio["accuracy_difference"] >= 0
            ratios[f"{other}/{REFERENCE} {shape}"] = ratio
    return ratios


def adaptation_section(models: dict[str, FewShotModel], sources: dict[str, str], tasks: dict[str, list[Task]], device: torch.device,
                       log: Callable[[str], None] = lambda s: None) -> dict:
    """Time `model.adapt` (preprocessed support tensors) per task and method, and score the queries.

    Methods are interleaved task by task, so a change in the machine's load during the run
    slows every method alike and the ratios stay fair.
    """
    variants = [(row, _variant(models, row)) for row in method_rows()]
    rows = []
    for shape, shape_tasks in tasks.items():
        times: dict[str, list[float]] = {row.label: [] for row, _ in variants}
        accuracies: dict[str, list[float]] = {row.label: [] for row, _ in variants}
        for i, task in enumerate(shape_tasks):
            support, labels = task.support.to(device), task.support_labels.tolist()  # (ways*shots, C, H, W)
            for row, model in variants:
                if i == 0:  # warm-up: first-call allocations and kernel choices are not adaptation time
                    model.adapt(support, labels, method=row.method)
                dt, clf = timed(lambda: model.adapt(support, labels, method=row.method), device)
                times[row.label].append(dt)
                probs = model.predict(clf, task.query.to(device))  # (ways*queries, ways)
                accuracies[row.label].append((probs.argmax(-1).cpu() == task.query_labels).float().mean().item())
        for row, _ in variants:
            result = summary(times[row.label], accuracies[row.label])
            rows.append({"method": row.label, "task": shape, "model": sources[row.model], **result})
            log(f"  {row.label} {shape}: median {result['median_ms']:.1f} ms, accuracy {100 * result['accuracy']:.1f}%")
    gradient_rows = [row.label for row, _ in variants if row.gradient]
    return {"rows": rows, "ratios": adaptation_ratios(rows, list(tasks), gradient_rows),
            "target": f"{REFERENCE} adapts >= 20x faster than 10-step MAML at equal or better accuracy"}


def batched_section(model: FewShotModel, tasks: list[Task], device: torch.device, quick: bool) -> dict:
    """Tasks/s of `adapt_tasks` (all tasks in one backbone pass) versus `adapt` task by task."""
    if not get_method(model.method).batchable:
        raise ParamembedError(f"batched adaptation needs a batchable method; {model.method!r} is not")
    ways, shots = tasks[0].ways, tasks[0].shots
    count = 1024 if device.type == "cuda" and not quick else len(tasks)  # 25k images a pass on a GPU
    reps = (count + len(tasks) - 1) // len(tasks)
    batch = stack_tasks((tasks * reps)[:count])
    support = batch.support.to(device)  # (count, ways*shots, C, H, W)
    labels = batch.support_labels.to(device)  # (count, ways*shots)
    use_amp = device.type == "cuda"
    net = model
    if device.type == "cuda":
        # Channels-last and bf16 feed the tensor cores; the generator and cosine run in float32.
        net = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def batched():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            return net.adapt_tasks(support, labels, ways)

    seconds = 0.3 if quick else 2.0
    batched_rate = rate(batched, device, seconds) * count
    singles = [t.support.to(device) for t in tasks]
    single_labels = tasks[0].support_labels.tolist()

    def one_by_one():
        for s in singles:
            model.adapt(s, single_labels)

    single_rate = rate(one_by_one, device, seconds, min_calls=1) * len(singles)
    out = {
        "method": model.method, "task": f"{ways}-way {shots}-shot", "tasks_per_pass": count, "batched_tasks_per_s": batched_rate,
        "one_at_a_time_tasks_per_s": single_rate, "speedup": batched_rate / single_rate, "mixed_precision": use_amp,
    }
    if device.type == "cpu":
        out["images_per_pass"] = fewshot.CPU_IMAGES_PER_PASS
        out["sweep_tasks_per_s"] = pass_size_sweep(batched, device, seconds, count, ways * shots)
    return _with_gpu_target(out, batched_rate, device)


def pass_size_sweep(batched: Callable[[], object], device: torch.device, seconds: float, count: int,
                    images_per_task: int) -> dict[int, float]:
    """Batched tasks/s with the CPU's images per pass set to each size in turn (how CPU_IMAGES_PER_PASS was chosen)."""
    chosen = fewshot.CPU_IMAGES_PER_PASS
    sizes = sorted({images_per_task * k for k in (1, 2, 4, 8)} | {count * images_per_task})
    out = {}
    try:
        for size in sizes:
            fewshot.CPU_IMAGES_PER_PASS = size
            out[size] = rate(batched, device, seconds) * count
    finally:
        fewshot.CPU_IMAGES_PER_PASS = chosen
    return out


def _with_gpu_target(out: dict, batched_rate: float, device: torch.device) -> dict:
    if device.type == "cuda":
        out["target"] = ">= 5000 5-way 5-shot tasks/s on an H100"
        out["target_met"] = batched_rate >= 5000
    return out
