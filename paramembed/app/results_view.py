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

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from paramembed.app.cards import Card, cards_html, data_uri, message_html, support_html, thumbs_html
from paramembed.app.display import md_text, short_labels, thumbnail, thumbnail_bytes
from paramembed.app.layout import Style
from paramembed.app.messages import say, say_n
from paramembed.explain import (
    Explanation, confidence, confusion_matrix, deciding_features, most_like, near_chance, nearest_support,
)
from paramembed.tasks import to_display

LOW = ":material/warning:"  # the near-chance banner; the cards' marks are in paramembed.app.cards
CARDS_UP_TO_WAYS = 8  # above this, a card per query is a wall: a confusion matrix + the misclassified ones
CARDS_PER_ROW = 5
QUERY_THUMB, CLASS_THUMB = 72, 36  # pixels


@dataclass
class TaskView:
    """What every renderer shows about a task: labels, full names and thumbnails, in class order."""

    task: object
    labels: list[str]  # short: the class's own name, or "Class A" for a sampled path
    names: list[str]  # the full names (hover help)
    class_thumbs: list[bytes]  # one thumbnail per class (PNG, JPEG for colour): its first support image as the model reads it
    query_thumbs: list[bytes]
    support_thumbs: list[bytes] | None = None  # one per support image, in support order
    query_names: list[str] | None = None  # a sampled task's "query 1" in the session's language; else file names
    class_uris: list[str] | None = None  # the thumbnails as data URIs, for the HTML blocks (made once per task)
    query_uris: list[str] | None = None
    support_uris: list[str] | None = None

    @classmethod
    def of(cls, task, support, query) -> "TaskView":
        first = [task.support_labels.index(c) for c in range(task.ways)]
        class_thumbs = [thumbnail_bytes(thumbnail(to_display(support[i]))) for i in first]
        query_thumbs = [thumbnail_bytes(thumbnail(to_display(q))) for q in query]
        support_thumbs = [thumbnail_bytes(thumbnail(to_display(s))) for s in support]
        return cls(
            task,
            short_labels(task.class_names, task.source == "sample"),
            list(task.class_names),
            class_thumbs,
            query_thumbs,
            support_thumbs,
            [say("query_name", n=i + 1) for i in range(len(query))] if task.source == "sample" else list(task.query_names),
            [data_uri(t) for t in class_thumbs],
            [data_uri(t) for t in query_thumbs],
            [data_uri(t) for t in support_thumbs],
        )

    def label(self, c: int) -> str:
        return self.labels[c]

    def query_name(self, i: int) -> str:
        return (self.query_names or self.task.query_names)[i]


def percent(x: float | None) -> str:
    return say("no_labelled") if x is None else f"{x * 100:.1f}%"


def support_set(view: TaskView, spec, style: Style | None = None, title: str = "", origin: str = "") -> None:
    """The task in one line (its title, one thumbnail per class), then each class's support images as
    the model reads them, folded away (at 1280x720 the results must fit the first screen)."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    polarity = say("ink_light_on_dark") if spec.channels == 1 else say("rgb_centre_crop")
    colour = say("greyscale") if spec.channels == 1 else say("colour")
    task = view.task
    left, middle, right = st.columns([3, 4, 3], vertical_alignment="center")
    left.markdown(f"**{title}**")
    if origin:
        left.caption(origin)
    # HTML blocks with the task's thumbnails inline (paramembed.app.cards): no element per image, no fetch.
    with middle:
        st.html(thumbs_html(view.class_uris, style.support_thumb, captions=view.labels))
    with right.expander(say("support_as_seen", size=spec.image_size, colour=colour, polarity=polarity), expanded=False):
        st.html(support_html([(view.label(c), view.names[c] if view.names[c] != view.label(c) else None,
                               [view.support_uris[i] for i, label in enumerate(task.support_labels) if label == c])
                              for c in range(task.ways)], style.support_thumb))


def summary(result, heading: str, running: str, measured_line: str | None) -> None:
    """What runs and the task's accuracy (once), with the times, in one row; then how the model did
    on real held-out data, and a banner when the answers are near chance."""
    cols = st.columns([4, 1.3, 1.3, 1.3], vertical_alignment="center")
    with cols[0]:
        st.subheader(heading, anchor=False)
        st.markdown(running)
    cols[1].metric(say("task_accuracy"), percent(result.accuracy), help=say("task_accuracy_help"))
    cols[2].metric(say("adaptation"), say("milliseconds", ms=f"{result.adapt_ms:.1f}"), help=say("adaptation_help"))
    cols[3].metric(say("prediction"), say("milliseconds", ms=f"{result.predict_ms:.1f}"), help=say("prediction_help"))
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
    columns = say("col_method"), say("col_model"), say("col_accuracy"), say("col_adaptation")
    rows = [dict(zip(columns, (method, model_label, percent(result.accuracy), round(result.adapt_ms, 1))))]
    requested = st.session_state.setdefault("compare_requested", set())
    waiting = [m for m in others if m in slow and (task_key, m) not in requested]
    for other in others:
        if other in waiting:
            continue
        other_result, info = run(other)
        if other_result is None:
            st.info(info)
            continue
        rows.append(dict(zip(columns, (other, model_label_of(info), percent(other_result.accuracy),
                                       round(other_result.adapt_ms, 1)))))
    st.markdown(say("side_by_side"))
    st.dataframe(rows, hide_index=True, key="compare_table")
    if waiting:
        names = say("name_separator").join(waiting)
        if st.button(say("run_slow", names=names), icon=":material/play_arrow:", key="compare_run",
                     help=say("run_slow_help")):
            requested.update((task_key, m) for m in waiting)
            st.rerun()


def _card(view: TaskView, result, i: int, top_k: int, mark_below: float | None) -> Card:
    truth, predicted = view.task.query_labels[i], result.predictions[i]
    if truth is None:
        verdict, text = "unlabelled", message_html("predicted", label=view.label(predicted))
    elif predicted == truth:
        verdict, text = "right", message_html("predicted", label=view.label(predicted))
    else:
        verdict = "wrong"
        text = message_html("predicted_wrong", label=view.label(predicted), truth=view.label(truth))
    sure = confidence(result.probs[i], mark_below)
    return Card(view.query_uris[i], view.class_uris[predicted], view.query_name(i), verdict, text,
                confidence_reason(sure.reason) if sure.low else None,
                [(say("top_k_bar", label=view.label(cls), prob=f"{p:.1%}"), p) for cls, p in result.top_k(i, top_k)])


def _cards(view: TaskView, result, indices: list[int], top_k: int, style: Style, mark_below: float | None) -> None:
    """The query cards, one element for all of them (see paramembed.app.cards: why not ten each)."""
    cards = [_card(view, result, i, top_k, mark_below) for i in indices]
    st.html(cards_html(cards, style.cards_per_row, style.query_thumb, style.class_thumb))


def query_results(view: TaskView, result, top_k: int, style: Style | None = None, mark_below: float | None = None) -> None:
    """`mark_below`: the calibrated model's "low confidence" threshold (None: the rule of thumb)."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    task = view.task
    if not task.query:
        st.info(say("predictions_need_queries"))
        return
    if task.ways <= CARDS_UP_TO_WAYS:
        _cards(view, result, list(range(len(task.query))), top_k, style, mark_below)
        return
    correct = result.correct(task)
    matrix = confusion_matrix(result.predictions, task.query_labels, task.ways)
    fig = go.Figure(go.Heatmap(z=matrix, x=view.labels, y=view.labels, colorscale="Blues", text=matrix,
                               texttemplate="%{text}", hovertemplate=say("confusion_hover")))
    fig.update_layout(title=say("confusion_title"), yaxis_autorange="reversed",
                      height=160 + 24 * task.ways, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key="confusion_matrix")
    shown = [i for i, ok in enumerate(correct) if ok is not True]
    right = sum(ok is True for ok in correct)
    st.markdown(say("right_of_one" if task.labelled_queries == 1 else "right_of_other", right=right,
                    labelled=task.labelled_queries, shown=say_n("queries", len(shown))))
    _cards(view, result, shown, top_k, style, mark_below)


def _rows_with_thumbnails(fig: go.Figure, view: TaskView) -> None:
    """Heatmap rows 0..N-1 top to bottom (support order), each with its class's thumbnail on the left."""
    n = len(view.labels)
    fig.update_yaxes(autorange="reversed", tickvals=list(range(n)), ticktext=view.labels, side="right")
    for c, uri in enumerate(view.class_uris):  # made once per task, with the view
        fig.add_layout_image(source=uri, xref="paper", yref="y",
                             x=-0.01, y=c, sizex=0.08, sizey=0.9,
                             xanchor="right", yanchor="middle", sizing="contain", layer="above")


def parameters(view: TaskView, clf) -> None:
    st.caption(say("params_caption"))
    n = len(view.labels)
    for key, title, z, scale in (
        ("weights_heatmap", say("generated_weights"), clf.weights[0], "RdBu"),
        ("embedding_heatmap", say("parameter_embeddings"), clf.embedding[0], "Viridis"),
    ):
        columns = deciding_features(z)  # all of them up to 32; else the 32 that differ most between classes
        shown = z.float().cpu()[:, columns].numpy()
        what = (say("params_all", classes=z.shape[0], features=z.shape[1]) if len(columns) == z.shape[1] else
                say("params_some", classes=z.shape[0], shown=len(columns), features=f"{z.shape[1]:,}"))
        fig = go.Figure(go.Heatmap(z=shown, x=[str(c) for c in columns.tolist()], y=list(range(n)), colorscale=scale,
                                   zmid=0.0 if scale == "RdBu" else None,
                                   customdata=np.array(view.names)[:, None].repeat(shown.shape[1], 1),
                                   hovertemplate=say("feature_hover"),
                                   # Above the plot: the class labels take the right-hand side.
                                   colorbar=dict(orientation="h", x=1.0, xanchor="right", y=1.02, yanchor="bottom",
                                                 len=0.3, thickness=10)))
        fig.update_xaxes(type="category")
        fig.update_layout(title=say("heatmap_title", title=title, what=what), height=110 + 36 * n,
                          margin=dict(l=50, r=10, t=50, b=10))
        _rows_with_thumbnails(fig, view)
        st.plotly_chart(fig, key=key)
    st.markdown(say("scale_and_bias", scale=f"{float(clf.scale):.2f}", low=f"{float(clf.bias.min()):.3f}",
                    high=f"{float(clf.bias.max()):.3f}"))


def pick_query(view: TaskView, result) -> int:
    task = view.task
    return st.selectbox(
        say("query"), range(len(task.query)), key="why_query",
        format_func=lambda i: say("query_option", n=i + 1, name=view.query_name(i), label=view.label(result.predictions[i])),
    )


def why_this_prediction(view: TaskView, why: Explanation, index: int, style: Style | None = None) -> None:
    """A sentence a class can follow first (the support images the query looks most like), then the maths."""
    style = style or Style(1.0, QUERY_THUMB, CLASS_THUMB, 48, CARDS_PER_ROW)
    task = view.task
    predicted = why.prediction
    liked = most_like(why, task.support_labels)
    a, b = st.columns([1, 5], vertical_alignment="center")
    a.image(view.query_thumbs[index], width=style.query_thumb, caption=md_text(view.query_name(index)))
    with b:
        if liked == predicted:
            label = md_text(view.label(predicted))  # user text: shown literally, never as Markdown
            st.markdown(say("why_sure", label=label, prob=f"{why.probs[predicted]:.0%}"))
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
    agree = say("agree") if predicted == proto else say("disagree", label=md_text(view.label(proto)))
    rule = say("rule_cosine") if why.metric == "cosine" else say("rule_linear")
    fields = dict(label=md_text(view.label(predicted)), prob=f"{why.probs[predicted]:.1%}", agree=agree, rule=rule,
                  scale=f"{why.scale:.2f}", low=f"{why.bias.min():+.3f}", high=f"{why.bias.max():+.3f}",
                  proto_scale=f"{why.proto_scale:.2f}")
    if why.temperature != 1.0:
        st.markdown(say("maths_line_temperature", temperature=f"{why.temperature:.2f}", **fields))
    else:
        st.markdown(say("maths_line", **fields))
    columns = why.deciding.tolist()  # every feature, or the 32 that decide
    feature = go.Figure(go.Heatmap(z=why.feature[None, columns], x=[str(c) for c in columns], colorscale="Viridis",
                                   showscale=False, hovertemplate=say("feature_only_hover")))
    shown = (say("feature_numbers_all", n=why.feature.size) if len(columns) == why.feature.size else
             say("feature_numbers_some", shown=len(columns), n=f"{why.feature.size:,}"))
    feature.update_xaxes(type="category")
    feature.update_layout(title=say("query_features_title", shown=shown),
                          height=120, margin=dict(l=10, r=10, t=40, b=10), yaxis_visible=False)
    st.plotly_chart(feature, key="why_feature")
    fig = make_subplots(rows=1, cols=3, subplot_titles=(say("cosine_to_weight"), say("logit"), say("probability_softmax")))
    for column, (generated, means) in enumerate(
        ((why.cosine, why.proto_cosine), (why.logits, why.proto_logits), (why.probs, why.proto_probs)), start=1
    ):
        for name, values, colour in ((say("generated_weights_series"), generated, "#1f77b4"),
                                     (say("class_means_series"), means, "#aaaaaa")):
            fig.add_trace(go.Bar(x=view.labels, y=values, name=name, marker_color=colour, showlegend=column == 1,
                                 legendgroup=name, hovertext=view.names), row=1, col=column)
    fig.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=40, b=10), legend_orientation="h")
    st.plotly_chart(fig, key="why_chart")
    values = say("cell_separator").join(say("label_value", label=md_text(view.label(c)), value=f"{v:.3f}")
                                        for c, v in enumerate(why.weight_vs_mean))
    st.caption(say("weight_vs_mean", values=values))


def model_label_of(choice) -> str:
    from paramembed.ui import model_label

    return model_label(choice)


# `paramembed.explain.confidence`'s reasons, read back into their fields so that the sentence is
# the catalog's (the library's own words stay English, as everywhere in the library).
_LOW_REASONS = (
    (re.compile(r"^calibrated: right about (\d+%) of the time at this probability \(marked under (\d+%)\)$"),
     "low_calibrated", ("percent", "threshold")),
    (re.compile(r"^top probability (\d+%) is near chance \((\d+%) at (\d+) ways\)$"),
     "low_near_chance", ("percent", "chance", "ways")),
    (re.compile(r"^the top two classes are (\d+%) apart$"), "low_near_tie", ("gap",)),
)


def confidence_reason(reason: str) -> str:
    """`Confidence.reason` in the session's language (unchanged when its form is not known)."""
    for pattern, key, names in _LOW_REASONS:
        found = pattern.match(reason)
        if found:
            return say(key, **dict(zip(names, found.groups())))
    return reason
