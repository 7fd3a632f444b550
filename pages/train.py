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
from paramembed.methods import TRAINABLE, method_help
from paramembed.serving import serving_from_env

REFRESH_S = 2
SMOOTHING = 0.6  # the curves page's default: readable without hiding the trend

st.title("Train it yourself")
try:
    serving = serving_from_env()
except ParamembedError as err:
    st.error(f"The server's settings are wrong: {err}", icon=":material/error:")
    st.stop()
root = R.runs_root()
# The stop key: identifies whoever starts a run as its owner (a digest goes in the run folder). It
# lives in the page's address too (?stop_key=...), so a reload of the page keeps control of the run.
owner = st.session_state.get("train_owner") or st.query_params.get("stop_key") or secrets.token_urlsafe(16)
st.session_state["train_owner"] = owner
if st.query_params.get("stop_key") != owner:
    st.query_params["stop_key"] = owner
st.caption(f"Runs are written to `{serving.shown_path(root, 'the runs folder')}`. A finished run appears in the playground's model picker "
           "(any folder there with model.safetensors + config.json).")
if serving.on_network or serving.admin_token:
    with st.expander("Admin"):
        st.text_input("Admin token", type="password", key="train_admin_token",
                      help="the server's PARAMEMBED_ADMIN_TOKEN: allows training here and stopping anyone's run")
admin_token = st.session_state.get("train_admin_token") or None
is_admin = serving.is_admin(admin_token)
# On `make run` (local mode) the person at the machine may stop any run: there is nobody else.
may_stop_any = is_admin or not serving.on_network


def live_chart(records: list[dict], total: int | None) -> go.Figure:
    """Loss and accuracy against episodes: training smoothed (raw faint behind), validation as points."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Accuracy"), horizontal_spacing=0.1)
    xs, loss = M.series(records, "train", "loss")
    ax, acc = M.series(records, "train", "accuracy")
    vx, vacc = M.series(records, "validation", "accuracy")
    _, ci = M.series([r for r in records if "ci95" in r], "validation", "ci95")
    # Markers as well as lines: a run's first minutes have only a few points.
    mode = "lines+markers" if len(xs) < 15 else "lines"
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=loss, mode="lines", name="loss (raw)", line=dict(color="#1f77b4", width=1),
                                 opacity=0.3, showlegend=False), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=M.smooth(loss, SMOOTHING), mode=mode, name="training loss (smoothed)",
                                 line=dict(color="#1f77b4")), row=1, col=1)
    if ax:
        fig.add_trace(go.Scatter(x=ax, y=M.smooth(acc, SMOOTHING), mode=mode, name="training accuracy (smoothed)",
                                 line=dict(color="#ff7f0e")), row=1, col=2)
    if vx:
        fig.add_trace(go.Scatter(x=vx, y=vacc, mode="markers+lines", name="validation accuracy (95% CI)",
                                 line=dict(color="#2ca02c", dash="dot"), marker=dict(size=9),
                                 error_y=dict(type="data", array=ci, visible=len(ci) == len(vx))), row=1, col=2)
    # The whole run on the x axis from the start, so the curve grows across it instead of rescaling.
    xrange = [0, total] if total else None
    for col in (1, 2):
        fig.update_xaxes(title_text="episodes (tasks seen)", range=xrange, rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="cross-entropy", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=360, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def progress_line(folder, status: str, records: list[dict]) -> None:
    """The progress bar: from progress.json (every step), else from the metrics (every 10 steps)."""
    progress = M.read_progress(folder)
    if progress is not None:
        text = f"step {progress.step} / {progress.total_steps} · {progress.episodes} / {progress.total_episodes} episodes"
        eta = progress.eta_s
        if status == "running" and eta is not None and progress.step < progress.total_steps:
            text += f" · about {M.format_duration(eta)} left"
        st.progress(progress.fraction, text=text)
    elif status == "running":
        st.progress(0.0, text="starting: loading the data and building the model...")
    else:
        total = M.planned_episodes(folder)
        last = max((r["episodes"] for r in records if r.get("split") == "train"), default=0)
        st.progress(M.run_progress(records, total) or 0.0, text=f"{last} / {total or '?'} episodes")


def _take_stop_key() -> None:
    key = st.session_state.get("train_stop_key", "").strip()
    if key:
        st.session_state["train_owner"] = key


def stop_control(name: str) -> None:
    folder = root / name
    if P.read_pid(folder) is None:
        st.caption("Started outside this app (no process record here): stop it where it was started.")
    elif may_stop_any or P.owns(folder, owner):
        if st.button("Stop training", key="train_stop", type="secondary", icon=":material/stop_circle:"):
            try:
                P.stop_run(name, root, token=owner, admin=may_stop_any)
            except ParamembedError as err:
                st.error(str(err), icon=":material/error:")
            else:
                st.rerun()
        if P.owns(folder, owner) and serving.on_network:
            st.caption(f"Your stop key: `{owner}`. It is in this page's address, so a reload keeps it; "
                       "enter it under *Stop key* in another browser to stop this run from there.")
    else:
        st.caption("Started by another session: only that session (with its stop key) or an admin can stop it.")
        st.text_input("Stop key", type="password", key="train_stop_key",
                      help="the key shown to whoever started the run", on_change=_take_stop_key)


def watch(name: str) -> None:
    """Progress, live curves and a stop button for run `name`; re-runs itself while it trains."""
    folder = root / name
    status = P.run_status(folder)
    records = M.read_metrics(folder / R.METRICS)
    checkpoint = M.checkpoint_info(folder)
    st.subheader(f"Run `{name}`: {status}")
    progress_line(folder, status, records)
    if status == "running":
        stop_control(name)
        st.caption(f"Checkpoint: {checkpoint.describe()}.")
    elif status == "finished":
        st.success(f"Finished: {checkpoint.describe()}. Pick **{name}** among the trained runs in the Playground's model picker.")
        st.page_link("pages/playground.py", label="Open the playground", icon=":material/target:")
    elif status == "stopped":
        loadable = " It is loadable from the playground." if checkpoint.exists else ""
        st.warning(f"Stopped: {checkpoint.describe()}.{loadable}")
    elif status == "failed":
        st.error(f"The run ended with an error ({checkpoint.describe()}); the end of its log is below.")
    if records:
        st.plotly_chart(live_chart(records, M.planned_episodes(folder)), key="train_live_chart", width="stretch")
    else:
        st.caption("Waiting for the first metrics: a training line comes every 10 steps, a validation point "
                   "at each validation.")
    tail = P.log_tail(folder)
    if tail:
        with st.expander("Log", expanded=status == "failed"):
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
st.subheader("Start a run")
if not serving.may_train(admin_token):
    st.info("Training is off on this server: it is shared on the network, where starting runs is off unless "
            "an admin turns it on. An admin restarts the app with `PARAMEMBED_ALLOW_TRAINING=1`, or enters the "
            "server's `PARAMEMBED_ADMIN_TOKEN` under *Admin* above to train from this session.", icon=":material/lock:")
    st.stop()
if going:
    st.info(f"Run `{going}` is training; one run at a time. Stop it above (or wait for it) to start another.")
cap = serving.max_train_episodes
with st.form("train_form", border=True):
    c1, c2 = st.columns(2)
    name = c1.text_input("Run name", value=f"my-run-{time.strftime('%m%d-%H%M')}", key="train_name",
                         help="a new folder under the runs root: letters, digits, '-', '_' or '.'")
    method = c2.selectbox("Method", list(TRAINABLE), key="train_method",
                          help=method_help(TRAINABLE))
    width = c1.select_slider("Backbone width (channels)", [8, 16, 32, 64], value=32, key="train_width",
                             help="64 is the shipped models' width; 32 trains about 3x faster on a CPU")
    episodes = c2.number_input("Episodes (tasks seen)", 8, cap, min(1000, cap), step=100, key="train_episodes",
                               help=f"1000 takes a few minutes on a CPU; the shipped models saw 3000-6000. "
                                    f"This server allows at most {cap}.")
    ways = c1.slider("Ways per task (range)", 2, 30, (5, 10), key="train_ways",
                     help="drawn per batch from this range; validation uses the lower end")
    shots = c2.slider("Shots per class (range)", 1, 10, (1, 5), key="train_shots",
                      help="drawn per batch from this range; validation uses the lower end")
    tasks_per_batch = c1.number_input("Tasks per batch", 1, 32, 4, key="train_tasks_per_batch")
    val_episodes = c2.number_input("Validation episodes", 5, 1000, 50, key="train_val_episodes",
                                   help="tasks per validation; more gives a tighter confidence interval")
    data = st.radio("Data", ("procedural", "upload"), horizontal=True, key="train_data",
                    format_func={"procedural": "Procedural glyph alphabets (unlimited)",
                                 "upload": "My archive in ImageFolder layout (<class>/<image>)"}.get)
    upload = st.file_uploader("ImageFolder zip or tar.gz (used when 'My archive' is chosen)", type=["zip", "tgz", "gz"],
                              key="train_upload",
                              help=f"every fifth class is held out for validation, so give at least 5x the lower ways; "
                                   f"{UPLOAD_LIMITS.describe()}")
    submitted = st.form_submit_button("Start training", type="primary", disabled=bool(going))

if submitted:
    try:
        if data == "upload" and upload is None:
            raise ParamembedError("choose a zip or tar.gz file to upload, or pick the procedural data")
        config = R.make_config(name, method=method, width=int(width), ways=ways, shots=shots, episodes=int(episodes),
                               tasks_per_batch=int(tasks_per_batch), val_episodes=int(val_episodes), root=root,
                               max_episodes=cap)
        with st.spinner("Checking the settings and the data..."):
            # Refused starts remove what they unpacked: no orphan dataset stays on the server.
            P.start_run(config, root, owner=owner, upload=upload.getvalue() if data == "upload" else None)
    except ParamembedError as err:
        st.error(str(err), icon=":material/error:")
    else:
        st.session_state["train_run"] = config.name
        st.rerun()
