"""Weight-embedding explorer: many classes' parameter embeddings and generated weights, projected.

The page only wires widgets to `paramembed.embeddings`; generation and projections are cached
per process, so switching colours or projections back and forth costs nothing the second time.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from paramembed import embeddings as E
from paramembed.errors import ParamembedError
from paramembed.ui import load_model_cached, model_lock, model_picker, show_error

SPACES = {
    "embedding": "parameter embedding (what the generator decodes)",
    "weights": "generated weights (the classifier)",
    "prototypes": "plain prototypes (class means of support features)",
}
SOURCES = ("procedural", "folder", "playground")
SOURCE_LABELS = {
    "procedural": "Procedural test alphabets",
    "folder": "A folder or archive (Omniglot / ImageFolder layout)",
    "playground": "The playground's hand-made task (its classes)",
}
SHOT_CHOICES = (1, 2, 5, 10)
MAX_CACHED = 12


@st.cache_resource
def _store() -> tuple[dict, threading.Lock]:
    """Process-wide results (embeddings, projections) keyed by everything that made them."""
    return {}, threading.Lock()


def cached(key: tuple, compute):
    store, lock = _store()
    with lock:
        if key in store:
            return store[key]
    value = compute()
    with lock:
        store[key] = value
        while len(store) > MAX_CACHED:
            store.pop(next(iter(store)))
    return value


@st.cache_resource(show_spinner="Opening the dataset...")
def open_dataset(source: str, spec_items: tuple, min_images: int):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset

    return get_dataset(source, "test", InputSpec(**dict(spec_items)), min_images=min_images)


st.title("Weight-embedding explorer")
st.caption(
    "Each class's support drawings go through the backbone; the model's generator turns them into the "
    "class's **parameter embedding** and its **classifier weights**. Generated weights depend on the "
    "other classes of the task (the hyper generator subtracts the task's mean embedding; the latent one "
    "relates every pair of examples), so classes are embedded the way the models were meta-trained: "
    "**each alphabet is one task** (alphabets over 50 chosen classes are split). Supports are nested: "
    "the 2-shot support is the 1-shot one plus a drawing, so moving between shot counts shows only what "
    "the extra drawings changed."
)

choice = model_picker(key="explorer_model")
if choice is None:
    st.info("There is no model to explore yet: train one on the *Train it yourself* page, or run `make models`.")
    st.stop()

# ============ what to embed ============
with st.sidebar:
    source = st.radio("Classes from", SOURCES, format_func=SOURCE_LABELS.get, key="explorer_source")
    folder = ""
    if source == "folder":
        folder = st.text_input("Folder or .zip / .tar.gz path", key="explorer_folder",
                               help="e.g. ../shared/data/omniglot_background.tar.gz")
    n_classes = st.slider("Classes", 10, 500, 100, step=10, key="explorer_classes",
                          help="whole alphabets in a seeded random order until this many classes")
    shots_list = st.multiselect("Shot counts to generate", SHOT_CHOICES, default=list(SHOT_CHOICES),
                                key="explorer_shots", help="each class gets one embedding per shot count")
    seed = st.number_input("Seed", 0, 10_000, 0, key="explorer_seed")

if not shots_list:
    st.warning("Choose at least one shot count in the sidebar.")
    st.stop()
shots_list = tuple(sorted(shots_list))

try:
    model = load_model_cached(choice.path)
except ParamembedError as err:
    show_error(err)
    st.stop()
spec_items = tuple(sorted(vars(model.config.input).items()))

if source == "playground":
    draft = st.session_state.get("draft")
    try:
        task = draft.build() if draft is not None else None
    except ParamembedError as err:
        task = None
        st.warning(f"The playground's task is not ready: {err}")
    if task is None or task.ways < 2:
        st.info("Build a task with at least two classes on the Playground page first, or pick another source.")
        st.stop()
    from paramembed.tasks import preprocess_task

    support, _ = preprocess_task(task, model.config.input)
    dataset = E.SupportClasses(support, list(task.support_labels), task.class_names, group="playground task")
    fewest = min(task.shots())
    if max(shots_list) > fewest:
        st.info(f"The playground task has {fewest} support image(s) for its smallest class; showing shot counts up to {fewest}.")
    shots_list = tuple(k for k in shots_list if k <= fewest) or (fewest,)
    data_key = ("playground", task.key)
else:
    if source == "folder" and not folder.strip():
        st.info("Type the path of a folder or archive in the sidebar.")
        st.stop()
    name = "procedural" if source == "procedural" else folder.strip()
    try:
        dataset = open_dataset(name, spec_items, max(shots_list))
    except ParamembedError as err:
        show_error(err)
        st.stop()
    data_key = (name,)

try:
    classes = E.pick_classes(dataset, n_classes, seed=int(seed), min_drawings=max(shots_list))
except ParamembedError as err:
    show_error(err)
    st.stop()


def generate() -> E.ClassEmbeddings:
    bar = st.progress(0.0, text="Generating classifiers...")
    try:
        with model_lock(choice.path):
            return E.embed_classes(model, dataset, classes, shots_list, seed=int(seed),
                                   progress=lambda f, text: bar.progress(min(1.0, f), text=text))
    finally:
        bar.empty()


emb_key = (choice.path, data_key, len(classes), shots_list, int(seed))
try:
    emb = cached(("emb",) + emb_key, generate)
except ParamembedError as err:
    show_error(err)
    st.stop()

st.write(
    f"**{len(classes)} classes** from {len(set(emb.alphabets))} alphabet(s), at {', '.join(map(str, shots_list))} shot(s); "
    f"model **{choice.label}** (method `{emb.method}`"
    + (", a MAML model has no generator, so its prototypes are shown" if choice.generator == "maml" else "") + ")."
)

# ============ projection ============
c1, c2, c3, c4, c5 = st.columns(5)
space = c1.selectbox("Vectors", list(SPACES), format_func=lambda s: SPACES[s].split(" (")[0], key="explorer_space",
                     help="; ".join(f"{k}: {v}" for k, v in SPACES.items()))
method = c2.selectbox("Projection", E.available_projections(), key="explorer_projection",
                      format_func={"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get,
                      help="UMAP appears when umap-learn is installed")
dims = c3.radio("Dimensions", (2, 3), horizontal=True, key="explorer_dims", format_func=lambda d: f"{d}D")
shown = c4.selectbox("Shots shown", ["all"] + list(shots_list), index=len(shots_list), key="explorer_shown")
colour = c5.selectbox("Colour by", ("alphabet", "class", "shots"), key="explorer_colour")

rows = np.arange(len(emb)) if shown == "all" else np.flatnonzero(emb.shots == int(shown))
vectors = emb.vectors(space)[rows]
if len(rows) < dims + 1:
    st.warning(f"A {dims}D projection needs at least {dims + 1} points; this selection has {len(rows)}.")
    st.stop()


def run_projection() -> np.ndarray:
    with st.spinner(f"Projecting {len(rows)} points with {method.upper()}..."):
        return E.project(vectors, method, dims, seed=int(seed))


try:
    xy = cached(("proj",) + emb_key + (space, str(shown), method, dims), run_projection)
except ParamembedError as err:
    show_error(err)
    st.stop()

frame = {
    "x": xy[:, 0], "y": xy[:, 1], "row": rows,
    "class": emb.names[rows], "alphabet": emb.alphabets[rows], "shots": emb.shots[rows].astype(str),
}
if dims == 3:
    frame["z"] = xy[:, 2]
common = dict(color=colour, hover_name="class", hover_data={"alphabet": True, "shots": True, "x": False, "y": False, "row": False},
              custom_data=["row"], height=620)
if dims == 3:
    common["hover_data"]["z"] = False
    fig = px.scatter_3d(frame, x="x", y="y", z="z", **common)
    fig.update_traces(marker_size=3)
else:
    fig = px.scatter(frame, x="x", y="y", **common)
    fig.update_traces(marker_size=7)
fig.update_layout(showlegend=colour != "class" and len(set(frame[colour])) <= 40, legend_title_text=colour,
                  margin=dict(l=0, r=0, t=30, b=0), dragmode="lasso" if dims == 2 else None)
st.caption("Hover shows a class's name, alphabet and shots (Plotly's hover cannot show images). "
           + ("Click, box- or lasso-select points to see their drawings and nearest neighbours below."
              if dims == 2 else "3D charts cannot be selected on; pick classes in the box below the chart."))
event = st.plotly_chart(fig, key="explorer_chart", on_select="rerun" if dims == 2 else "ignore",
                        selection_mode=("points", "box", "lasso"), width="stretch")

# ============ selection: drawings and nearest neighbours ============
selected = []
if dims == 2 and event and event.selection and event.selection.points:
    selected = [int(p["customdata"][0]) for p in event.selection.points if p.get("customdata")]
by_label = {f"{emb.names[r]} ({emb.shots[r]}-shot)": int(r) for r in rows}
picked = st.multiselect("Or pick classes", list(by_label), key="explorer_picked", max_selections=12)
selected = list(dict.fromkeys(selected + [by_label[p] for p in picked if p in by_label]))
if selected:
    k = st.slider("Neighbours", 1, 10, 5, key="explorer_neighbours")
    st.subheader(f"{len(selected)} selected" + (" (showing the first 8)" if len(selected) > 8 else ""))
    all_vectors = emb.vectors(space)
    for r in selected[:8]:
        ci, shots = int(emb.class_index[r]), int(emb.shots[r])
        left, right = st.columns([2, 3])
        left.markdown(f"**{emb.names[r]}** · {emb.alphabets[r]} · {shots}-shot support")
        left.image([emb.drawing(ci, s) for s in range(shots)], width=56, clamp=True)
        near = E.cosine_neighbours(all_vectors, r, k, candidates=np.flatnonzero(emb.shots == shots))
        right.markdown(f"Nearest by cosine ({SPACES[space].split(' (')[0]}, same shots):")
        right.image([emb.drawing(int(emb.class_index[j]), 0) for j, _ in near], width=56, clamp=True,
                    caption=[f"{emb.names[j].split('/')[-1]} {s:.2f}" for j, s in near])
        right.caption(", ".join(f"{emb.names[j]} ({s:.3f})" for j, s in near))
else:
    st.caption("Nothing selected yet.")

# ============ weights vs prototypes, drift with shots ============
st.subheader("Generated weights vs plain prototypes")
agreement = E.rowwise_cosine(emb.weights, emb.prototypes)
if emb.method == "proto":
    st.caption("This model's weights *are* its prototypes (imprinting), so every cosine is 1.")
box = px.box({"cosine(weights, prototype)": agreement, "shots": emb.shots.astype(str)}, x="shots",
             y="cosine(weights, prototype)", points="outliers", height=320)
st.plotly_chart(box, key="explorer_agreement", width="stretch")
st.caption(f"Per class: how far the generator moves the weights away from the class mean. Mean cosine "
           + ", ".join(f"{k}-shot {agreement[emb.shots == k].mean():.3f}" for k in shots_list) + ".")

if len(shots_list) > 1:
    st.subheader("How a class's embedding moves as shots are added")
    drift_space = st.radio("Drift of", ("embedding", "weights"), horizontal=True, key="explorer_drift_space")
    drift = E.embedding_drift(emb, drift_space)
    ks = list(drift)
    q = np.array([np.percentile(drift[k], [10, 50, 90]) for k in ks])
    line = go.Figure([
        go.Scatter(x=ks + ks[::-1], y=list(q[:, 2]) + list(q[::-1, 0]), fill="toself", line_width=0,
                   fillcolor="rgba(99,110,250,0.2)", name="10-90% of classes", hoverinfo="skip"),
        go.Scatter(x=ks, y=q[:, 1], mode="lines+markers", name="median class"),
    ])
    for r in selected[:8]:
        ci = int(emb.class_index[r])
        line.add_trace(go.Scatter(x=ks, y=[drift[k][ci] for k in ks], mode="lines+markers", name=str(emb.names[r])))
    line.update_layout(xaxis_title="shots", yaxis_title=f"cosine to the {ks[-1]}-shot {drift_space}", height=340,
                       xaxis_type="log", xaxis_tickvals=ks, margin=dict(t=20))
    st.plotly_chart(line, key="explorer_drift", width="stretch")
    st.caption("Selected classes are drawn as their own lines.")

# ============ export ============
st.subheader("Export for the Embedding Projector")
vec_tsv, meta_tsv = E.projector_tsv(vectors, emb.metadata(rows))
stem = f"{Path(choice.path).name}-{space}-{shown}shot"
d1, d2 = st.columns(2)
d1.download_button("vectors.tsv", vec_tsv, file_name=f"{stem}-vectors.tsv", mime="text/tab-separated-values", key="explorer_dl_vectors")
d2.download_button("metadata.tsv", meta_tsv, file_name=f"{stem}-metadata.tsv", mime="text/tab-separated-values", key="explorer_dl_metadata")
st.caption(f"{len(rows)} rows of {vectors.shape[1]} numbers; load both files at projector.tensorflow.org ('Load').")
