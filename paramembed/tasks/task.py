"""`FewShotTask`: what every way of making a task ends in; and tasks sampled from a class dataset."""

from __future__ import annotations

from dataclasses import dataclass

from paramembed.data.episodes import TaskSampler
from paramembed.errors import ParamembedError


@dataclass
class FewShotTask:
    """A task ready to adapt to.

    support: S images (PIL, or (C, H, W) tensors for sampled tasks), ordered class by class
    support_labels: (S,) class ids in 0..ways-1
    query: Q images; query_labels: Q class ids, None where the label is unknown
    key: identifies the content, so results can be cached across reruns
    """

    class_names: list[str]
    support: list
    support_labels: list[int]
    query: list
    query_labels: list[int | None]
    query_names: list[str]
    key: str
    source: str = "upload"
    support_names: list[str] | None = None  # the support images' file names, when they have any

    @property
    def ways(self) -> int:
        return len(self.class_names)

    def shots(self) -> list[int]:
        """Support images per class."""
        return [self.support_labels.count(c) for c in range(self.ways)]

    @property
    def labelled_queries(self) -> int:
        return sum(label is not None for label in self.query_labels)

    def describe(self) -> str:
        shots = self.shots()
        shot_text = f"{shots[0]}-shot" if len(set(shots)) == 1 else f"{min(shots)}-{max(shots)} shots per class"
        return f"{self.ways}-way {shot_text}, {len(self.query)} queries ({self.labelled_queries} labelled)"


def sample_task(
    dataset, ways: int, shots: int, queries: int, within_alphabet: bool, seed: int, index: int = 0
) -> FewShotTask:
    """Task `index` of `seed` from a class dataset (e.g. the procedural test alphabets)."""
    if not 2 <= ways <= 20:
        raise ParamembedError(f"ways should be 2-20, got {ways}")
    if not 1 <= shots <= 10:
        raise ParamembedError(f"shots should be 1-10, got {shots}")
    sampler = TaskSampler(dataset, queries=queries, within_alphabet=1.0 if within_alphabet else 0.0, seed=seed)
    task = sampler.sample(index, ways, shots, within=within_alphabet)
    q_labels = task.query_labels.tolist()
    return FewShotTask(
        class_names=task.class_names,
        support=list(task.support),
        support_labels=task.support_labels.tolist(),
        query=list(task.query),
        query_labels=q_labels,
        query_names=[f"query {i + 1}" for i in range(len(q_labels))],
        key=f"sample-{getattr(dataset, 'split', '')}-{dataset.image_size}-{ways}-{shots}-{queries}-{within_alphabet}-{seed}-{index}",
        source="sample",
    )
