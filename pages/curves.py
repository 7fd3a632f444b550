"""Training curves: every run's loss and accuracy, several runs on one chart, one pair of charts per stage.

Runs are the shipped models' logs (assets/models/*/metrics.jsonl), the shipped backbones'
pre-training logs (assets/backbones/*/metrics.jsonl) and runs/*/metrics.jsonl. Meta-training is
drawn against episodes and pre-training against steps, never on one axis; each validation line
says which data it ran on (`paramembed.curves`). The charts sit in a fragment that re-reads the
logs every few seconds while a chosen run is training.
"""

from __future__ import annotations

import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from paramembed import curves as C
from paramembed import run_metrics as M
from paramembed import run_processes as P
from paramembed import runs as R
from paramembed.app import run_text as T
from paramembed.app.messages import say
from paramembed.errors import ParamembedError
from paramembed.serving import serving_from_env

REFRESH_S = 5
STAGE_TITLES = {"meta": "stage_meta", "pretrain": "stage_pretrain"}  # message keys

st.title(say("curves_title"))
all_runs = C.curve_runs()
if not all_runs:
    try:
        runs_folder = serving_from_env().shown_path(R.runs_root(), say("the_runs_folder"))
    except ParamembedError:  # the train page reports bad settings; here it only changes a path in a sentence
        runs_folder = say("the_runs_folder")
    st.info(say("no_logs", folder=runs_folder))
    st.stop()

by_label = {run.label: run for run in all_runs}
statuses = {run.label: ("finished" if run.source in ("shipped", "backbone") else P.run_status(run.run.folder)) for run in all_runs}
default = [label for label, run in by_label.items() if run.source in ("shipped", "backbone")] or list(by_label)[:4]
# The widget's values stay the library's labels ("shipped: hyper"): shown in the session's language.
names = {run.label: T.run_label(run) for run in all_runs}
chosen = st.multiselect(say("runs"), list(by_label), default=default[:12], key="curves_runs", placeholder=say("choose_options"),
                        format_func=lambda label: say("run_option", label=names[label], status=T.status(statuses[label])))
c1, c2, c3 = st.columns(3)
smoothing = c1.slider(say("smoothing"), 0.0, 0.99, 0.6, 0.01, key="curves_smoothing", help=say("smoothing_help"))
log_loss = c2.checkbox(say("log_loss"), value=True, key="curves_log_loss")
log_episodes = c3.checkbox(say("log_x"), value=False, key="curves_log_episodes")
if not chosen:
    st.info(say("choose_runs"))
    st.stop()

live = any(statuses[label] == "running" for label in chosen)
palette = plotly.colors.qualitative.Plotly
infos = {label: C.run_info(by_label[label].run.folder) for label in chosen}
colours = {label: palette[i % len(palette)] for i, label in enumerate(chosen)}


def stage_charts(stage: str, records: dict[str, list[dict]]) -> None:
    """Loss and accuracy of the chosen runs of one stage, on that stage's x axis."""
    loss, accuracy = go.Figure(), go.Figure()
    for label, rows in records.items():
        colour, info, name = colours[label], infos[label], names[label]
        xs, ys = M.series(rows, "train", "loss")
        if xs:
            loss.add_trace(go.Scatter(x=xs, y=M.smooth(ys, smoothing), mode="lines", name=name, line_color=colour))
            if smoothing > 0:
                loss.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=say("series_raw", label=name), line_color=colour,
                                          opacity=0.25, showlegend=False, hoverinfo="skip"))
        xs, ys = M.series(rows, "train", "accuracy")
        if xs:
            accuracy.add_trace(go.Scatter(x=xs, y=M.smooth(ys, smoothing), mode="lines", name=say("series_train", label=name),
                                          line=dict(color=colour, dash="dot")))
        validation = [r for r in rows if r.get("split") == "validation"]
        groups: dict[str, list[dict]] = {}
        for r in validation:  # a run that changed its validation tasks gets one line per kind
            groups.setdefault(T.validation_label(info, r), []).append(r)
        for what, group in groups.items():
            xs, ys = M.series(group, "validation", "accuracy")
            _, ci = M.series([r for r in group if "ci95" in r], "validation", "ci95")
            if xs:
                accuracy.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines+markers", name=say("series_validation", label=name, what=what), line_color=colour,
                    error_y=dict(type="data", array=ci, visible=True) if len(ci) == len(ys) else None,
                ))
    x_titles = {T.x_title(infos[label]) for label in records}
    axis = dict(xaxis_title=say("axis_separator").join(sorted(x_titles)), xaxis_type="log" if log_episodes else "linear",
                height=420, margin=dict(t=40), legend=dict(orientation="h", y=-0.3))
    loss.update_layout(title=say("training_loss"), yaxis_title=say("cross_entropy"),
                       yaxis_type="log" if log_loss else "linear", **axis)
    accuracy.update_layout(title=say("accuracy_title_batches" if stage == "pretrain" else "accuracy_title_tasks"),
                           yaxis_title=say("accuracy"), **axis)
    left, right = st.columns(2)
    suffix = "" if stage == "meta" else f"_{stage}"  # meta keeps the keys the browser tests know
    left.plotly_chart(loss, key=f"curves_loss{suffix}", width="stretch")
    right.plotly_chart(accuracy, key=f"curves_accuracy{suffix}", width="stretch")
    if stage == "pretrain":
        st.caption(say("pretrain_caption"))


@st.fragment(run_every=REFRESH_S if live else None)
def charts() -> None:
    records = {label: M.read_metrics(by_label[label].run.metrics_path) for label in chosen}
    if live:
        if not any(by_label[label].source == "run" and P.run_status(by_label[label].run.folder) == "running" for label in chosen):
            st.rerun()  # the run just ended: a full rerun updates the statuses and stops the timer
        st.caption(say("curves_live", seconds=REFRESH_S))
    stages = [s for s in ("meta", "pretrain") if any(infos[label].stage == s for label in chosen)]
    for stage in stages:
        if len(stages) > 1:
            st.subheader(say(STAGE_TITLES[stage]))
        stage_charts(stage, {label: rows for label, rows in records.items() if infos[label].stage == stage})

    summary = []
    for label, rows in records.items():
        val = [r for r in rows if r.get("split") == "validation"]
        train = [r for r in rows if r.get("split") == "train"]
        info = infos[label]
        length = max((r['episodes'] for r in rows), default=0)
        summary.append({
            say("col_run"): names[label], say("col_status"): T.status(statuses[label]),
            say("col_stage"): say("stage_name_pretrain" if info.stage == "pretrain" else "stage_name_meta"),
            say("col_length"): say("length_steps" if info.stage == "pretrain" else "length_episodes", n=length),
            say("col_validation_on"): T.validation_label(info, val[-1]) if val else "",
            say("col_last_validation"): f"{val[-1]['accuracy']:.3f} ± {val[-1].get('ci95', 0):.3f}" if val else "",
            say("col_best_validation"): round(max(r["accuracy"] for r in val), 4) if val else None,
            say("col_episodes_per_s"): round(train[-1].get("episodes_per_s", 0.0), 2) if train and info.stage != "pretrain" else None,
        })
    st.dataframe(summary, hide_index=True, key="curves_summary")
    st.download_button(say("download_csv"), M.metrics_csv(records), file_name="training_curves.csv", mime="text/csv",
                       key="curves_csv", on_click="ignore")


charts()
