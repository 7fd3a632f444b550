"""The pre-training benchmark times the real pipeline's functions and reports its FLOP-bound share."""

import torch

from paramembed.bench.pretraining import PIPELINES, pretraining_section
from paramembed.bench.report import format_pretraining


def test_both_pipelines_are_timed_against_their_flop_bound():
    machine = {"matmul_flops": 5e10}
    result = pretraining_section(machine, torch.device("cpu"), quick=True)
    assert set(result) == set(PIPELINES)
    glyphs, photos = result["omniglot x4 rotations"], result["tiny-imagenet"]
    assert glyphs["classes"] == 753 * 4 and photos["classes"] == 120
    for r in result.values():
        assert r["images_per_s"] > 0 and r["flops_per_image"] > 1e6  # a Conv-4 step is megaflops per image
        assert abs(r["bound_images_per_s"] - machine["matmul_flops"] / r["flops_per_image"]) < 1e-6 * r["bound_images_per_s"]
        assert abs(r["fraction_of_bound"] - r["images_per_s"] / r["bound_images_per_s"]) < 1e-9
        assert 0 < r["data_fraction"] <= 1.5  # building a batch is part of a step (timing noise aside)
    # Colour 32x32 inputs cost more arithmetic per image than grey 28x28 ones.
    assert photos["flops_per_image"] > glyphs["flops_per_image"]
    text = "\n".join(format_pretraining(result))
    assert text.startswith("PRE-TRAINING") and "omniglot x4 rotations" in text and "tiny-imagenet" in text
    assert "(target 50%)" in text
