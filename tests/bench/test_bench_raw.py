"""The raw-image adaptation section: files in, the generated path split into its parts, MAML-10 beside it."""

import pytest
import torch

from paramembed.bench.raw_images import SHOTS, WAYS, _packed_holdout_files, omniglot_tasks, raw_section
from paramembed.bench.report import format_raw
from paramembed.checkpoint import ASSETS


def test_packed_holdout_files_are_105px_one_bit_pngs():
    import io

    from PIL import Image

    files = _packed_holdout_files()
    first = next(iter(files.values()))[0]
    img = Image.open(io.BytesIO(first))
    assert img.size == (105, 105) and img.mode == "1"
    assert len(files) > 100 and all(len(v) >= SHOTS for v in files.values())


def test_tasks_never_reuse_a_file():
    _, tasks = omniglot_tasks(6)
    seen = [f for t in tasks for f in t.files]
    assert len(seen) == len(set(seen)) == 6 * WAYS * SHOTS
    assert all(len(set(t.labels)) == WAYS and len(t.files) == len(t.labels) == WAYS * SHOTS for t in tasks)


@pytest.mark.slow
def test_raw_section_times_every_family_and_prints(tmp_path):
    if not all((ASSETS / m).is_dir() for m in ("hyper", "maml", "photo-scratch", "photo")):
        pytest.skip("needs the shipped hyper, maml, photo-scratch and photo models")
    report = raw_section(torch.device("cpu"), repeats=2, imagenet_tasks=1)
    families = {f["generated"]: f for f in report["families"]}
    assert set(families) == {"hyper", "photo-scratch", "photo"}
    for fam in families.values():
        assert fam["tasks"] == (1 if fam["generated"] == "photo" else 2)
        assert fam["maml_over_generated"] > 1  # ten gradient steps cost more than one pass
        assert all(v > 0 for v in fam["generated_parts_ms"].values())
        assert {r["row"] for r in fam["rows"]} == {fam["generated"], "maml-10"}
        assert ("decode" in fam["generated_parts_ms"]) == (fam["generated"] != "hyper")  # photo models only
        rows = {r["row"]: r["median_ms"] for r in fam["rows"]}
        assert fam["target_budget_ms"] == pytest.approx((rows["maml-10"] - rows[fam["generated"]]) / 19)
    text = "\n".join(format_raw(report))
    assert "input gate" in text and all(f"MAML-10 / {name}" in text for name in families)


def test_a_missed_target_prints_what_it_would_take():
    family = {"family": "photos", "source": "files", "tasks": 2, "generated": "scratch", "target_ratio": 20.0,
              "rows": [{"row": "scratch", "median_ms": 15.0, "note": ""}, {"row": "maml-10", "median_ms": 180.0, "note": ""}],
              "generated_parts_ms": {"input_gate": 10.0, "backbone": 4.0, "generator": 0.5, "decode": 7.0},
              "maml_over_generated": 12.0, "met": False, "target_budget_ms": 165 / 19, "gate_budget_ms": 165 / 19 - 4.5}
    text = "\n".join(format_raw({"task": "5-way 5-shot", "families": [family]}))
    assert "input gate 10.0 ms (decoding the files 7.0 ms)" in text
    assert "scratch <= 8.7 ms; backbone + generator leave the input gate 4.2 ms against 7.0 ms of decoding alone" in text
    met = {**family, "met": True, "maml_over_generated": 25.0}
    assert "for 20x" not in "\n".join(format_raw({"task": "5-way 5-shot", "families": [met]}))
