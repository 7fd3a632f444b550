"""Training curves: every run's loss and accuracy against episodes, several runs on one chart.

Runs are the shipped models' logs (assets/models/*/metrics.jsonl) and runs/*/metrics.jsonl. The
charts sit in a fragment that re-reads the logs every few seconds while a chosen run is training.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.colors
import streamlit as st

from paramembed import run_metrics as M
from paramembed import run_processes as P
from paramembed import runs as R

REFRESH_S = 5

st.title("Training curves")
all_runs = R.list_runs()
if not all_runs:
    st.info(f"No training logs yet: none in assets/models/*/ and none in {R.runs_root()}/*/. "
            "Start one on the *Train it yourself* page, or run `make models`.")
    st.stop()

by_label = {run.label: run for run in all_runs}
statuses = {run.label: ("finished" if run.source == "shipped" else P.run_status(run.folder)) for run in all_runs}
default = [label for label in by_label if by_label[label].source == "shipped"] or list(by_label)[:4]
chosen = st.multiselect("Runs", list(by_label), default=default[:6], key="curves_runs",
                        format_func=lambda label: f"{label} · {statuses[label]}")
c1, c2, c3 = st.columns(3)
smoothing = c1.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="curves_smoothing",
                      help="exponential moving average of the training lines (validation is left raw)")
log_loss = c2.checkbox("Log-scale loss", value=True, key="curves_log_loss")
log_episodes = c3.checkbox("Log-scale episodes", value=False, key="curves_log_episodes")
if not chosen:
    st.info("Choose one or more runs above.")
    st.stop()

live = any(statuses[label] == "running" for label in chosen)
palette = plotly.colors.qualitative.Plotly


@st.fragment(run_every=REFRESH_S if live else None)
def charts() -> None:
    records = {label: M.read_metrics(by_label[label].metrics_path) for label in chosen}
    if live:
        if not any(by_label[label].source == "run" and P.run_status(by_label[label].folder) == "running" for label in chosen):
            st.rerun()  # the run just ended: a full rerun updates the statuses and stops the timer
        st.caption(f"A chosen run is training: these charts re-read its log every {REFRESH_S} s.")
    loss = go.Figure()
    accuracy = go.Figure()
    for i, (label, rows) in enumerate(records.items()):
        colour = palette[i % len(palette)]
        xs, ys = M.series(rows, "train", "loss")
        if xs:
            loss.add_trace(go.Scatter(x=xs, y=M.smooth(ys, smoothing), mode="lines", name=label, line_color=colour))
            if smoothing > 0:
                loss.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{label} (raw)", line_color=colour,
                                          opacity=0.25, showlegend=False, hoverinfo="skip"))
        xs, ys = M.series(rows, "train", "accuracy")
        if xs:
            accuracy.add_trace(go.Scatter(x=xs, y=M.smooth(ys, smoothing), mode="lines", name=f"{label} train",
                                          line=dict(color=colour, dash="dot")))
        xs, ys = M.series(rows, "validation", "accuracy")
        if xs:
            _, ci = M.series([r for r in rows if "ci95" in r], "validation", "ci95")
            accuracy.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers", name=f"{label} validation", line_color=colour,
                error_y=dict(type="data", array=ci, visible=True) if len(ci) == len(ys) else None,
            ))
    axis = dict(xaxis_title="episodes (tasks seen)", xaxis_type="log" if log_episodes else "linear",
                height=380, margin=dict(t=40), legend=dict(orientation="h", y=-0.25))
    loss.update_layout(title="Training loss", yaxis_title="cross-entropy", yaxis_type="log" if log_loss else "linear", **axis)
    accuracy.update_layout(title="Accuracy (dotted: training tasks; solid: validation with 95% CI)",
                           yaxis_title="query accuracy", **axis)
    left, right = st.columns(2)
    left.plotly_chart(loss, key="curves_loss", width="stretch")
    right.plotly_chart(accuracy, key="curves_accuracy", width="stretch")

    summary = []
    for label, rows in records.items():
        val = [r for r in rows if r.get("split") == "validation"]
        train = [r for r in rows if r.get("split") == "train"]
        summary.append({
            "run": label, "status": statuses[label],
            "episodes": max((r["episodes"] for r in rows), default=0),
            "last validation accuracy": f"{val[-1]['accuracy']:.3f} ± {val[-1].get('ci95', 0):.3f} ({val[-1].get('ways')}-way {val[-1].get('shots')}-shot)" if val else "",
            "best validation accuracy": round(max(r["accuracy"] for r in val), 4) if val else None,
            "episodes/s": round(train[-1].get("episodes_per_s", 0.0), 2) if train else None,
        })
    st.dataframe(summary, hide_index=True, key="curves_summary")
    st.download_button("Download CSV", M.metrics_csv(records), file_name="training_curves.csv", mime="text/csv",
                       key="curves_csv")


charts()
