"""Adapting a model to a task: its inputs as the model sees them, the classifier, the answers and timings."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from paramembed.config import InputSpec
from paramembed.data.preprocess import images_to_batch
from paramembed.errors import ParamembedError
from paramembed.models.classifier import GeneratedClassifier
from paramembed.tasks.task import FewShotTask


def preprocess_task(task: FewShotTask, spec: InputSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """The task as a model with input `spec` sees it: support (S, C, H, W), query (Q, C, H, W)."""
    support = images_to_batch(task.support, spec)
    query = images_to_batch(task.query, spec) if task.query else torch.zeros(0, spec.channels, spec.image_size, spec.image_size)
    return support, query


@dataclass
class TaskResult:
    """One method's answer to one task.

    probs: (Q, ways) query class probabilities; accuracy over the labelled queries (None when
    none is labelled); adapt_ms: generating the classifier; predict_ms: classifying the queries.
    classifier: as applied to the queries (a transductive model's weights after the queries refined
    them); reads_queries: whether they did, so that each answer depended on the other queries.
    """

    method: str
    classifier: GeneratedClassifier
    probs: torch.Tensor
    accuracy: float | None
    adapt_ms: float
    predict_ms: float
    reads_queries: bool = False

    @property
    def predictions(self) -> list[int]:
        return self.probs.argmax(1).tolist() if len(self.probs) else []

    def correct(self, task: FewShotTask) -> list[bool | None]:
        return [None if label is None else pred == label for pred, label in zip(self.predictions, task.query_labels)]

    def top_k(self, index: int, k: int) -> list[tuple[int, float]]:
        """The k likeliest classes of query `index`: [(class id, probability)]."""
        p = self.probs[index]
        values, ids = p.topk(min(k, len(p)))
        return list(zip(ids.tolist(), values.tolist()))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def solve(model, task: FewShotTask, method: str | None = None, inputs: tuple[torch.Tensor, torch.Tensor] | None = None) -> TaskResult:
    """Adapt `model` to the task's support set with `method` and classify its queries.

    `inputs` are the preprocessed (support, query) tensors from `preprocess_task`, when the
    caller already has them (they are what the page shows).
    """
    support, query = inputs if inputs is not None else preprocess_task(task, model.config.input)
    _sync(model.device)
    start = time.perf_counter()
    classifier = model.adapt(support, [task.class_names[c] for c in task.support_labels], method=method)
    _sync(model.device)
    adapt_ms = (time.perf_counter() - start) * 1000.0
    # adapt numbers classes by first appearance; support is ordered class by class, so the ids
    # match the task's, but check rather than trust it.
    if classifier.labels != task.class_names:
        raise ParamembedError("internal: classifier classes are out of order")
    start = time.perf_counter()
    reads_queries = classifier.transductive and len(query) > 0
    if len(query):  # a transductive model's classifier comes back with the weights the queries refined
        probs, classifier = model.classify(classifier, query)
        probs = probs.cpu()
    else:
        probs = torch.zeros(0, task.ways)
    _sync(model.device)
    predict_ms = (time.perf_counter() - start) * 1000.0
    labelled = [(pred, label) for pred, label in zip(probs.argmax(1).tolist(), task.query_labels) if label is not None]
    accuracy = sum(p == t for p, t in labelled) / len(labelled) if labelled else None
    return TaskResult(method or model.method, classifier, probs, accuracy, adapt_ms, predict_ms, reads_queries)


def to_display(image: torch.Tensor) -> np.ndarray:
    """A model-input tensor (C, S, S) in [0, 1] -> an array st.image shows: (S, S) or (S, S, 3)."""
    arr = image.detach().cpu().float().clamp(0, 1).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
