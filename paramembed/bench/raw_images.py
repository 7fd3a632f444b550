"""Adaptation from raw image files: what `model.adapt` costs when a person hands it files, against 10-step MAML.

The adaptation table times preprocessed tensors; a person brings files. Here every method reads
the same files' bytes, new ones each repeat (nothing remembered from the last), through the one
input gate. The generated path's time is split into the input gate, the backbone and the
generator, so its share stays visible.

- Handwriting: real Omniglot characters as their 105x105 PNG files (`../shared/data` when present;
  else the held-out alphabets packed in `assets/`, re-encoded at 105x105). `hyper` against the
  shipped MAML model at 10 inner steps.
- Photos: camera-resolution JPEGs (see `photos.py`). `photo-scratch` (the generator on a Conv-4 at
  32x32) against 10-step MAML on a Conv-4 of the same shape. No MAML photo model is shipped: the
  MAML row is an untrained network, timed only (its time does not depend on its weights).
  A JPEG's entropy decoding stays whatever its draft scale, so 25 of them are a floor that the
  small Conv-4 cannot hide: a photo family's decoding is timed on its own, and a family that misses
  the target is printed with what the target leaves its input gate.
- Photos through the shipped default, `photo` (prototypes refined by the queries, on a frozen
  ImageNet EfficientNet-Lite0 at 128 px), against MAML's 10 steps through every weight of the same
  network, timed only. That costs seconds a task, so it runs on `imagenet_tasks` tasks.
"""

from __future__ import annotations

import dataclasses
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from paramembed.bench.adaptation import with_maml_steps
from paramembed.bench.photos import CALTECH, ROOT, caltech_tasks, procedural_tasks
from paramembed.bench.timing import median, timed
from paramembed.checkpoint import ASSETS
from paramembed.data.preprocess import images_to_batch, open_image
from paramembed.models.fewshot import FewShotModel
from paramembed.zoo import load_model

WAYS, SHOTS = 5, 5
MAML_STEPS = 10
TARGET_RATIO = 20.0  # the generated path >= 20x faster than 10-step MAML (issue 22 item 3)
OMNIGLOT = ROOT.parent / "shared" / "data" / "omniglot_background.tar.gz"  # beside CALTECH
GLYPH_SIDE = 105  # Omniglot's own file size
IMAGENET_MAML_TASKS = 3  # MAML-10 through all of EfficientNet-Lite0: 5-25 s a task on this CPU

Files = list[bytes]


@dataclass(frozen=True)
class RawTask:
    """One 5-way 5-shot task as files: support (25 file bytes) and their labels."""

    files: Files
    labels: list[str]


def omniglot_tasks(count: int, seed: int = 0) -> tuple[str, list[RawTask]]:
    """`count` tasks of real 105x105 handwriting, no file used twice; (where they came from, tasks)."""
    rng = np.random.default_rng(seed)
    if OMNIGLOT.exists():
        by_class: dict[str, Files] = {}
        with tarfile.open(OMNIGLOT) as tf:
            for member in tf:
                if member.isfile() and member.name.endswith(".png"):
                    by_class.setdefault(str(Path(member.name).parent), []).append(tf.extractfile(member).read())
                if len(by_class) > count * WAYS + 1:  # enough classes read: the archive is long
                    break
        source = "real Omniglot PNGs (105x105, ../shared/data)"
    else:
        by_class = _packed_holdout_files()
        source = "the packed held-out Omniglot alphabets, re-encoded as 105x105 PNGs"
    names = sorted(c for c, files in by_class.items() if len(files) >= SHOTS)
    tasks = []
    for i in range(count):  # each task its own classes while there are enough: no file read twice
        classes = [names[(i * WAYS + j) % len(names)] for j in range(WAYS)]
        files = [(c, f) for c in classes for f in by_class[c][:SHOTS]]
        files = [files[k] for k in rng.permutation(len(files))]
        tasks.append(RawTask([f for _, f in files], [c for c, _ in files]))
    return source, tasks


def _packed_holdout_files() -> dict[str, Files]:
    """The packed held-out characters (ink bits, see `paramembed.data.packed`) as dark-on-white PNG files."""
    from paramembed.data.packed import HOLDOUT_FILE

    with np.load(HOLDOUT_FILE, allow_pickle=False) as packed:
        side, bits, counts = int(packed["side"]), packed["bits"], packed["counts"].tolist()
    pixels = np.unpackbits(bits, axis=1)[:, : side * side].reshape(-1, side, side)
    out: dict[str, Files] = {}
    start = 0
    for c, count in enumerate(counts):
        for k in range(start, start + count):
            img = Image.fromarray(((1 - pixels[k]) * 255).astype(np.uint8)).resize((GLYPH_SIDE, GLYPH_SIDE), Image.Resampling.NEAREST)
            buf = io.BytesIO()
            img.convert("1").save(buf, "PNG")  # Omniglot's own files are 1-bit PNGs
            out.setdefault(f"class{c}", []).append(buf.getvalue())
        start += count
    return out


def photo_tasks(count: int) -> tuple[str, list[RawTask]]:
    """`count` tasks of camera-resolution photos, no photo used twice (the photos section's sources)."""
    source = "held-out Caltech-101 JPEGs" if CALTECH.exists() else "procedural photos saved as 400x300 JPEGs"
    raw = caltech_tasks(count, per_class=SHOTS) if CALTECH.exists() else procedural_tasks(count, per_class=SHOTS)
    return source, [RawTask([f for _, f in task], [c for c, _ in task]) for task in raw]


def untrained_maml(reads_like: FewShotModel, steps: int) -> FewShotModel:
    """A fresh MAML network with the same backbone and input as `reads_like`: timing only."""
    config = dataclasses.replace(reads_like.config, generator="maml", maml_steps=steps, query_steps=0)
    return FewShotModel(config).to(reads_like.device).eval()


def generated_parts(model: FewShotModel, task: RawTask) -> dict[str, float]:
    """Seconds of the generated path's three parts on one task: input gate, backbone, generator; for a
    photo model also the decoding inside the gate (`open_image` on every file: parsing, libjpeg at reduced
    scale, the checks), the part no resizing or batching can remove."""
    device = model.device
    spec = model.config.input
    model.__dict__.pop("_feature_memo", None)
    gate, batch = timed(lambda: images_to_batch(task.files, spec).to(device), device)
    decode = {"decode": timed(lambda: [open_image(f, spec=spec) for f in task.files], device)[0]} if spec.channels == 3 else {}
    with torch.inference_mode():
        backbone, feats = timed(lambda: model.features(batch), device)  # (S, D)
        ids = {name: i for i, name in enumerate(dict.fromkeys(task.labels))}
        labels = torch.tensor([ids[name] for name in task.labels], device=device)
        generator, _ = timed(lambda: model.classifier_from_features(feats[None], labels[None], len(ids)), device)
    return {"input_gate": gate, "backbone": backbone, "generator": generator, **decode}


def time_rows(rows: dict[str, FewShotModel], tasks: list[RawTask], device: torch.device) -> dict[str, list[float]]:
    """Seconds of `model.adapt(files, labels)` per task and row, rows interleaved task by task (a load change hits all)."""
    times: dict[str, list[float]] = {name: [] for name in rows}
    for i, task in enumerate(tasks):
        for name, model in rows.items():
            model.__dict__.pop("_feature_memo", None)  # every file new to the model
            seconds, _ = timed(lambda: model.adapt(task.files, task.labels), device)
            if i > 0:  # the first task warms up (first-call allocations), untimed
                times[name].append(seconds)
    return times


def family_section(label: str, source: str, generated: str, rows: dict[str, FewShotModel], tasks: list[RawTask],
                   device: torch.device, notes: dict[str, str]) -> dict:
    times = time_rows(rows, tasks, device)
    parts = [generated_parts(rows[generated], task) for task in tasks[1:]]
    out_rows = [{"row": name, "median_ms": 1e3 * median(ts), "note": notes.get(name, "")} for name, ts in times.items()]
    by = {r["row"]: r for r in out_rows}
    maml = f"maml-{MAML_STEPS}"
    ratio = by[maml]["median_ms"] / by[generated]["median_ms"]
    split = {part: 1e3 * median([p[part] for p in parts]) for part in parts[0]}
    # What the target asks of the generated path when MAML keeps the work it does beyond it:
    # (g + extra) / g >= T  <=>  g <= extra / (T - 1); the gate gets what backbone and generator leave.
    extra = by[maml]["median_ms"] - by[generated]["median_ms"]
    budget = extra / (TARGET_RATIO - 1)
    return {"family": label, "source": source, "tasks": len(tasks) - 1, "rows": out_rows, "generated": generated,
            "generated_parts_ms": split, "maml_over_generated": ratio, "target_ratio": TARGET_RATIO,
            "met": ratio >= TARGET_RATIO, "target_budget_ms": budget,
            "gate_budget_ms": budget - split["backbone"] - split["generator"]}


def raw_section(device: torch.device, repeats: int = 20, imagenet_tasks: int = IMAGENET_MAML_TASKS,
                log: Callable[[str], None] = lambda s: None) -> dict:
    """Handwriting (hyper vs MAML-10), photos on a Conv-4 (photo-scratch vs MAML-10 of its shape) and
    photos on the ImageNet backbone (photo vs MAML-10 through it, `imagenet_tasks` tasks; 0 leaves it out)."""
    out = {"task": f"{WAYS}-way {SHOTS}-shot", "families": []}
    if (ASSETS / "hyper").is_dir() and (ASSETS / "maml").is_dir():
        source, tasks = omniglot_tasks(repeats + 1)
        hyper, maml = load_model("hyper", device=device), load_model("maml", device=device)
        log(f"raw images: handwriting from {source}")
        out["families"].append(family_section("handwriting", source, "hyper", {
            "hyper": hyper, f"maml-{MAML_STEPS}": with_maml_steps(maml, MAML_STEPS)}, tasks, device, {}))
    maml = f"maml-{MAML_STEPS}"
    if (ASSETS / "photo-scratch").is_dir() or (ASSETS / "photo").is_dir():
        source, tasks = photo_tasks(repeats + 1)  # both photo families read the same files
    if (ASSETS / "photo-scratch").is_dir():
        scratch = load_model("photo-scratch", device=device)
        log(f"raw images: photos from {source}")
        out["families"].append(family_section("photos, Conv-4 at 32 px", source, "photo-scratch", {
            "photo-scratch": scratch, maml: untrained_maml(scratch, MAML_STEPS)}, tasks, device, {
            maml: "untrained Conv-4 of photo-scratch's shape: time only"}))
    if (ASSETS / "photo").is_dir() and imagenet_tasks > 0:
        photo = load_model("photo", device=device)
        log(f"raw images: photos through the ImageNet backbone, MAML-10 through all of it ({imagenet_tasks} tasks)")
        out["families"].append(family_section("photos, ImageNet EfficientNet-Lite0 at 128 px (the default)", source, "photo", {
            "photo": photo, maml: untrained_maml(photo, MAML_STEPS)}, tasks[: imagenet_tasks + 1], device, {
            maml: "10 steps through every weight of the same network: time only"}))
    return out
