"""Photos as people bring them: a 5-way 5-shot task of raw camera-resolution files, adapted and predicted.

What a person waits for after dropping 100 photos into the playground: decoding the files,
resizing, the backbone, generating the classifier and classifying the queries, all from the
files' bytes. Every repeat uses 100 photos the model has never seen (nothing is remembered from
the previous repeat), and the shipped photo models run side by side on the same files.

The photos are real held-out Caltech-101 JPEGs when `../shared/data` is present; otherwise
procedural colour photos upscaled to a phone-like 400x300 and saved as JPEG, so the decoding and
resizing cost stays that of a camera-sized file.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from paramembed.bench.timing import median, timed
from paramembed.checkpoint import ASSETS
from paramembed.config import read_config_file
from paramembed.zoo import load_model

WAYS, SHOTS, QUERIES = 5, 5, 15  # 5 x (5 + 15) = 100 photos a task
TARGET_SECONDS = 1.5
MODELS = ("photo", "photo-scratch")
ROOT = Path(__file__).resolve().parents[2]
CALTECH = ROOT.parent / "shared" / "data" / "caltech101_85.tar.gz"


def caltech_tasks(repeats: int, seed: int = 0, per_class: int = SHOTS + QUERIES) -> list[list[tuple[str, bytes]]]:
    """`repeats` tasks of (class, JPEG bytes), `per_class` of each, from the held-out Caltech classes, no photo used twice."""
    holdout = set(read_config_file(ROOT / "configs" / "photo.yaml")["holdout"])
    by_class: dict[str, list[bytes]] = {}
    with tarfile.open(CALTECH) as tf:
        for member in tf:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) == 3 and parts[1] in holdout:
                by_class.setdefault(parts[1], []).append(tf.extractfile(member).read())
    rng = np.random.default_rng(seed)
    need = per_class
    tasks = []
    for _ in range(repeats):
        usable = sorted(c for c, files in by_class.items() if len(files) >= need)
        classes = rng.choice(usable, WAYS, replace=False)
        task = []
        for c in classes:
            task += [(str(c), by_class[c].pop()) for _ in range(need)]
        tasks.append(task)
    return tasks


def procedural_tasks(repeats: int, per_class: int = SHOTS + QUERIES) -> list[list[tuple[str, bytes]]]:
    from paramembed.data.photos import ProceduralPhotos

    photos = ProceduralPhotos("test", image_size=96)
    tasks = []
    for r in range(repeats):
        task = []
        for c in range(WAYS):
            for d in range(per_class):
                arr = photos.images([(r, c, d)])[0].transpose(1, 2, 0)
                img = Image.fromarray((arr * 255).astype(np.uint8)).resize((400, 300), Image.Resampling.BILINEAR)
                out = io.BytesIO()
                img.save(out, "JPEG", quality=90)
                task.append((f"class{c}", out.getvalue()))
        tasks.append(task)
    return tasks


def photos_section(device: torch.device, repeats: int = 5) -> dict:
    """Median seconds from 100 raw photo files to predictions, per shipped photo model."""
    source = "held-out Caltech-101 JPEGs" if CALTECH.exists() else "procedural photos saved as 400x300 JPEGs"
    tasks = caltech_tasks(repeats + 1) if CALTECH.exists() else procedural_tasks(repeats + 1)
    rows = []
    for name in MODELS:
        if not (ASSETS / name).is_dir():
            continue
        model = load_model(name, device=device)
        times, accuracies = [], []
        for repeat, task in enumerate(tasks):  # the first task warms up (lazy kernels), untimed
            model.__dict__.pop("_feature_memo", None)  # every photo new to the model
            support = [f for i, (_, f) in enumerate(task) if i % (SHOTS + QUERIES) < SHOTS]
            labels = [c for i, (c, _) in enumerate(task) if i % (SHOTS + QUERIES) < SHOTS]
            query = [f for i, (_, f) in enumerate(task) if i % (SHOTS + QUERIES) >= SHOTS]
            truth = [c for i, (c, _) in enumerate(task) if i % (SHOTS + QUERIES) >= SHOTS]

            def run():
                clf = model.adapt(support, labels)
                return clf, model.predict(clf, query)

            seconds, (clf, probs) = timed(run, device)
            if repeat == 0:
                continue
            times.append(seconds)
            accuracies.append(float(np.mean([clf.labels[p] == t for p, t in zip(probs.argmax(1).tolist(), truth)])))
        rows.append({"model": name, "input_px": model.config.input.image_size, "median_s": median(times),
                     "accuracy": float(np.mean(accuracies)), "met": median(times) <= TARGET_SECONDS})
    return {"source": source, "repeats": repeats, "target_s": TARGET_SECONDS, "rows": rows}
