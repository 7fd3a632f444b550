"""The explorer's figures, built without Streamlit: what a selection reads back, and the order of shot counts."""

import numpy as np

from paramembed.app import explorer_figures as F
from paramembed.embeddings import ClassEmbeddings


def embeddings(n: int = 6) -> ClassEmbeddings:
    rng = np.random.default_rng(0)
    return ClassEmbeddings(rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), rng.normal(size=(n, 3)),
                           np.array([f"a{i % 2}/c{i}" for i in range(n)]), np.array([f"a{i % 2}" for i in range(n)]),
                           np.array([1, 10] * (n // 2)), np.arange(n), np.zeros((n, 10, 1, 8, 8), np.uint8), "hyper")


def test_every_point_carries_its_row_its_group_and_its_shots_for_selection_and_hover():
    emb = embeddings()
    rows = np.array([5, 2, 0])
    fig = F.class_scatter(emb, rows, np.arange(6, dtype=np.float32).reshape(3, 2), "alphabet", np.zeros(3, bool),
                          thumbnails=False, group_word="alphabet")
    points = {tuple(c) for trace in fig.data for c in trace.customdata}
    assert points == {(5, "a1", "10"), (2, "a0", "1"), (0, "a0", "1")}
    assert [trace.name for trace in fig.data] == ["a1", "a0"]  # in order of first appearance
    assert all("alphabet=%{customdata[1]}" in trace.hovertemplate for trace in fig.data)


def test_the_agreement_boxes_go_by_shot_count_not_by_text():
    fig = F.agreement_box(np.linspace(0, 1, 8), np.array([10, 2, 5, 1, 10, 2, 5, 1]))
    assert list(fig.layout.xaxis.categoryarray) == ["1", "2", "5", "10"]
