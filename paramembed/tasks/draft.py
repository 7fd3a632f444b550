"""`TaskDraft`: the task a person builds up (add, rename and remove classes; add images and queries)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from paramembed.errors import ParamembedError
from paramembed.tasks.images import TaskImage, decode_files
from paramembed.tasks.limits import LIMITS, TaskLimits, check_class_name
from paramembed.tasks.task import FewShotTask
from paramembed.tasks.zips import read_zip


@dataclass
class TaskDraft:
    """The task a person is building: named classes of images, and queries (labelled or not).

    Class names are unique ignoring case. Nothing here raises for a bad file: `add_files` and
    `add_zip` return one message per problem and keep every good image.
    """

    classes: dict[str, list[TaskImage]] = field(default_factory=dict)
    queries: list[tuple[TaskImage, str | None]] = field(default_factory=list)
    limits: TaskLimits = LIMITS

    # ------------------------------------------------------------------ classes
    def _find(self, name: str) -> str | None:
        folded = name.casefold()
        return next((existing for existing in self.classes if existing.casefold() == folded), None)

    def add_class(self, name: str) -> str:
        name = check_class_name(name, self.limits)
        if self._find(name) is not None:
            raise ParamembedError(f"there is already a class named {self._find(name)!r}")
        if len(self.classes) >= self.limits.max_classes:
            raise ParamembedError(f"a task holds at most {self.limits.max_classes} classes")
        self.classes[name] = []
        return name

    def rename_class(self, old: str, new: str) -> str:
        if old not in self.classes:
            raise ParamembedError(f"no class named {old!r}")
        new = check_class_name(new, self.limits)
        clash = self._find(new)
        if clash is not None and clash != old:
            raise ParamembedError(f"cannot rename {old!r} to {new!r}: there is already a class named {clash!r}")
        # Rebuild the dict so the class keeps its place in the order.
        self.classes = {(new if name == old else name): images for name, images in self.classes.items()}
        self.queries = [(img, new if label == old else label) for img, label in self.queries]
        return new

    def remove_class(self, name: str) -> None:
        if name not in self.classes:
            raise ParamembedError(f"no class named {name!r}")
        del self.classes[name]
        # Queries labelled with a removed class become unlabelled rather than disappearing.
        self.queries = [(img, None if label == name else label) for img, label in self.queries]

    def clear(self) -> None:
        self.classes.clear()
        self.queries.clear()

    # ------------------------------------------------------------------ images
    def add_images(self, class_name: str, images: list[TaskImage]) -> list[str]:
        """Add decoded images to a class; returns messages for those not added."""
        if class_name not in self.classes:
            return [f"no class named {class_name!r}"]
        target = self.classes[class_name]
        problems, skipped = [], []
        for image in images:
            if any(existing.digest == image.digest for existing in target):
                problems.append(f"{image.name}: already in class {class_name!r}")
            elif len(target) >= self.limits.max_images_per_class:
                skipped.append(image.name)
            else:
                target.append(image)
        if skipped:
            problems.append(
                f"class {class_name!r} is full (at most {self.limits.max_images_per_class} images per class); "
                f"not added: {', '.join(skipped)}"
            )
        return problems

    def add_files(self, class_name: str, files: list[tuple[str, bytes]]) -> list[str]:
        """Decode and add files to a class; returns one message per file that was not added."""
        images, problems = decode_files(files, self.limits)
        return problems + self.add_images(class_name, images)

    def add_queries(self, images: list[TaskImage], label: str | None = None) -> list[str]:
        if label is not None and label not in self.classes:
            return [f"no class named {label!r} for the queries' label"]
        problems, skipped = [], []
        for image in images:
            if len(self.queries) >= self.limits.max_queries:
                skipped.append(image.name)
            else:
                self.queries.append((image, label))
        if skipped:
            problems.append(f"a task holds at most {self.limits.max_queries} queries; not added: {', '.join(skipped)}")
        return problems

    def add_query_files(self, files: list[tuple[str, bytes]], label: str | None = None) -> list[str]:
        images, problems = decode_files(files, self.limits)
        return problems + self.add_queries(images, label)

    def remove_query(self, index: int) -> None:
        if not 0 <= index < len(self.queries):
            raise ParamembedError(f"no query number {index + 1}")
        del self.queries[index]

    def add_zip(self, data: bytes, name: str = "archive.zip") -> list[str]:
        """Merge a zip in ImageFolder layout (`<class>/<image>`) into the draft.

        A single top folder around the classes is allowed (zipping a folder makes one), and a
        top-level `query/` folder holds queries: unlabelled directly inside it, labelled in
        `query/<class>/`. Raises ParamembedError when the archive as a whole is unusable (nothing
        is added then); otherwise returns messages for the members it skipped. Members are read
        and decoded one at a time (`read_zip`), so only the shrunk images stay in memory.
        """
        by_class, queries, problems = read_zip(data, name, self.limits)
        for class_name in by_class:
            if self._find(class_name) is None:
                if len(self.classes) >= self.limits.max_classes:
                    problems.append(f"{name}: class {class_name!r} not added: a task holds at most {self.limits.max_classes} classes")
                    continue
                self.add_class(class_name)
        for class_name, images in by_class.items():
            existing = self._find(class_name)
            if existing is not None:
                problems += self.add_images(existing, images)
        for label, images in queries.items():
            existing = self._find(label) if label is not None else None
            if label is not None and existing is None:
                problems.append(f"{name}: queries labelled {label!r} name no class in the task; added unlabelled")
            problems += self.add_queries(images, existing)
        return problems

    # ------------------------------------------------------------------ the task
    def build(self) -> FewShotTask:
        """Check the draft and return its task; raises ParamembedError saying what to fix."""
        empty = [name for name, images in self.classes.items() if not images]
        if empty:
            raise ParamembedError(f"class {empty[0]!r} has no images: add at least one, or remove the class")
        if len(self.classes) < 2:
            have = f"only {next(iter(self.classes))!r}" if self.classes else "none yet"
            raise ParamembedError(f"a task needs at least two classes ({have})")
        full = [name for name, images in self.classes.items() if len(images) > self.limits.max_images_per_class]
        if full:
            raise ParamembedError(f"class {full[0]!r} has over {self.limits.max_images_per_class} images")
        names = list(self.classes)
        support, labels = [], []
        for index, images in enumerate(self.classes.values()):
            support += [img.image for img in images]
            labels += [index] * len(images)
        query_labels = [names.index(label) if label is not None else None for _, label in self.queries]
        key = hashlib.sha1(
            repr(
                (
                    [(n, [i.digest for i in imgs]) for n, imgs in self.classes.items()],
                    [(i.digest, label) for i, label in self.queries],
                )
            ).encode()
        ).hexdigest()[:16]
        return FewShotTask(
            class_names=names,
            support=support,
            support_labels=labels,
            query=[img.image for img, _ in self.queries],
            query_labels=query_labels,
            query_names=[img.name for img, _ in self.queries],
            key=f"draft-{key}",
            support_names=[img.name for images in self.classes.values() for img in images],
        )
