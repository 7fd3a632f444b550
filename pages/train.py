"""Train it yourself: start a meta-training run in the background, watch it, stop it.

The run is `python -m paramembed train ...` in its own process (started by `paramembed.runs`
with a fixed argument list), writing under the runs root; this page only reads its files, so
closing the browser does not stop it, and reopening the page finds it again.
"""

from __future__ import annotations

import time

import plotly.graph_objects as go
import streamlit as st

from paramembed import run_metrics as M
from paramembed import run_processes as P
from paramembed import runs as R
from paramembed.errors import ParamembedError

REFRESH_S = 2
METHOD_HELP = {
    "hyper": "a hypernetwork generates each class's weights from its support set (the default model)",
    "latent": "LEO-style: per-class latent codes that see the other classes, decoded into weights",
    "proto": "imprinting: weights are class means; trains the backbone only",
    "maml": "first-order MAML baseline; several times slower per episode",
}

st.title("Train it yourself")
root = R.runs_root()
st.caption(f"Runs are written to `{root}`. A finished run appears in the playground's model picker "
           "(any folder there with model.safetensors + config.json).")


def watch(name: str) -> None:
    """Progress, live curves and a stop button for run `name`; re-runs itself while it trains."""
    folder = root / name
    status = P.run_status(folder)
    records = M.read_metrics(folder / R.METRICS)
    total = M.planned_episodes(folder)
    done = M.run_progress(records, total) or 0.0
    st.subheader(f"Run `{name}`: {status}")
    last = max((r["episodes"] for r in records if r.get("split") == "train"), default=0)
    st.progress(done, text=f"{last} / {total or '?'} episodes")
    if status == "running":
        if st.button("Stop training", key="train_stop", type="secondary"):
            P.stop_run(name, root)
            st.rerun()
    elif status == "finished":
        st.success(f"Finished. Pick **{name} (trained in runs/)** in the Playground's model picker.")
        st.page_link("pages/playground.py", label="Open the playground", icon="🎯")
    elif status == "stopped":
        st.warning("Stopped. Its last checkpoint (if one was written) is still loadable from the playground.")
    elif status == "failed":
        st.error("The run ended with an error; the end of its log is below.")
    xs, loss = M.series(records, "train", "loss")
    vx, vacc = M.series(records, "validation", "accuracy")
    if xs or vx:
        fig = go.Figure()
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=loss, mode="lines+markers", name="training loss"))
        if vx:
            fig.add_trace(go.Scatter(x=vx, y=vacc, mode="lines+markers", name="validation accuracy", yaxis="y2"))
        fig.update_layout(height=340, xaxis_title="episodes", yaxis_title="loss", margin=dict(t=20),
                          yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1]))
        st.plotly_chart(fig, key="train_live_chart", width="stretch")
    else:
        st.caption("Waiting for the first metrics (the first line comes after 10 steps or the first validation)...")
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
if watched and (root / watched).is_dir():
    live = P.run_status(root / watched) == "running"
    st.session_state["train_watching_live"] = live
    st.fragment(run_every=REFRESH_S if live else None)(watch)(watched)
    st.divider()

# ============ a new run ============
st.subheader("Start a run")
if going:
    st.info(f"Run `{going}` is training; one run at a time. Stop it above to start another.")
with st.form("train_form", border=True):
    c1, c2 = st.columns(2)
    name = c1.text_input("Run name", value=f"my-run-{time.strftime('%m%d-%H%M')}", key="train_name",
                         help="a new folder under the runs root: letters, digits, '-', '_' or '.'")
    method = c2.selectbox("Method", list(METHOD_HELP), key="train_method",
                          help="; ".join(f"{k}: {v}" for k, v in METHOD_HELP.items()))
    width = c1.select_slider("Backbone width (channels)", [8, 16, 32, 64], value=32, key="train_width",
                             help="64 is the shipped models' width; 32 trains about 3x faster on a CPU")
    episodes = c2.number_input("Episodes (tasks seen)", 8, 100_000, 1000, step=100, key="train_episodes",
                               help="1000 takes a few minutes on a CPU; the shipped models saw 3000-6000")
    ways = c1.slider("Ways per task (range)", 2, 30, (5, 10), key="train_ways",
                     help="drawn per batch from this range; validation uses the lower end")
    shots = c2.slider("Shots per class (range)", 1, 10, (1, 5), key="train_shots",
                      help="drawn per batch from this range; validation uses the lower end")
    tasks_per_batch = c1.number_input("Tasks per batch", 1, 32, 4, key="train_tasks_per_batch")
    val_episodes = c2.number_input("Validation episodes", 5, 1000, 50, key="train_val_episodes",
                                   help="tasks per validation; more gives a tighter confidence interval")
    data = st.radio("Data", ("procedural", "upload"), horizontal=True, key="train_data",
                    format_func={"procedural": "Procedural glyph alphabets (unlimited)",
                                 "upload": "My zip in ImageFolder layout (<class>/<image>)"}.get)
    upload = st.file_uploader("ImageFolder zip (used when 'My zip' is chosen)", type=["zip"], key="train_upload",
                              help="every fifth class is held out for validation, so give at least 5x the lower ways")
    submitted = st.form_submit_button("Start training", type="primary", disabled=bool(going))

if submitted:
    config = None
    try:
        if data == "upload" and upload is None:
            raise ParamembedError("choose a zip file to upload, or pick the procedural data")
        config = R.make_config(name, method=method, width=int(width), ways=ways, shots=shots, episodes=int(episodes),
                               tasks_per_batch=int(tasks_per_batch), val_episodes=int(val_episodes), root=root)
        if data == "upload":
            config.data = str(P.save_upload(config.name, upload.getvalue(), root))
        with st.spinner("Checking the settings and the data..."):
            P.start_run(config, root)
    except ParamembedError as err:
        if data == "upload" and config is not None and not R.name_taken(config.name, root):
            P.discard_upload(config.name, root)  # nothing was started: keep no orphan dataset
        st.error(str(err), icon="⚠️")
    else:
        st.session_state["train_run"] = config.name
        st.rerun()
