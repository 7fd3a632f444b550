"""Train it yourself: start a meta-training run in the background, watch it, stop it.

The run is `python -m paramembed train ...` in its own process (started by
`paramembed.run_processes` with a fixed argument list), writing under the runs root; this page
only reads its files, so closing the browser does not stop it, and reopening the page finds it
again. One run at a time on a server; only the session that started a run (or an admin) stops it.
"""

from __future__ import annotations

import secrets
import time

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from paramembed import run_metrics as M
from paramembed import run_processes as P
from paramembed import runs as R
from paramembed.config_checks import RUN_NAME
from paramembed.data.archives import UPLOAD_LIMITS
from paramembed.errors import ParamembedError
from paramembed.app import run_text as T
from paramembed.app.library_text import library_text
from paramembed.app.messages import say
from paramembed.methods import TRAINABLE
from paramembed.serving import serving_from_env
from paramembed.ui import methods_help

REFRESH_S = 2
SMOOTHING = 0.6  # the curves page's default: readable without hiding the trend

st.title(say("train_title"))
try:
    serving = serving_from_env()
except ParamembedError as err:
    st.error(say("server_settings_wrong", detail=library_text(err)), icon=":material/error:")
    st.stop()
root = R.runs_root()
# The stop key: identifies whoever starts a run as its owner (a digest goes in the run folder). It
# lives in the page's address too (?stop_key=...), so a reload of the page keeps control of the run.
owner = st.session_state.get("train_owner") or st.query_params.get("stop_key") or secrets.token_urlsafe(16)
st.session_state["train_owner"] = owner
if st.query_params.get("stop_key") != owner:
    st.query_params["stop_key"] = owner
st.caption(say("runs_written_to", folder=serving.shown_path(root, say("the_runs_folder"))))
if serving.on_network or serving.admin_token:
    with st.expander(say("admin")):
        st.text_input(say("admin_token"), type="password", key="train_admin_token", help=say("admin_token_train_help"))
admin_token = st.session_state.get("train_admin_token") or None
is_admin = serving.is_admin(admin_token)
# On `make run` (local mode) the person at the machine may stop any run: there is nobody else.
may_stop_any = is_admin or not serving.on_network


def live_chart(records: list[dict], total: int | None) -> go.Figure:
    """Loss and accuracy against episodes: training smoothed (raw faint behind), validation as points."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(say("training_loss"), say("accuracy_short")), horizontal_spacing=0.1)
    xs, loss = M.series(records, "train", "loss")
    ax, acc = M.series(records, "train", "accuracy")
    vx, vacc = M.series(records, "validation", "accuracy")
    _, ci = M.series([r for r in records if "ci95" in r], "validation", "ci95")
    # Markers as well as lines: a run's first minutes have only a few points.
    mode = "lines+markers" if len(xs) < 15 else "lines"
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=loss, mode="lines", name=say("loss_raw"), line=dict(color="#1f77b4", width=1),
                                 opacity=0.3, showlegend=False), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=M.smooth(loss, SMOOTHING), mode=mode, name=say("loss_smoothed"),
                                 line=dict(color="#1f77b4")), row=1, col=1)
    if ax:
        fig.add_trace(go.Scatter(x=ax, y=M.smooth(acc, SMOOTHING), mode=mode, name=say("train_accuracy_smoothed"),
                                 line=dict(color="#ff7f0e")), row=1, col=2)
    if vx:
        fig.add_trace(go.Scatter(x=vx, y=vacc, mode="markers+lines", name=say("validation_accuracy_ci"),
                                 line=dict(color="#2ca02c", dash="dot"), marker=dict(size=9),
                                 error_y=dict(type="data", array=ci, visible=len(ci) == len(vx))), row=1, col=2)
    # The whole run on the x axis from the start, so the curve grows across it instead of rescaling.
    xrange = [0, total] if total else None
    for col in (1, 2):
        fig.update_xaxes(title_text=say("x_episodes"), range=xrange, rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text=say("cross_entropy"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text=say("accuracy"), range=[0, 1], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=360, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def progress_line(folder, status: str, records: list[dict]) -> None:
    """The progress bar: from progress.json (every step), else from the metrics (every 10 steps)."""
    progress = M.read_progress(folder)
    if progress is not None:
        fields = dict(step=progress.step, steps=progress.total_steps, episodes=progress.episodes,
                      total=progress.total_episodes)
        eta = progress.eta_s
        if status == "running" and eta is not None and progress.step < progress.total_steps:
            text = say("progress_steps_eta", eta=T.duration(eta), **fields)
        else:
            text = say("progress_steps", **fields)
        st.progress(progress.fraction, text=text)
    elif status == "running":
        st.progress(0.0, text=say("starting"))
    else:
        total = M.planned_episodes(folder)
        last = max((r["episodes"] for r in records if r.get("split") == "train"), default=0)
        st.progress(M.run_progress(records, total) or 0.0, text=say("progress_episodes", done=last, total=total or "?"))


def _take_stop_key() -> None:
    key = st.session_state.get("train_stop_key", "").strip()
    if key:
        st.session_state["train_owner"] = key


def stop_control(name: str) -> None:
    folder = root / name
    if P.read_pid(folder) is None:
        st.caption(say("outside_app"))
    elif may_stop_any or P.owns(folder, owner):
        if st.button(say("stop_training"), key="train_stop", type="secondary", icon=":material/stop_circle:"):
            try:
                P.stop_run(name, root, token=owner, admin=may_stop_any)
            except ParamembedError as err:
                st.error(say("error_lead", detail=library_text(err)), icon=":material/error:")
            else:
                st.rerun()
        if P.owns(folder, owner) and serving.on_network:
            st.caption(say("your_stop_key", key=owner))
    else:
        st.caption(say("other_session"))
        st.text_input(say("stop_key"), type="password", key="train_stop_key", help=say("stop_key_help"),
                      on_change=_take_stop_key)


def watch(name: str) -> None:
    """Progress, live curves and a stop button for run `name`; re-runs itself while it trains."""
    folder = root / name
    status = P.run_status(folder)
    records = M.read_metrics(folder / R.METRICS)
    checkpoint = M.checkpoint_info(folder)
    st.subheader(say("run_heading", name=name, status=T.status(status)))
    progress_line(folder, status, records)
    described = T.checkpoint(checkpoint)
    if status == "running":
        stop_control(name)
        st.caption(say("checkpoint_line", checkpoint=described))
    elif status == "finished":
        st.success(say("finished_run", checkpoint=described, name=name))
        st.page_link("pages/playground.py", label=say("open_playground"), icon=":material/target:")
    elif status == "stopped":
        st.warning(say("stopped_run_loadable" if checkpoint.exists else "stopped_run", checkpoint=described))
    elif status == "failed":
        st.error(say("failed_run", checkpoint=described))
    if records:
        st.plotly_chart(live_chart(records, M.planned_episodes(folder)), key="train_live_chart", width="stretch")
    else:
        st.caption(say("waiting_metrics"))
    tail = P.log_tail(folder)
    if tail:
        with st.expander(say("log"), expanded=status == "failed"):
            st.code(tail, language=None)
    if status != "running" and st.session_state.get("train_watching_live"):
        # The run just ended: one full rerun switches the fragment's timer off and re-enables the form.
        st.session_state["train_watching_live"] = False
        st.rerun()


# ============ the run being watched ============
going = P.active_run(root)
watched = going or st.session_state.get("train_run")
if watched and RUN_NAME.fullmatch(watched) and (root / watched).is_dir():
    live = P.run_status(root / watched) == "running"
    st.session_state["train_watching_live"] = live
    st.fragment(run_every=REFRESH_S if live else None)(watch)(watched)
    st.divider()

# ============ a new run ============
st.subheader(say("start_run"))
if not serving.may_train(admin_token):
    st.info(say("training_off"), icon=":material/lock:")
    st.stop()
if going:
    st.info(say("run_going", name=going))
cap = serving.max_train_episodes
with st.form("train_form", border=True):
    c1, c2 = st.columns(2)
    name = c1.text_input(say("run_name"), value=f"my-run-{time.strftime('%m%d-%H%M')}", key="train_name",
                         help=say("run_name_help"))
    method = c2.selectbox(say("method"), list(TRAINABLE), key="train_method", help=methods_help(TRAINABLE))
    width = c1.select_slider(say("backbone_width"), [8, 16, 32, 64], value=32, key="train_width",
                             help=say("backbone_width_help"))
    episodes = c2.number_input(say("episodes_seen"), 8, cap, min(1000, cap), step=100, key="train_episodes",
                               help=say("episodes_help", cap=cap))
    ways = c1.slider(say("ways_range"), 2, 30, (5, 10), key="train_ways", help=say("range_help"))
    shots = c2.slider(say("shots_range"), 1, 10, (1, 5), key="train_shots", help=say("range_help"))
    tasks_per_batch = c1.number_input(say("tasks_per_batch"), 1, 32, 4, key="train_tasks_per_batch")
    val_episodes = c2.number_input(say("validation_episodes"), 5, 1000, 50, key="train_val_episodes",
                                   help=say("validation_episodes_help"))
    data = st.radio(say("data"), ("procedural", "upload"), horizontal=True, key="train_data",
                    format_func=lambda d: say(f"data_{d}_option"))
    upload = st.file_uploader(say("train_upload"), type=["zip", "tgz", "gz"], key="train_upload",
                              help=say("train_upload_help", limits=T.archive_limits(UPLOAD_LIMITS)))
    submitted = st.form_submit_button(say("start_training"), type="primary", disabled=bool(going))

if submitted:
    try:
        if data == "upload" and upload is None:
            st.error(say("choose_upload"), icon=":material/error:")
            st.stop()
        config = R.make_config(name, method=method, width=int(width), ways=ways, shots=shots, episodes=int(episodes),
                               tasks_per_batch=int(tasks_per_batch), val_episodes=int(val_episodes), root=root,
                               max_episodes=cap)
        with st.spinner(say("checking_settings")):
            # Refused starts remove what they unpacked: no orphan dataset stays on the server.
            P.start_run(config, root, owner=owner, upload=upload.getvalue() if data == "upload" else None)
    except ParamembedError as err:
        st.error(say("error_lead", detail=library_text(err)), icon=":material/error:")
    else:
        st.session_state["train_run"] = config.name
        st.rerun()
