import pytest

from paramembed import report
from paramembed.errors import ParamembedError


def cells(mean):
    return [{"ways": w, "shots": s, "mean": mean, "ci95": 0.01, "episodes": 1000, "seconds": 1.0} for w, s in report.GLYPH_SETTINGS]


def test_markdown_has_rows_and_the_published_anchors():
    text = report.render_markdown({"omniglot": {"hyper": cells(0.9)}, "procedural": {"hyper": cells(0.95)}})
    assert "| hyper | 90.0 ± 1.0 | 90.0 ± 1.0 | 90.0 ± 1.0 | 90.0 ± 1.0 | 1000 |" in text
    assert "Prototypical Networks" in text and "*98.8*" in text
    assert text.index("procedural test alphabets") < text.index("real Omniglot, random classes")


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
    results = {"procedural": {"hyper": cells(0.96)}, "omniglot-within": {"hyper": cells(0.70)}}
    text = report.render_targets(results)
    assert "96.0% against a target of 95%: met" in text
    assert "70.0% against a target of 75%: **not met** (5.0 points short)" in text
    assert "random classes" not in text  # no figure, no line
