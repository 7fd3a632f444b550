"""N-way K-shot evaluation: accuracy over many episodes as mean and 95% confidence interval.

Generator methods run in eval mode (batch norm on running statistics), so an image's features do
not depend on the other images of its task. Evaluation therefore computes each image's features
once and reuses them across episodes: a thousand 20-way episodes cost one pass over the images.
MAML adapts the backbone itself and is evaluated task by task.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from paramembed.data.episodes import ClassDataset, TaskSampler
from paramembed.errors import ParamembedError
from paramembed.methods import check_method_for, eval_mode
from paramembed.models.fewshot import FewShotModel


@dataclass
class EvalResult:
    method: str
    ways: int
    shots: int
    queries: int
    episodes: int
    within_alphabet: float  # probability that a task's classes share one alphabet
    mean: float  # accuracy in [0, 1]
    ci95: float  # half-width of the 95% confidence interval
    accuracies: list[float] = field(default_factory=list, repr=False)  # per episode: pairs two methods' tasks

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "accuracies"}

    def __str__(self) -> str:
        return f"{100 * self.mean:.2f} +- {100 * self.ci95:.2f}%"


def paired_difference(a: EvalResult, b: EvalResult) -> tuple[float, float]:
    """Mean and 95% CI of a - b over the same seeded tasks (episode by episode): a paired comparison."""
    if len(a.accuracies) != len(b.accuracies) or not a.accuracies:
        raise ParamembedError("a paired difference needs two results over the same episodes")
    return mean_ci95([x - y for x, y in zip(a.accuracies, b.accuracies)])


def mean_ci95(accuracies: list[float]) -> tuple[float, float]:
    a = np.asarray(accuracies, dtype=np.float64)
    if len(a) < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(1.96 * a.std(ddof=1) / math.sqrt(len(a)))


class FeatureBank:
    """Backbone features of dataset images, computed once per (group, class, drawing)."""

    def __init__(self, model: FewShotModel, dataset: ClassDataset, batch_size: int = 512):
        self.model, self.dataset, self.batch_size = model, dataset, batch_size
        self._rows: dict[tuple[int, int, int], torch.Tensor] = {}

    def features(self, keys: list[tuple[int, int, int]]) -> torch.Tensor:
        """len(keys) image keys -> (len(keys), D) features, in eval mode (running batch-norm statistics)."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._rows))
        cached = getattr(self.dataset, "is_features", False)  # a FeatureSet holds features already
        with eval_mode(self.model):
            for i in range(0, len(todo), self.batch_size):
                chunk = todo[i : i + self.batch_size]
                images = torch.from_numpy(self.dataset.images(chunk)).to(self.model.device)
                for key, feat in zip(chunk, images if cached else self.model.features(images)):
                    self._rows[key] = feat
            return torch.stack([self._rows[k] for k in keys])


def evaluate(
    model: FewShotModel,
    dataset: ClassDataset,
    ways: int = 5,
    shots: int = 1,
    queries: int = 15,
    episodes: int = 600,
    within_alphabet: float = 0.0,
    seed: int = 0,
    method: str | None = None,
    progress: bool = False,
    bank: FeatureBank | None = None,
    use_queries: bool = True,
) -> EvalResult:
    """Accuracy of `method` (default: the model's own) over `episodes` seeded tasks.

    `within_alphabet` is the probability that a task takes all its classes from one alphabet, as in
    training configs: 0 gives random-class tasks, 1 the Lake et al. 2015 within-alphabet protocol.
    Pass one `FeatureBank` to several calls on the same model and dataset to compute each image's
    features only once across all of them. `use_queries=False` measures a transductive model
    without its query refinement (each query classified on its own).
    """
    m = check_method_for(model.method, method or model.method)
    method = m.name
    within_alphabet = float(within_alphabet)
    if not 0.0 <= within_alphabet <= 1.0:  # also refuses NaN
        raise ParamembedError(f"within_alphabet is a probability in [0, 1], got {within_alphabet}")
    sampler = TaskSampler(dataset, queries=queries, within_alphabet=within_alphabet, seed=seed)
    sampler.check(ways, shots)
    accuracies: list[float] = []
    labels = torch.arange(ways, device=model.device).repeat_interleave(shots)
    query_labels = torch.arange(ways, device=model.device).repeat_interleave(queries)
    if m.adapts_backbone:  # features change with every task: nothing to cache
        bank = None
    elif bank is None:
        bank = FeatureBank(model, dataset)
    steps = range(episodes)
    for index in tqdm(steps, desc=f"{method} {ways}-way {shots}-shot", disable=not progress, leave=False):
        if bank is not None:
            _, support_keys, query_keys = sampler.task_keys(index, ways, shots)
            support, query = bank.features(support_keys), bank.features(query_keys)
            probs = _classify_features(model, method, support, labels, query, ways, use_queries)
        else:
            task = sampler.sample(index, ways, shots)
            clf = model.adapt(task.support, task.support_labels.tolist(), method=method, use_queries=use_queries)
            probs = model.predict(clf, task.query)
        accuracies.append((probs.argmax(-1) == query_labels).float().mean().item())
    mean, ci = mean_ci95(accuracies)
    return EvalResult(method, ways, shots, queries, episodes, within_alphabet, mean, ci, accuracies)


def _classify_features(model: FewShotModel, method: str, support, labels, query, ways, use_queries: bool = True) -> torch.Tensor:
    """Cached features -> (queries, ways) probabilities: support (S, D), labels (S,), query (Q, D)."""
    # The bank's tensors were made in inference mode; clones are ordinary tensors that autograd
    # accepts (the latent generator's code steps, the fine-tuned head).
    with eval_mode(model, method):
        clf = model.classifier_from_features(support[None].clone(), labels[None], ways, method, use_queries)
    with eval_mode(model):
        return torch.softmax(clf.logits(query[None].clone())[0], -1)
