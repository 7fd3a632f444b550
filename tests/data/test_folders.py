import tarfile

import numpy as np
import pytest
from PIL import Image

from shared_data import OMNIGLOT, needs_omniglot
from paramembed.config import InputSpec
from paramembed.data.episodes import TaskSampler
from paramembed.data.folders import FolderDataset
from paramembed.data.registry import get_dataset
from paramembed.errors import ParamembedError


def make_folder(root, classes=3, per_class=4, nested=False):
    for c in range(classes):
        folder = root / ("alpha" if nested else "") / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.full((20, 20), 255, np.uint8)
            arr[2 + c * 5 : 6 + c * 5, 2 + i : 12 + i] = 0
            Image.fromarray(arr).save(folder / f"{i}.png")
    return root


def test_image_folder_layout(tmp_path):
    ds = FolderDataset(make_folder(tmp_path / "d"), InputSpec())
    assert ds.num_groups == 1 and ds.num_classes(0) == 3 and ds.num_drawings(0, 1) == 4
    assert ds.images([(0, 0, 0), (0, 2, 3)]).shape == (2, 1, 28, 28)
    assert ds.class_name(0, 2) == "class2"


def test_omniglot_layout_and_archive(tmp_path):
    root = make_folder(tmp_path / "images_background", nested=True)
    archive = tmp_path / "set.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="omniglot/images_background")
    ds = FolderDataset(archive, InputSpec())
    assert ds.group_name(0) == "alpha" and ds.num_classes(0) == 3
    assert ds.class_name(0, 0) == "class0"


def test_unreadable_image_is_named(tmp_path):
    root = make_folder(tmp_path / "d")
    (root / "class1" / "broken.png").write_bytes(b"nope")
    with pytest.raises(ParamembedError, match="broken.png: not an image"):
        FolderDataset(root, InputSpec())


def test_too_few_classes_or_images(tmp_path):
    ds = get_dataset(str(make_folder(tmp_path / "d", classes=3, per_class=4)), "test", InputSpec())
    with pytest.raises(ParamembedError, match="5-way task needs 5"):
        TaskSampler(ds, queries=1).check(5, 1)
    with pytest.raises(ParamembedError, match="at least 6 images"):
        TaskSampler(ds, queries=5).check(2, 1)


def test_missing_folder(tmp_path):
    with pytest.raises(ParamembedError, match="unknown dataset"):
        get_dataset(str(tmp_path / "nope"), "test", InputSpec())


@needs_omniglot()
@pytest.mark.slow
def test_real_omniglot_background_set():
    ds = get_dataset(str(OMNIGLOT), "test", InputSpec())
    assert ds.num_groups == 30
    assert sum(ds.num_classes(g) for g in range(ds.num_groups)) == 964
    task = TaskSampler(ds, queries=5, within_alphabet=1.0).sample(0, 20, 1)
    assert len(set(task.groups)) == 1 and task.support.shape == (20, 1, 28, 28)
    assert 0.05 < float(task.support.mean()) < 0.35  # light ink on dark, like the procedural glyphs
