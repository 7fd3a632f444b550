"""Unit tests for paramembed.curves: which stage and data a run's curves come from."""

import json

from paramembed.curves import RunInfo, curve_runs, dataset_name, run_info, validation_label


def test_dataset_names():
    assert dataset_name(".data/omniglot_background.tar.gz") == ("Omniglot", "alphabets")
    assert dataset_name("/x/tiny_imagenet32_150.tar.gz") == ("Tiny-ImageNet", "classes")
    assert dataset_name("procedural") == ("procedural glyphs", "alphabets")
    assert dataset_name("/data/flowers.zip") == ("flowers", "classes")
    assert dataset_name("") == ("", "classes")


def test_run_info_reads_the_config(tmp_path):
    train = {"stage": "pretrain", "data": "omniglot.zip", "holdout": ["Korean"], "batch_size": 64}
    (tmp_path / "config.json").write_text(json.dumps({"train": train}))
    info = run_info(tmp_path)
    assert (info.stage, info.data, info.holdout, info.unit) == ("pretrain", "Omniglot", ["Korean"], "alphabets")
    assert info.x_title == "pre-training steps (batches of 64 images)"
    (tmp_path / "config.json").write_text("{not json")
    assert run_info(tmp_path) == RunInfo() and RunInfo().x_title == "episodes (tasks seen)"
    assert run_info(tmp_path / "missing").stage == "meta"


def test_validation_label_says_what_it_knows():
    record = {"ways": 20, "shots": 1}
    assert validation_label(RunInfo(data="Omniglot", holdout=["A", "B"], unit="alphabets"), record) == \
        "2 held-out Omniglot alphabets, 20-way 1-shot"
    assert validation_label(RunInfo(data="flowers"), record) == "every 5th class of flowers (never trained on), 20-way 1-shot"
    assert validation_label(RunInfo(data="procedural glyphs"), record).startswith("procedural glyphs' validation split")
    assert validation_label(RunInfo(), {"data": "held-out classes", "ways": 5, "shots": 5}) == "held-out classes, 5-way 5-shot"
    assert validation_label(RunInfo(), {}) == "validation tasks"


def test_curve_runs_label_backbones_apart_from_runs(tmp_path):
    for base, name in ((tmp_path / "assets", "hyper"), (tmp_path / "backbones", "glyph-backbone"), (tmp_path / "runs", "glyph-backbone")):
        (base / name).mkdir(parents=True)
        (base / name / "metrics.jsonl").write_text("")
    runs = curve_runs(tmp_path / "runs", assets=tmp_path / "assets", backbones=tmp_path / "backbones")
    assert [r.label for r in runs] == ["shipped: hyper", "shipped backbone: glyph-backbone", "glyph-backbone"]
    assert [r.source for r in runs] == ["shipped", "backbone", "run"]
