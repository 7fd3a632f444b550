"""Few-shot tasks built by hand: from sampled procedural alphabets, uploads, a zip, drawings, photos.

Every way of making a task ends in the same `FewShotTask`: support images with their class, and
queries whose label may be unknown. A `TaskDraft` is the editable collection a person builds up
(add, rename and remove classes; add images; add queries); `TaskDraft.build()` checks it and
returns the task, or raises `ParamembedError` saying what is wrong. Adding files never raises:
each bad file becomes one message naming the file and the problem, and the good ones are kept.

    draft = TaskDraft()
    draft.add_class("cat"); draft.add_class("dog")
    problems = draft.add_files("cat", [("a.png", png_bytes), ...])
    task = draft.build()
    result = solve(model, task)         # TaskResult: probabilities, accuracy, adaptation time
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
import torch
from PIL import Image

from paramembed.config import InputSpec
from paramembed.data.episodes import TaskSampler
from paramembed.data.preprocess import IMAGE_SUFFIXES, MAX_FILE_BYTES, MAX_IMAGE_PIXELS, images_to_batch, open_image
from paramembed.errors import ParamembedError
from paramembed.models.classifier import GeneratedClassifier


@dataclass(frozen=True)
class TaskLimits:
    """What one hand-made task may hold; stated on the page so nobody meets them by surprise."""

    max_classes: int = 30
    max_images_per_class: int = 30
    max_queries: int = 100
    max_file_bytes: int = MAX_FILE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_zip_bytes: int = 100 * 1024 * 1024  # the archive as uploaded
    max_zip_members: int = 2000
    max_name_length: int = 60
    # Stored images are shrunk to this side: every model reads at most a few hundred pixels, and a
    # session holding thirty 40 MP photos would hold gigabytes.
    stored_side: int = 512

    def describe(self) -> str:
        return (
            f"at most {self.max_classes} classes, {self.max_images_per_class} images per class and "
            f"{self.max_queries} queries; each image file up to {self.max_file_bytes // 2**20} MB and "
            f"{self.max_image_pixels // 1_000_000} megapixels; a zip up to {self.max_zip_bytes // 2**20} MB "
            f"and {self.max_zip_members} files"
        )


LIMITS = TaskLimits()
# Folders and files that archivers and operating systems add to a zip without being asked.
JUNK_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
QUERY_FOLDERS = ("query", "queries")


@dataclass
class TaskImage:
    """One decoded image, upright, 8-bit L or RGB; `digest` identifies its pixels."""

    name: str
    image: Image.Image
    digest: str


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


def check_class_name(name: str, limits: TaskLimits = LIMITS) -> str:
    """A class name, stripped; raises when it is empty or too long."""
    clean = " ".join(str(name).split())
    if not clean:
        raise ParamembedError("a class needs a name")
    if len(clean) > limits.max_name_length:
        raise ParamembedError(f"class name {clean[:20]!r}... is over {limits.max_name_length} characters")
    return clean


def decode_image(data: bytes, name: str, limits: TaskLimits = LIMITS) -> TaskImage:
    """Untrusted file bytes -> TaskImage (raises ParamembedError naming `name`)."""
    if len(data) > limits.max_file_bytes:
        raise ParamembedError(f"{name}: file is {len(data) / 2**20:.1f} MB, over the {limits.max_file_bytes // 2**20} MB limit")
    image = open_image(data, name)
    if image.width * image.height > limits.max_image_pixels:
        raise ParamembedError(f"{name}: {image.width}x{image.height} pixels is over the {limits.max_image_pixels // 1_000_000} MP limit")
    if max(image.size) > limits.stored_side:
        image = image.copy()
        image.thumbnail((limits.stored_side, limits.stored_side), Image.Resampling.LANCZOS)
    digest = hashlib.sha1(image.mode.encode() + str(image.size).encode() + image.tobytes()).hexdigest()[:16]
    return TaskImage(name, image, digest)


def drawing_to_png(rgba: np.ndarray) -> bytes:
    """A canvas's (H, W, 4) uint8 RGBA drawing -> PNG bytes; raises when nothing was drawn."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ParamembedError(f"a drawing should be an (H, W, 4) RGBA array, got shape {arr.shape}")
    arr = arr.astype(np.uint8)
    # Blank = every channel flat: a transparent sheet, or the background colour alone.
    if int(np.ptp(arr.reshape(-1, arr.shape[2]), axis=0).max()) < 8:
        raise ParamembedError("the drawing is empty: draw something first")
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()


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
        is added then); otherwise returns messages for the members it skipped.
        """
        by_class, queries, problems = read_zip(data, name, self.limits)
        for class_name in by_class:
            if self._find(class_name) is None:
                if len(self.classes) >= self.limits.max_classes:
                    problems.append(f"{name}: class {class_name!r} not added: a task holds at most {self.limits.max_classes} classes")
                    continue
                self.add_class(class_name)
        for class_name, files in by_class.items():
            existing = self._find(class_name)
            if existing is not None:
                images, bad = decode_files(files, self.limits)
                problems += bad + self.add_images(existing, images)
        for label, files in queries.items():
            existing = self._find(label) if label is not None else None
            if label is not None and existing is None:
                problems.append(f"{name}: queries labelled {label!r} name no class in the task; added unlabelled")
            images, bad = decode_files(files, self.limits)
            problems += bad + self.add_queries(images, existing)
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
        )


def decode_files(files: list[tuple[str, bytes]], limits: TaskLimits = LIMITS) -> tuple[list[TaskImage], list[str]]:
    """Decode each (name, bytes); returns the good images and one message per bad file."""
    images, problems = [], []
    for name, data in files:
        try:
            images.append(decode_image(data, name, limits))
        except ParamembedError as err:
            problems.append(str(err))
    return images, problems


def read_zip(
    data: bytes, name: str = "archive.zip", limits: TaskLimits = LIMITS
) -> tuple[dict[str, list[tuple[str, bytes]]], dict[str | None, list[tuple[str, bytes]]], list[str]]:
    """A zip's members grouped by class: ({class: [(path, bytes)]}, {query label or None: [...]}, problems).

    Raises ParamembedError when the archive is unreadable or holds no usable image.
    """
    if len(data) > limits.max_zip_bytes:
        raise ParamembedError(f"{name}: {len(data) / 2**20:.1f} MB is over the {limits.max_zip_bytes // 2**20} MB limit for a zip")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ParamembedError(f"{name}: not a readable zip file ({err})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members:
            raise ParamembedError(f"{name}: the zip is empty; it should hold <class>/<image> files")
        if len(members) > limits.max_zip_members:
            raise ParamembedError(f"{name}: {len(members)} files is over the {limits.max_zip_members}-file limit for a zip")
        problems: list[str] = []
        kept: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
        for member in members:
            parts = tuple(p for p in PurePosixPath(member.filename.replace("\\", "/")).parts if p not in ("", "."))
            if any(p in JUNK_NAMES or p.startswith(".") or p.startswith("._") for p in parts):
                continue  # operating-system clutter: skipped without a message
            if ".." in parts:
                problems.append(f"{name}: {member.filename}: skipped (path leaves the archive)")
                continue
            if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
                problems.append(f"{name}: {member.filename}: skipped (not an image file: {', '.join(IMAGE_SUFFIXES)})")
                continue
            kept.append((parts, member))
        if not kept:
            raise ParamembedError(f"{name}: no image files found; expected <class>/<image> folders")
        # One folder around everything (zipping a folder makes one): look inside it.
        while all(len(parts) > 2 for parts, _ in kept) and len({parts[0] for parts, _ in kept}) == 1:
            kept = [(parts[1:], m) for parts, m in kept]
        by_class: dict[str, list[tuple[str, bytes]]] = {}
        queries: dict[str | None, list[tuple[str, bytes]]] = {}
        for parts, member in kept:
            top = parts[0].lower()
            if top in QUERY_FOLDERS and len(parts) in (2, 3):
                bucket = queries.setdefault(parts[1] if len(parts) == 3 else None, [])
            elif len(parts) == 2:
                bucket = by_class.setdefault(parts[0], [])
            elif len(parts) == 1:
                problems.append(f"{name}: {member.filename}: skipped (not inside a class folder)")
                continue
            else:
                problems.append(f"{name}: {member.filename}: skipped (nested too deep; expected <class>/<image>)")
                continue
            if member.flag_bits & 0x1:
                problems.append(f"{name}: {member.filename}: skipped (encrypted)")
                continue
            if member.file_size > limits.max_file_bytes:
                problems.append(f"{name}: {member.filename}: skipped ({member.file_size / 2**20:.1f} MB is over the {limits.max_file_bytes // 2**20} MB limit)")
                continue
            try:
                with archive.open(member) as stream:
                    # Read at most the limit plus one byte: a lying header cannot make us inflate more.
                    content = stream.read(limits.max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as err:
                problems.append(f"{name}: {member.filename}: skipped (damaged in the zip: {err})")
                continue
            bucket.append((member.filename, content))
        if not by_class:
            raise ParamembedError(f"{name}: no <class>/<image> folders found in the zip")
        for class_name in list(by_class):
            try:
                check_class_name(class_name, limits)
            except ParamembedError as err:
                problems.append(f"{name}: folder {class_name[:30]!r} skipped ({err})")
                del by_class[class_name]
        return by_class, queries, problems


# ---------------------------------------------------------------------- sampled tasks
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


# ---------------------------------------------------------------------- adapting to a task
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
    """

    method: str
    classifier: GeneratedClassifier
    probs: torch.Tensor
    accuracy: float | None
    adapt_ms: float
    predict_ms: float

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
    probs = model.predict(classifier, query).cpu() if len(query) else torch.zeros(0, task.ways)
    _sync(model.device)
    predict_ms = (time.perf_counter() - start) * 1000.0
    labelled = [(pred, label) for pred, label in zip(probs.argmax(1).tolist(), task.query_labels) if label is not None]
    accuracy = sum(p == t for p, t in labelled) / len(labelled) if labelled else None
    return TaskResult(method or model.method, classifier, probs, accuracy, adapt_ms, predict_ms)


def to_display(image: torch.Tensor) -> np.ndarray:
    """A model-input tensor (C, S, S) in [0, 1] -> an array st.image shows: (S, S) or (S, S, 3)."""
    arr = image.detach().cpu().float().clamp(0, 1).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
