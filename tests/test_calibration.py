"""Temperature scaling, ECE and the low-confidence threshold (paramembed.calibration), and the zoo's hook."""

import json
import shutil

import numpy as np
import pytest
import torch

from paramembed.calibration import (
    Calibration, ece, fit_temperature, mark_threshold, marked_shares, read_calibration, reliability_svg, top_confidence,
)
from paramembed.checkpoint import ASSETS
from paramembed.errors import ParamembedError


def test_fit_recovers_the_temperature_that_made_the_labels():
    torch.manual_seed(0)
    logits = torch.randn(20000, 5) * 3.0
    labels = torch.distributions.Categorical(logits=logits / 2.0).sample()  # the true temperature is 2
    t = fit_temperature([logits], [labels])
    assert abs(t - 2.0) < 0.1
    before = top_confidence([torch.softmax(logits, -1)], [labels])
    after = top_confidence([torch.softmax(logits / t, -1)], [labels])
    assert ece(*after) < 0.02 < ece(*before)


def test_the_threshold_marks_few_right_answers_and_most_wrong_ones():
    rng = np.random.default_rng(0)
    right = rng.random(5000) < 0.8
    conf = np.where(right, rng.uniform(0.5, 1.0, 5000), rng.uniform(0.2, 0.7, 5000))
    t = mark_threshold(conf, right)
    wrong_marked, right_marked = marked_shares(conf, right, t)
    assert right_marked <= 0.2 + 1e-9 and wrong_marked >= 0.7


def test_a_model_folder_with_calibration_json_predicts_calibrated_probabilities(tmp_path):
    from paramembed import load_model

    if not (ASSETS / "hyper" / "model.safetensors").is_file():
        pytest.skip("no shipped model")
    for name in ("model.safetensors", "config.json"):
        shutil.copy(ASSETS / "hyper" / name, tmp_path / name)
    plain = load_model(str(tmp_path), device="cpu")
    Calibration(temperature=3.0, mark_below=0.5).save(tmp_path)
    hot = load_model(str(tmp_path), device="cpu")
    assert plain.temperature == 1.0 and hot.temperature == 3.0 and hot.calibration.mark_below == 0.5
    images = torch.rand(6, 1, 28, 28)
    clf = plain.adapt(images[:4], [0, 0, 1, 1])
    p1, p3 = plain.predict(clf, images[4:]), hot.predict(clf, images[4:])
    assert torch.equal(p1.argmax(-1), p3.argmax(-1)) and (p3.max(-1).values <= p1.max(-1).values + 1e-6).all()


def test_a_bad_calibration_file_is_one_clear_error(tmp_path):
    (tmp_path / "calibration.json").write_text(json.dumps({"temperature": -1}))
    with pytest.raises(ParamembedError, match="temperature"):
        read_calibration(tmp_path)
    (tmp_path / "calibration.json").write_text("{not json")
    with pytest.raises(ParamembedError, match="not a calibration file"):
        read_calibration(tmp_path)


def test_the_reliability_diagram_is_an_svg():
    svg = reliability_svg([[0.9, 1.0, 0.95, 0.94, 100]], "hyper")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "hyper" in svg
