"""A task saved as one zip, and opened again exactly as it was.

    data = save_task(task, labels, model="hyper", method="hyper", sample=settings)   # zip bytes
    opened = open_task(data)        # SavedTask: a TaskDraft (hand-made) or the sample settings, + model, method

The zip is an ImageFolder a person can read and any tool can open: one folder per class with its
support images as PNG (`<class>/01.png`), the queries in `query/<class>/` (labelled) or `query/`
(unlabelled), and `manifest.json`:

    {"format": "paramembed.task/1", "model": "hyper", "method": "hyper", "seed": 0,
     "source": "upload" | "sample", "sample": {ways, shots, queries, within, seed, index, data} | null,
     "classes": [{"folder": "cat", "name": "cat"}, ...],
     "support": [{"file": "cat/01.png", "class": 0}, ...],
     "queries": [{"file": "query/cat/01.png", "class": 0 | null, "name": "q.png"}, ...]}

PNG is lossless, so a hand-made task's images come back pixel for pixel (the same digests, the
same task key); a sampled task is sampled again from its settings, the exact same task.
A zip without a manifest is read as a plain ImageFolder task (`TaskDraft.add_zip`).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from paramembed.data.archives import iter_archive
from paramembed.errors import ParamembedError
from paramembed.tasks.draft import TaskDraft
from paramembed.tasks.images import decode_image
from paramembed.tasks.limits import LIMITS, TaskLimits
from paramembed.tasks.task import FewShotTask

FORMAT = "paramembed.task/1"
MANIFEST = "manifest.json"


@dataclass
class SavedTask:
    """What an opened zip restores: the draft (hand-made) or the sample settings, and what ran it."""

    draft: TaskDraft | None
    sample: dict | None
    model: str = ""
    method: str = ""
    seed: int | None = None
    problems: list[str] = field(default_factory=list)


def _png(image) -> bytes:
    """A PIL image, or a model-input tensor (C, S, S) in [0, 1], as PNG bytes."""
    if not isinstance(image, Image.Image):
        arr = image.detach().cpu().float().clamp(0, 1).numpy()
        arr = (arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)) * 255
        image = Image.fromarray(np.round(arr).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_task(task: FewShotTask, folders: list[str], model: str = "", method: str = "",
              sample: dict | None = None, support_names: list[str] | None = None) -> bytes:
    """The task as zip bytes; `folders` names each class's folder (what the page calls the class),
    `support_names` the support images' own file names, kept in the manifest."""
    if len(folders) != len(task.class_names) or len({f.casefold() for f in folders}) != len(folders):
        raise ParamembedError("save_task needs one distinct folder name per class")
    manifest = {
        "format": FORMAT, "model": model, "method": method, "seed": (sample or {}).get("seed"),
        "source": task.source, "sample": sample,
        "classes": [{"folder": f, "name": n} for f, n in zip(folders, task.class_names)],
        "support": [], "queries": [],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        counts: dict[str, int] = {}
        names = support_names or [""] * len(task.support)
        for image, label, image_name in zip(task.support, task.support_labels, names):
            counts[folders[label]] = counts.get(folders[label], 0) + 1
            path = f"{folders[label]}/{counts[folders[label]]:02d}.png"
            archive.writestr(path, _png(image))
            manifest["support"].append({"file": path, "class": label, "name": image_name})
        for i, (image, label) in enumerate(zip(task.query, task.query_labels), start=1):
            path = f"query/{folders[label]}/{i:02d}.png" if label is not None else f"query/{i:02d}.png"
            archive.writestr(path, _png(image))
            manifest["queries"].append({"file": path, "class": label, "name": task.query_names[i - 1]})
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    return buffer.getvalue()


def save_draft(draft: TaskDraft, model: str = "", method: str = "") -> bytes:
    """A draft as a task zip, as it stands (a class may still be empty: nothing is checked)."""
    names = list(draft.classes)
    task = FewShotTask(
        class_names=names,
        support=[img.image for images in draft.classes.values() for img in images],
        support_labels=[c for c, images in enumerate(draft.classes.values()) for _ in images],
        query=[img.image for img, _ in draft.queries],
        query_labels=[None if label is None else names.index(label) for _, label in draft.queries],
        query_names=[img.name for img, _ in draft.queries],
        key="draft",
    )
    support_names = [img.name for images in draft.classes.values() for img in images]
    return save_task(task, names, model, method, support_names=support_names)


def _read_members(data: bytes, name: str, limits: TaskLimits) -> dict[str, bytes]:
    """Every file of the zip by its path, read through the bounded archive reader."""
    if len(data) > limits.max_zip_bytes:
        raise ParamembedError(f"{name}: {len(data) / 2**20:.1f} MB is over the {limits.max_zip_bytes // 2**20} MB limit for a zip")
    members = {}
    for member in iter_archive(data, limits.archive_limits(), name):
        if member.problem is None:
            members["/".join(member.parts)] = member.data
    return members


def _int_or_none(value, ways: int, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < ways:
        raise ParamembedError(f"{what}: class {value!r} is not one of the task's {ways} classes")
    return value


def open_task(data: bytes, name: str = "task.zip", limits: TaskLimits = LIMITS) -> SavedTask:
    """A zip saved by `save_task` -> SavedTask; a zip without a manifest -> its ImageFolder draft."""
    members = _read_members(data, name, limits)
    if MANIFEST not in members:
        draft = TaskDraft(limits=limits)
        problems = draft.add_zip(data, name)
        return SavedTask(draft, None, problems=problems)
    try:
        manifest = json.loads(members[MANIFEST])
    except (ValueError, UnicodeDecodeError):
        raise ParamembedError(f"{name}: manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ParamembedError(f"{name}: manifest.json is not a paramembed task ({FORMAT})")
    model, method = str(manifest.get("model") or ""), str(manifest.get("method") or "")
    seed = manifest.get("seed") if isinstance(manifest.get("seed"), int) else None
    sample = manifest.get("sample")
    if manifest.get("source") == "sample" and isinstance(sample, dict):
        return SavedTask(None, sample, model, method, seed)
    try:
        classes = [str(c["name"]) for c in manifest["classes"]]
        support = [(str(s["file"]), _int_or_none(s["class"], len(classes), name), str(s.get("name") or ""))
                   for s in manifest["support"]]
        queries = [(str(q["file"]), _int_or_none(q.get("class"), len(classes), name), str(q.get("name") or ""))
                   for q in manifest["queries"]]
    except (KeyError, TypeError) as err:
        raise ParamembedError(f"{name}: manifest.json lacks {err}") from None
    draft = TaskDraft(limits=limits)
    problems: list[str] = []
    for class_name in classes:
        draft.add_class(class_name)
    for path, label, image_name in support:
        if label is None or path not in members:
            problems.append(f"{name}: {path}: missing from the zip")
            continue
        image = decode_image(members[path], image_name or path.rsplit("/", 1)[-1], limits)
        problems += draft.add_images(classes[label], [image])
    for path, label, query_name in queries:
        if path not in members:
            problems.append(f"{name}: {path}: missing from the zip")
            continue
        image = decode_image(members[path], query_name or path.rsplit("/", 1)[-1], limits)
        problems += draft.add_queries([image], None if label is None else classes[label])
    return SavedTask(draft, None, model, method, seed, problems)
