"""The playground's results, rendered: no model math here, only what `paramembed` computed.

    view = TaskView.of(task, support, query)   # short labels, hover names, thumbnails
    support_set(view, spec)                     # each class's label and its images as the model reads them
    summary(result, measured_cell)              # ONE accuracy figure, adaptation and prediction times
    query_results(view, result, top_k)          # result cards; over 8 ways a confusion matrix + the mistakes
    why_this_prediction(view, result, explain)  # one query's path: features -> cosines -> logits -> softmax
    parameters(view, clf)                       # the generated weights, one row per class in support order

Marks are Material icons (rendered from Streamlit's own font), never emoji: without an emoji
font, emoji show as empty boxes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from paramembed.app.display import md_text, plural, png_bytes, short_labels, thumbnail
from paramembed.app.layout import Style
from paramembed.app.messages import say
from paramembed.explain import (
    Explanation, confidence, confusion_matrix, deciding_features, most_like, near_chance, nearest_support,
)
from paramembed.tasks import to_display

RIGHT, WRONG, UNLABELLED, LOW = ":material/check_circle:", ":material/cancel:", ":material/help:", ":material/warning:"
CARDS_UP_TO_WAYS = 8  # above this, a card per query is a wall: a confusion matrix + the misclassified ones
CARDS_PER_ROW = 5
QUERY_THUMB, CLASS_THUMB = 72, 36  # pixels


@dataclass
class TaskView:
    """What every renderer shows about a task: labels, full names and thumbnails, in class order."""

    task: object
    labels: list[str]  # short: the class's own name, or "Class A" for a sampled path
    names: list[str]  # the full names (hover help)
    class_thumbs: list[bytes]  # one PNG thumbnail per class: its first support image as the model reads it
    query_thumbs: list[bytes]
    support_thumbs: list[bytes] | None = None  # one per support image, in support order

    @classmethod
    def of(cls, task, support, query) -> "TaskView":
        first = [task.support_labels.index(c) for c in range(task.ways)]
        return cls(
            task,
            short_labels(task.class_names, task.source == "sample"),
            list(task.class_names),
            [png_bytes(thumbnail(to_display(support[i]))) for i in first],
            [png_bytes(thumbnail(to_display(q))) for q in query],
            [png_bytes(thumbnail(to_display(s))) for s in support],
        )

    def label(self, c: int) -> str:
        return self.labels[c]


def percent(x: float | None) -> str:
    return "n/a (no labelled queries)" if x is None else f"{x * 100:.1f}%"


def support_set(view: TaskView, spec, support, style: Style | None = None, title: str = "", origin: str = "") -> None:
    """The task in one line (its title, one thumbnail per class), then each class's support images as
    the model reads them, folded away (at 1280x720 the results must fit the first screen)."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    polarity = "light ink on dark" if spec.channels == 1 else "RGB centre crop"
    colour = "grayscale" if spec.channels == 1 else "colour"
    task = view.task
    left, middle, right = st.columns([3, 4, 3], vertical_alignment="center")
    left.markdown(f"**{title}**")
    if origin:
        left.caption(origin)
    middle.image(view.class_thumbs, width=style.support_thumb, caption=[md_text(label) for label in view.labels])  # captions are Markdown
    with right.expander(f"Support set as the model sees it ({spec.image_size}×{spec.image_size}, {colour}, {polarity})",
                        expanded=False):
        for c in range(task.ways):
            cols = st.columns([1, 5], vertical_alignment="center")
            cols[0].markdown(f"**{md_text(view.label(c))}**", help=md_text(view.names[c]) if view.names[c] != view.label(c) else None)
            images = [to_display(support[i]) for i, label in enumerate(task.support_labels) if label == c]
            cols[1].image(images, width=style.support_thumb, clamp=True)


def summary(result, heading: str, running: str, measured_line: str | None) -> None:
    """What runs and the task's accuracy (once), with the times, in one row; then how the model did
    on real held-out data, and a banner when the answers are near chance."""
    cols = st.columns([4, 1.3, 1.3, 1.3], vertical_alignment="center")
    with cols[0]:
        st.subheader(heading, anchor=False)
        st.markdown(running)
    cols[1].metric("Task accuracy", percent(result.accuracy),
                   help="share of the labelled queries classified right, on this task alone")
    cols[2].metric("Adaptation", f"{result.adapt_ms:.1f} ms", help="generating the classifier from the support set")
    cols[3].metric("Prediction", f"{result.predict_ms:.1f} ms", help="classifying every query")
    if len(result.probs):
        low, sure, chance = near_chance(result.probs, result.accuracy)
        if low:
            ways = result.probs.shape[1]
            text = (say("near_chance_accuracy", accuracy=percent(result.accuracy), chance=f"{chance:.0%}", ways=ways)
                    if result.accuracy is not None and result.accuracy < min(2 * chance, 0.5 + chance / 2)
                    else say("near_chance", sure=f"{sure:.0%}", chance=f"{chance:.0%}"))
            st.warning(text, icon=LOW)
    if result.reads_queries:
        st.caption(":material/hub: " + say("reads_queries"), help=say("reads_queries_help"))
    if measured_line:
        st.caption(measured_line)


def compare(method: str, model_label: str, result, others: list[str], slow: set[str],
            run: Callable[[str], tuple], task_key: str) -> None:
    """The same task by other methods; slow ones (gradient steps per task) only when asked."""
    rows = [{"method": method, "model": model_label, "accuracy": percent(result.accuracy),
             "adaptation (ms)": round(result.adapt_ms, 1)}]
    requested = st.session_state.setdefault("compare_requested", set())
    waiting = [m for m in others if m in slow and (task_key, m) not in requested]
    for other in others:
        if other in waiting:
            continue
        other_result, info = run(other)
        if other_result is None:
            st.info(info)
            continue
        rows.append({"method": other, "model": info.label, "accuracy": percent(other_result.accuracy),
                     "adaptation (ms)": round(other_result.adapt_ms, 1)})
    st.markdown("**Side by side on the same task**")
    st.dataframe(rows, hide_index=True, key="compare_table")
    if waiting:
        names = ", ".join(waiting)
        if st.button(f"Run {names} on this task", icon=":material/play_arrow:", key="compare_run",
                     help="these take gradient steps for every task: seconds, not milliseconds, so they run when asked"):
            requested.update((task_key, m) for m in waiting)
            st.rerun()


def _card(view: TaskView, result, i: int, top_k: int, style: Style, mark_below: float | None) -> None:
    task = view.task
    predicted = result.predictions[i]
    truth = task.query_labels[i]
    with st.container(border=True):
        # One image per column, each column as wide as its image: the two never overlap.
        a, b = st.columns(2, vertical_alignment="bottom")
        a.image(view.query_thumbs[i], width=style.query_thumb, caption=md_text(task.query_names[i]))
        b.image(view.class_thumbs[predicted], width=style.class_thumb)  # its label is in the verdict below
        text = f"Predicted: **{md_text(view.label(predicted))}**"
        if truth is None:
            st.info(text, icon=UNLABELLED)
        elif predicted == truth:
            st.success(text, icon=RIGHT)
        else:
            st.error(f"{text}  \ntrue: {md_text(view.label(truth))}", icon=WRONG)
        sure = confidence(result.probs[i], mark_below)
        if sure.low:
            st.badge(say("low_confidence"), icon=LOW, color="orange", help=sure.reason)
        for cls, p in result.top_k(i, top_k):
            st.progress(min(max(p, 0.0), 1.0), text=f"{md_text(view.label(cls))}: {p:.1%}")


def _cards(view: TaskView, result, indices: list[int], top_k: int, style: Style, mark_below: float | None) -> None:
    for start in range(0, len(indices), style.cards_per_row):
        cols = st.columns(style.cards_per_row)
        for col, i in zip(cols, indices[start : start + style.cards_per_row]):
            with col:
                _card(view, result, i, top_k, style, mark_below)


def query_results(view: TaskView, result, top_k: int, style: Style | None = None, mark_below: float | None = None) -> None:
    """`mark_below`: the calibrated model's "low confidence" threshold (None: the rule of thumb)."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    task = view.task
    if not task.query:
        st.info("Add query images to see predictions.")
        return
    if task.ways <= CARDS_UP_TO_WAYS:
        _cards(view, result, list(range(len(task.query))), top_k, style, mark_below)
        return
    correct = result.correct(task)
    matrix = confusion_matrix(result.predictions, task.query_labels, task.ways)
    fig = go.Figure(go.Heatmap(z=matrix, x=view.labels, y=view.labels, colorscale="Blues", text=matrix,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_layout(title="Confusion matrix (rows: true class, columns: predicted)", yaxis_autorange="reversed",
                      height=160 + 24 * task.ways, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key="confusion_matrix")
    shown = [i for i, ok in enumerate(correct) if ok is not True]
    right = sum(ok is True for ok in correct)
    st.markdown(f"{right} of {plural(task.labelled_queries, 'labelled query', 'labelled queries')} right; "
                f"below, only the {plural(len(shown), 'query', 'queries')} misclassified or unlabelled.")
    _cards(view, result, shown, top_k, style, mark_below)


def _rows_with_thumbnails(fig: go.Figure, view: TaskView) -> None:
    """Heatmap rows 0..N-1 top to bottom (support order), each with its class's thumbnail on the left."""
    n = len(view.labels)
    fig.update_yaxes(autorange="reversed", tickvals=list(range(n)), ticktext=view.labels, side="right")
    for c, thumb in enumerate(view.class_thumbs):
        fig.add_layout_image(source="data:image/png;base64," + base64.b64encode(thumb).decode(), xref="paper", yref="y", x=-0.01, y=c, sizex=0.08, sizey=0.9,
                             xanchor="right", yanchor="middle", sizing="contain", layer="above")


def parameters(view: TaskView, clf) -> None:
    st.caption(
        "What the generator produced for this task: one weight vector per class in the backbone's feature space, "
        "decoded from a per-class parameter embedding; logits = scale × cosine(query features, weights) + bias. "
        "Rows are the classes in support order."
    )
    n = len(view.labels)
    for key, title, z, scale in (
        ("weights_heatmap", "Generated weights", clf.weights[0], "RdBu"),
        ("embedding_heatmap", "Per-class parameter embeddings", clf.embedding[0], "Viridis"),
    ):
        columns = deciding_features(z)  # all of them up to 32; else the 32 that differ most between classes
        shown = z.float().cpu()[:, columns].numpy()
        what = (f"{z.shape[0]} classes × {z.shape[1]} features" if len(columns) == z.shape[1] else
                f"{z.shape[0]} classes × the {len(columns)} of {z.shape[1]:,} features that differ most between classes")
        fig = go.Figure(go.Heatmap(z=shown, x=[str(c) for c in columns.tolist()], y=list(range(n)), colorscale=scale,
                                   zmid=0.0 if scale == "RdBu" else None,
                                   customdata=np.array(view.names)[:, None].repeat(shown.shape[1], 1),
                                   hovertemplate="%{customdata}, feature %{x}: %{z:.3f}<extra></extra>",
                                   # Above the plot: the class labels take the right-hand side.
                                   colorbar=dict(orientation="h", x=1.0, xanchor="right", y=1.02, yanchor="bottom",
                                                 len=0.3, thickness=10)))
        fig.update_xaxes(type="category")
        fig.update_layout(title=f"{title} ({what})", height=110 + 36 * n, margin=dict(l=50, r=10, t=50, b=10))
        _rows_with_thumbnails(fig, view)
        st.plotly_chart(fig, key=key)
    st.markdown(f"Learned scale: **{float(clf.scale):.2f}** · bias range: "
                f"{float(clf.bias.min()):.3f} to {float(clf.bias.max()):.3f}")


def pick_query(view: TaskView, result) -> int:
    task = view.task
    return st.selectbox(
        "Query", range(len(task.query)), key="why_query",
        format_func=lambda i: f"{i + 1}. {task.query_names[i]} → predicted {view.label(result.predictions[i])}",
    )


def why_this_prediction(view: TaskView, why: Explanation, index: int, style: Style | None = None) -> None:
    """A sentence a class can follow first (the support images the query looks most like), then the maths."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    task = view.task
    predicted = why.prediction
    liked = most_like(why, task.support_labels)
    a, b = st.columns([1, 5], vertical_alignment="center")
    a.image(view.query_thumbs[index], width=style.query_thumb, caption=md_text(task.query_names[index]))
    with b:
        if liked == predicted:
            label = md_text(view.label(predicted))  # user text: shown literally, never as Markdown
            st.markdown(say("why_plain", label=label) + " " + say("why_sure", label=label, prob=f"{why.probs[predicted]:.0%}"))
        else:
            st.markdown(say("why_plain_other", label=md_text(view.label(liked)), predicted=md_text(view.label(predicted)),
                            prob=f"{why.probs[predicted]:.0%}"))
        nearest = nearest_support(why, task.support_labels, liked)
        support_thumbs = view.support_thumbs or []
        if nearest and support_thumbs:
            st.image([support_thumbs[i] for i, _ in nearest], width=style.query_thumb,
                     caption=[say("why_similarity", value=v) for _, v in nearest])
            st.caption(say("why_similarity_note"))
    with st.expander(say("why_maths"), icon=":material/functions:"):
        _why_maths(view, why)


def _why_maths(view: TaskView, why: Explanation) -> None:
    """One query's whole path, next to what the plain class means (prototypes) would have done."""
    predicted, proto = why.prediction, why.proto_prediction
    agree = "agree" if predicted == proto else f"disagree: the class means say **{md_text(view.label(proto))}**"
    rule = ("logit = scale × cosine + bias" if why.metric == "cosine"
            else "logit = normalised features · weight + bias (the fine-tuned linear head has no scale)")
    temperature = (f"; probabilities = softmax(logit / {why.temperature:.2f}), the model's calibrated temperature"
                   if why.temperature != 1.0 else "")
    st.markdown(f"Generated classifier: **{md_text(view.label(predicted))}** ({why.probs[predicted]:.1%}); "
                f"prototypes {agree}.  \n{rule}; scale **{why.scale:.2f}**, bias "
                f"{why.bias.min():+.3f} to {why.bias.max():+.3f}; prototypes: scale {why.proto_scale:.2f}, no bias"
                f"{temperature}.")
    columns = why.deciding.tolist()  # every feature, or the 32 that decide
    feature = go.Figure(go.Heatmap(z=why.feature[None, columns], x=[str(c) for c in columns], colorscale="Viridis",
                                   showscale=False, hovertemplate="feature %{x}: %{z:.3f}<extra></extra>"))
    shown = (f"{why.feature.size} numbers" if len(columns) == why.feature.size else
             f"the {len(columns)} of {why.feature.size:,} numbers where the class weights differ most")
    feature.update_xaxes(type="category")
    feature.update_layout(title=f"The query's features ({shown}, what both classifiers read)",
                          height=120, margin=dict(l=10, r=10, t=40, b=10), yaxis_visible=False)
    st.plotly_chart(feature, key="why_feature")
    fig = make_subplots(rows=1, cols=3, subplot_titles=("cosine to each class weight", "logit", "probability (softmax)"))
    for column, (generated, means) in enumerate(
        ((why.cosine, why.proto_cosine), (why.logits, why.proto_logits), (why.probs, why.proto_probs)), start=1
    ):
        for name, values, colour in (("generated weights", generated, "#1f77b4"), ("class means (prototypes)", means, "#aaaaaa")):
            fig.add_trace(go.Bar(x=view.labels, y=values, name=name, marker_color=colour, showlegend=column == 1,
                                 legendgroup=name, hovertext=view.names), row=1, col=column)
    fig.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=40, b=10), legend_orientation="h")
    st.plotly_chart(fig, key="why_chart")
    st.caption("How far each generated weight is from its class mean, cos(weight, mean): "
               + " · ".join(f"{md_text(view.label(c))} {v:.3f}" for c, v in enumerate(why.weight_vs_mean))
               + " (1.000 = the generator kept the average).")
