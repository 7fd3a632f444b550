"""Weight-embedding explorer: many classes' parameter embeddings and generated weights, projected.

The page only wires widgets to `paramembed.embeddings` (features, generation), `paramembed.projection`
(projections, search, thumbnails), `paramembed.app.explorer_figures` (the plots) and
`paramembed.explorer_sources` (what may be read). Feature banks, embeddings and projections are
cached per process; the plot and everything that depends on the selection live in one fragment,
so a widget there reruns only that part of the page.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import plotly.express as px
import streamlit as st

from paramembed import embeddings as E
from paramembed import projection as P
from paramembed.app import explorer_figures as F
from paramembed.app.display import md_text
from paramembed.app.layout import page_style
from paramembed.data.cache import LRU
from paramembed.errors import ParamembedError
from paramembed.explorer_sources import (
    MAX_UPLOAD_BYTES, new_session_id, procedural_source, public_message, server_source, unpack_upload, uploads_root,
)
from paramembed.serving import serving_from_env
from paramembed.ui import load_model_cached, model_lock, model_picker, show_error

SPACES = {
    "embedding": "parameter embedding (what the generator decodes)",
    "weights": "generated weights (the classifier)",
    "prototypes": "plain prototypes (class means of support features)",
}
SOURCE_LABELS = {
    "procedural": "Built-in procedural test classes",
    "upload": "An archive you upload (Omniglot / ImageFolder layout)",
    "folder": "A folder or archive on this server (shared folders only)",
    "playground": "The playground's hand-made task (its classes)",
}
SHOT_CHOICES = (1, 2, 5, 10)
DEFAULT_CLASSES = 40
MAX_THUMBNAILS = 300
MAX_CACHED = 12
MAX_OPEN_DATASETS = 8  # decoded datasets held by the process: each visitor's upload is one, so they are bounded too


@st.cache_resource
def _store() -> tuple[LRU, threading.Lock]:
    """Process-wide results (feature banks, embeddings, projections) keyed by everything that made them."""
    return LRU(MAX_CACHED), threading.Lock()


def cached(key: tuple, compute):
    store, lock = _store()
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    value = compute()  # outside the lock: other sessions' hits need not wait for this work
    with lock:
        return store.get_or_make(key, lambda: value)


@st.cache_resource(show_spinner="Opening the dataset (once per process)...", max_entries=MAX_OPEN_DATASETS)
def open_dataset(source: str, spec_items: tuple, min_images: int, upload: bool = False):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset

    # A visitor's upload is unpacked already (within its limits); its decoded images stay in memory only.
    return get_dataset(source, "test", InputSpec(**dict(spec_items)), min_images=min_images, cache_arrays=not upload)


WORDS = {
    "glyph": {"group": "alphabet", "groups": "alphabets", "images": "drawings", "image": "drawing"},
    "photo": {"group": "group", "groups": "groups", "images": "images", "image": "image"},
}

page_style()  # the playground's compact header and paddings: the chart starts on a projector's first screen
st.title("Weight-embedding explorer")
choice = model_picker(key="explorer_model")
if choice is None:
    st.info("There is no model to explore yet: train one on the *Train it yourself* page, or run `make models`.")
    st.stop()
# The words for what the model reads: Omniglot's alphabets and drawings, or groups of photos.
W = WORDS["photo" if choice.channels == 3 else "glyph"]
st.caption(
    f"Each point is one class: its support images went through the model, whose generator turned them into "
    f"that class's classifier weights. **What to look for:** whether classes of one {W['group']} land together, "
    f"and how far a class moves when shots are added (click a point to see its {W['images']} and neighbours)."
)
try:
    serving = serving_from_env()
except ParamembedError as err:
    show_error(err)
    st.stop()
admin_token = None
if serving.on_network or serving.admin_token:
    admin_token = st.sidebar.text_input(
        "Admin token", type="password", key="explorer_admin_token",
        help="the server's PARAMEMBED_ADMIN_TOKEN: lets this session read folders on the server") or None
sources = [s for s in SOURCE_LABELS if s != "folder" or serving.may_read_folders(admin_token)]

# ============ what to embed ============
with st.sidebar:
    source = st.radio("Classes from", sources, format_func=SOURCE_LABELS.get, key="explorer_source")
    upload = folder = None
    if source == "upload":
        upload = st.file_uploader("Archive (.zip, .tar.gz, .tgz)", type=["zip", "gz", "tgz"], key="explorer_upload",
                                  max_upload_size=MAX_UPLOAD_BYTES // 2**20,
                                  help="alphabet/character/image or class/image folders, at most 100 MB")
    elif source == "folder":
        folder = st.text_input("Folder or archive on the server", key="explorer_folder",
                               help="only under: " + ", ".join(str(r) for r in serving.data_roots))
    n_classes = st.slider("Classes", 10, 500, DEFAULT_CLASSES, step=10, key="explorer_classes",
                          help=f"whole {W['groups']} in a seeded random order until this many classes; more takes longer")
    per_group = st.slider(f"Classes per {W['group']}", 2, 50, 10, key="explorer_per_group",
                          help=f"a seeded sample from each {W['group']}, so that a few classes still span several {W['groups']}")
    shots_list = st.multiselect("Shot counts to generate", SHOT_CHOICES, default=[1, 5],
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
        st.warning(f"The playground's task is not ready: {md_text(err)}")
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
    name = None
    try:
        if source == "procedural":
            name = procedural_source(model.config.input.channels)
        elif source == "upload":
            if upload is None:
                st.info("Upload an archive in the sidebar: alphabet/character/image folders (Omniglot) or class/image folders.")
                st.stop()
            if upload.size > MAX_UPLOAD_BYTES:  # the widget refuses these too; never trust one check
                raise ParamembedError(f"{upload.name!r} is over {MAX_UPLOAD_BYTES // 2**20} MB")
            # This session's own folder on disk: a new upload replaces its last one (explorer_sources).
            session = st.session_state.setdefault("explorer_session", new_session_id())
            stored = st.session_state.get("explorer_stored")
            if not stored or stored[0] != upload.file_id:
                st.session_state.pop("explorer_stored", None)
                stored = (upload.file_id, str(unpack_upload(session, upload.name, upload.getvalue())))
                st.session_state["explorer_stored"] = stored
            name = stored[1]
        else:
            if not (folder or "").strip():
                st.info("Type the path of a folder or archive under the shared folders in the sidebar.")
                st.stop()
            name = server_source(folder, serving, admin_token)
        dataset = open_dataset(name, spec_items, max(shots_list), upload=source == "upload")
    except ParamembedError as err:
        # An upload's messages name the upload, never the server folder it was unpacked into.
        show_error(ParamembedError(public_message(err, Path(name or uploads_root()), upload.name)) if source == "upload" else err)
        st.stop()
    data_key = (name,)

try:
    classes = E.pick_classes(dataset, n_classes, seed=int(seed), min_drawings=max(shots_list), per_group=per_group)
except ParamembedError as err:
    show_error(err)
    st.stop()


def with_progress(text: str, work):
    bar = st.progress(0.0, text=text)
    try:
        with model_lock(choice.path):
            return work(lambda f, label: bar.progress(min(1.0, f), text=label))
    finally:
        bar.empty()


bank_key = ("bank", choice.path, data_key, tuple(classes), max(shots_list), int(seed))
emb_key = bank_key + (shots_list,)
try:
    bank = cached(bank_key, lambda: with_progress(f"Reading the {W['images']}...", lambda report: E.feature_bank(
        model, dataset, classes, max(shots_list), seed=int(seed), progress=report)))
    emb = cached(emb_key, lambda: with_progress("Generating classifiers...", lambda report: E.generate_embeddings(
        model, bank, shots_list, progress=report)))
except ParamembedError as err:
    show_error(err)
    st.stop()

# An uploaded archive is stored as upload-<digest>...: the legend says the file's own name instead.
group_names = {str(a): upload.name.rsplit(".", 2)[0] for a in set(emb.alphabets) if str(a).startswith("upload-")} \
    if source == "upload" and upload is not None else {}
st.write(
    f"**{len(classes)} classes** from {len(set(emb.alphabets))} {W['group']}(s), at {', '.join(map(str, shots_list))} shot(s); "
    f"model **{choice.label}** (method `{emb.method}`"
    + (", a MAML model has no generator, so its prototypes are shown" if choice.generator == "maml" else "") + ")."
)


@st.fragment
def explore() -> None:
    """Projection, search, selection, drift and export: reruns alone when one of its widgets changes."""
    c1, c2, c3, c4, c5 = st.columns(5)
    space = c1.selectbox("Vectors", list(SPACES), format_func=lambda s: SPACES[s].split(" (")[0], key="explorer_space",
                         help="; ".join(f"{k}: {v}" for k, v in SPACES.items()))
    method = c2.selectbox("Projection", P.available_projections(), key="explorer_projection",
                          format_func=P.PROJECTION_LABELS.get,
                          help="PCA is instant; t-SNE separates clusters better and takes a few seconds")
    dims = c3.radio("Dimensions", (2, 3), horizontal=True, key="explorer_dims", format_func=lambda d: f"{d}D")
    shown = c4.selectbox("Shots shown", ["all"] + list(shots_list), index=len(shots_list), key="explorer_shown")
    colour = c5.selectbox("Colour by", ("alphabet", "class", "shots"), key="explorer_colour",
                          format_func=lambda c: W["group"] if c == "alphabet" else c)

    rows = np.arange(len(emb)) if shown == "all" else np.flatnonzero(emb.shots == int(shown))
    vectors = emb.vectors(space)[rows]
    if len(rows) < dims + 1:
        st.warning(f"A {dims}D projection needs at least {dims + 1} points; this selection has {len(rows)}.")
        return
    s1, s2 = st.columns([3, 1])
    query = s1.text_input("Find classes", key="explorer_search", placeholder=f"part of a class or {W['group']} name",
                          help="matching points stay bright, the rest are dimmed")
    can_draw = dims == 2 and len(rows) <= MAX_THUMBNAILS
    label = f"{W['images'].capitalize()} on the plot"
    if can_draw:
        thumbnails = s2.checkbox(label, value=True, key="explorer_thumbnails",
                                 help=f"each point's first support {W['image']}, for 2D plots of up to {MAX_THUMBNAILS} points")
    else:  # shown off, not greyed-but-ticked: nothing is drawn on a 3D or crowded plot
        thumbnails = s2.checkbox(label, value=False, key="explorer_thumbnails_off", disabled=True,
                                 help=f"only on 2D plots of up to {MAX_THUMBNAILS} points")
    try:
        with st.spinner(f"Projecting {len(rows)} points with {P.PROJECTION_LABELS[method]}..."):
            xy = cached(("proj",) + emb_key + (space, str(shown), method, dims),
                        lambda: P.project(vectors, method, dims, seed=int(seed)))
    except ParamembedError as err:
        show_error(err)
        return

    names, alphabets = emb.names[rows], emb.alphabets[rows]
    matches = P.match_labels(query, names, alphabets)
    if query.strip():
        if matches.any():
            st.caption(f"{int(matches.sum())} of {len(rows)} points match {md_text(repr(query.strip()))}.")
        else:
            st.warning(f"No class or {W['group']} matches {md_text(repr(query.strip()))}.")
    axes = P.axis_titles(vectors, method, dims)  # PCA: "PC1 (23% of variance)"
    fig = F.class_scatter(emb, rows, xy, colour, matches, thumbnails=thumbnails and can_draw, group_word=W["group"],
                          group_names=group_names, axes=axes)
    # theme=None: Streamlit's theme recolours the traces, and the drawings must keep their points' colours.
    event = st.plotly_chart(fig, key="explorer_chart", on_select="rerun" if dims == 2 else "ignore", theme=None,
                            selection_mode=("points", "box", "lasso"), width="stretch")
    # Under the chart, not above it: at 1280x720 the chart starts on the first screen.
    st.caption("Click a point to select it (shift-click adds more), or choose the lasso or box in the chart's "
               f"toolbar to select many; you see their {W['images']} and nearest neighbours below."
               if dims == 2 else "3D charts cannot be selected on: pick classes in the box below the chart.")

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
            left.markdown(f"**{md_text(emb.names[r])}** · {md_text(group_names.get(str(emb.alphabets[r]), emb.alphabets[r]))} · {shots}-shot support")
            left.image([emb.drawing(ci, s) for s in range(shots)], width=56, clamp=True)
            near = P.cosine_neighbours(all_vectors, r, k, candidates=np.flatnonzero(emb.shots == shots))
            right.markdown(f"Nearest by cosine ({SPACES[space].split(' (')[0]}, same shots):")
            right.image([emb.drawing(int(emb.class_index[j]), 0) for j, _ in near], width=56, clamp=True,
                        caption=[md_text(f"{emb.names[j].split('/')[-1]} {s:.2f}") for j, s in near])
            right.caption(", ".join(f"{md_text(emb.names[j])} ({s:.3f})" for j, s in near))
    else:
        st.caption("Nothing selected yet.")

    # ============ drift with shots ============
    if len(shots_list) > 1:
        st.subheader("How a class's embedding moves as shots are added")
        drift_space = st.radio("Drift of", ("embedding", "weights"), horizontal=True, key="explorer_drift_space")
        drift = E.embedding_drift(emb, drift_space)
        line = F.drift_figure(emb, drift, drift_space, selected[:8])
        st.plotly_chart(line, key="explorer_drift", width="stretch")
        st.caption("Selected classes are drawn as their own lines.")

    # ============ export ============
    st.subheader("Export for the Embedding Projector")
    vec_tsv, meta_tsv = P.projector_tsv(vectors, emb.metadata(rows))
    stem = f"{Path(choice.path).name}-{space}-{shown}shot"
    d1, d2 = st.columns(2)
    d1.download_button("vectors.tsv", vec_tsv, file_name=f"{stem}-vectors.tsv", mime="text/tab-separated-values", key="explorer_dl_vectors")
    d2.download_button("metadata.tsv", meta_tsv, file_name=f"{stem}-metadata.tsv", mime="text/tab-separated-values", key="explorer_dl_metadata")
    st.caption(f"{len(rows)} rows of {vectors.shape[1]} numbers; load both files at projector.tensorflow.org ('Load').")


explore()

# ============ weights vs prototypes ============
st.subheader("Generated weights vs plain prototypes")
agreement = P.rowwise_cosine(emb.weights, emb.prototypes)
if emb.method == "proto":
    st.caption("This model's weights *are* its prototypes (imprinting), so every cosine is 1.")
box = px.box({"cosine(weights, prototype)": agreement, "shots": emb.shots.astype(str)}, x="shots",
             y="cosine(weights, prototype)", points="outliers", height=320)
st.plotly_chart(box, key="explorer_agreement", width="stretch")
st.caption("Per class: how far the generator moves the weights away from the class mean. Mean cosine "
           + ", ".join(f"{k}-shot {agreement[emb.shots == k].mean():.3f}" for k in shots_list) + ".")
