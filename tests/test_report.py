import pytest

from paramembed import report
from paramembed.errors import ParamembedError


def cells(mean):
    return [{"ways": w, "shots": s, "mean": mean, "ci95": 0.01, "episodes": 1000, "seconds": 1.0} for w, s in report.GLYPH_SETTINGS]


def test_markdown_has_rows_and_the_published_anchors():
    text = report.render_markdown({"omniglot": {"hyper": cells(0.9)}, "procedural": {"hyper": cells(0.95)}})
    assert "| hyper | 90.0 ± 1.0 | 90.0 ± 1.0 | 90.0 ± 1.0 | 90.0 ± 1.0 | 1000 |" in text
    assert "Prototypical Networks" in text and "*98.8*" in text
    assert text.index("procedural test alphabets") < text.index("held-out alphabets, random classes")


def test_photo_anchors_sit_under_the_held_out_photo_table():
    photo = [{"ways": w, "shots": s, "mean": 0.6, "ci95": 0.01, "episodes": 1000, "seconds": 1.0} for w, s in report.PHOTO_SETTINGS]
    text = report.render_markdown({"tiny-imagenet": {"photo": photo}})
    assert "CIFAR-FS" in text and "*72.0*" in text and "FC100" in text


def test_held_out_benchmarks_read_their_split_from_the_configs():
    from paramembed.config import read_config_file

    holdout = read_config_file(report.CONFIGS / "glyph-backbone.yaml")["holdout"]
    assert len(holdout) == 5
    for name in ("hyper", "latent", "proto", "maml"):
        assert read_config_file(report.CONFIGS / f"{name}.yaml")["holdout"] == holdout


def test_wall_minutes_leaves_out_interruptions():
    records = [{"time": t} for t in (0, 60, 120, 10_000, 10_060)]
    assert report.wall_minutes(records) == pytest.approx(4.0)  # 3 one-minute gaps + the estimated first one


def test_readme_is_rewritten_between_markers_only(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n")
    monkeypatch.setattr(report, "README", readme)
    report.write_readme({"procedural": {"proto": cells(0.5)}})
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text and "| proto | 50.0" in text
    readme.write_text("no markers")
    with pytest.raises(ParamembedError, match="markers"):
        report.write_readme({})


def test_results_merge_across_model_files(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    (tmp_path / "a.json").write_text('{"procedural": {"a": []}}')
    (tmp_path / "b.json").write_text('{"procedural": {"b": []}, "omniglot": {"b": []}}')
    assert report.read_results() == {"procedural": {"a": [], "b": []}, "omniglot": {"b": []}}


def test_targets_say_met_or_how_far_short():
    results = {"omniglot": {"hyper": cells(0.995)}, "omniglot-within": {"hyper": cells(0.85)}}
    text = report.render_targets(results)
    assert "99.5 ± 1.0% against a target of 99%: met" in text
    assert "85.0 ± 1.0% against a target of 88%: **not met** (3.0 points short)" in text
    assert "Tiny-ImageNet" not in text  # no figure, no line
