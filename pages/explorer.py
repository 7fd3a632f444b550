"""Weight-embedding explorer: many classes' parameter embeddings and generated weights, projected.

The page only wires widgets to `paramembed.embeddings` (features, generation), `paramembed.projection`
(projections, search, thumbnails), `paramembed.app.explorer_figures` (the plots) and
`paramembed.explorer_sources` (what may be read). Feature banks, embeddings and projections are
cached per process (`paramembed.app.explorer_data`; the launcher's warm-up computes the default
view ahead); the plot and everything that depends on the selection live in one fragment, so a
widget there reruns only that part of the page; below the plot, only the open tab is drawn. Once a
PCA view is drawn, its t-SNE is computed in the background (the first one imports scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from paramembed import embeddings as E
from paramembed import projection as P
from paramembed.app import explorer_figures as F
from paramembed.app.display import md_text
from paramembed.app.layout import page_style
from paramembed.app.library_text import library_text
from paramembed.app.messages import say
from paramembed.app.explorer_data import (
    DEFAULT_CLASSES, DEFAULT_PER_GROUP, DEFAULT_SHOTS, ViewKeys, cached, open_dataset, spec_items, store,
)
from paramembed.errors import ParamembedError
from paramembed.explorer_sources import (
    MAX_UPLOAD_BYTES, new_session_id, procedural_source, public_message, server_source, unpack_upload, uploads_root,
)
from paramembed.serving import serving_from_env
from paramembed.ui import load_model_cached, model_label, model_lock, model_picker, show_error

SPACES = ("embedding", "weights", "prototypes")  # named by say("space_<name>"), explained by say("space_<name>_help")
SOURCE_LABELS = {  # message keys
    "procedural": "source_procedural",
    "upload": "source_archive",
    "folder": "source_folder",
    "playground": "source_playground",
}
SHOT_CHOICES = (1, 2, 5, 10)
MAX_THUMBNAILS = 300
PREFETCH_TSNE_UP_TO = MAX_THUMBNAILS  # points: a larger t-SNE is minutes of CPU nobody may ask for


page_style()  # the playground's compact header and paddings: the chart starts on a projector's first screen
st.title(say("explorer_title"))
choice = model_picker(key="explorer_model")
if choice is None:
    st.info(say("no_model_to_explore"))
    st.stop()
# What the model reads, for the words: Omniglot's alphabets and drawings, or groups of photos. Each
# sentence that names them is one message per family (say("..._glyph") / say("..._photo")).
FAMILY = "photo" if choice.channels == 3 else "glyph"
GROUP = say("colour_group" if FAMILY == "photo" else "colour_alphabet")  # the legend's and hover's word
st.caption(say(f"explorer_intro_{FAMILY}"))
try:
    serving = serving_from_env()
except ParamembedError as err:
    show_error(err)
    st.stop()
admin_token = None
if serving.on_network or serving.admin_token:
    admin_token = st.sidebar.text_input(
        say("admin_token"), type="password", key="explorer_admin_token",
        help=say("admin_token_explorer_help")) or None
sources = [s for s in SOURCE_LABELS if s != "folder" or serving.may_read_folders(admin_token)]

# ============ what to embed ============
with st.sidebar:
    source = st.radio(say("classes_from"), sources, format_func=lambda s: say(SOURCE_LABELS[s]), key="explorer_source")
    upload = folder = None
    if source == "upload":
        upload = st.file_uploader(say("archive_upload"), type=["zip", "gz", "tgz"], key="explorer_upload",
                                  max_upload_size=MAX_UPLOAD_BYTES // 2**20, help=say("archive_upload_help"))
    elif source == "folder":
        folder = st.text_input(say("server_folder"), key="explorer_folder",
                               help=say("server_folder_help", roots=say("name_separator").join(str(r) for r in serving.data_roots)))
    n_classes = st.slider(say("classes"), 10, 500, DEFAULT_CLASSES, step=10, key="explorer_classes",
                          help=say(f"classes_help_{FAMILY}"))
    per_group = st.slider(say(f"per_group_{FAMILY}"), 2, 50, DEFAULT_PER_GROUP, key="explorer_per_group",
                          help=say(f"per_group_help_{FAMILY}"))
    shots_list = st.multiselect(say("shot_counts"), SHOT_CHOICES, default=list(DEFAULT_SHOTS), placeholder=say("choose_options"),
                                key="explorer_shots", help=say("shot_counts_help"))
    seed = st.number_input(say("seed"), 0, 10_000, 0, key="explorer_seed")

if not shots_list:
    st.warning(say("choose_shot_count"))
    st.stop()
shots_list = tuple(sorted(shots_list))

try:
    model = load_model_cached(choice.path)
except ParamembedError as err:
    show_error(err)
    st.stop()
spec = spec_items(model)

if source == "playground":
    draft = st.session_state.get("draft")
    try:
        task = draft.build() if draft is not None else None
    except ParamembedError as err:
        task = None
        st.warning(say("playground_not_ready", detail=md_text(library_text(err))))
    if task is None or task.ways < 2:
        st.info(say("build_playground_task"))
        st.stop()
    from paramembed.tasks import preprocess_task

    support, _ = preprocess_task(task, model.config.input)
    dataset = E.SupportClasses(support, list(task.support_labels), task.class_names, group="playground task")
    fewest = min(task.shots())
    if max(shots_list) > fewest:
        st.info(say("playground_fewest", n=fewest))
    shots_list = tuple(k for k in shots_list if k <= fewest) or (fewest,)
    data_key = ("playground", task.key)
else:
    name = None
    try:
        if source == "procedural":
            name = procedural_source(model.config.input.channels)
        elif source == "upload":
            if upload is None:
                st.info(say("upload_archive_hint"))
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
                st.info(say("type_folder_hint"))
                st.stop()
            name = server_source(folder, serving, admin_token)
        with st.spinner(say("opening_dataset")):
            dataset = open_dataset(name, spec, max(shots_list), upload=source == "upload")
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


keys = ViewKeys.of(choice.path, data_key, classes, shots_list, int(seed))
try:
    reading = say("reading_images_progress" if FAMILY == "photo" else "reading_drawings")
    bank = cached(keys.bank, lambda: with_progress(reading, lambda report: E.feature_bank(
        model, dataset, classes, max(shots_list), seed=int(seed), progress=report)))
    emb = cached(keys.embeddings, lambda: with_progress(say("generating_classifiers"), lambda report: E.generate_embeddings(
        model, bank, shots_list, progress=report)))
except ParamembedError as err:
    show_error(err)
    st.stop()

# An uploaded archive is stored as upload-<digest>...: the legend says the file's own name instead.
group_names = {str(a): upload.name.rsplit(".", 2)[0] for a in set(emb.alphabets) if str(a).startswith("upload-")} \
    if source == "upload" and upload is not None else {}
summary = "explorer_summary" + ("_maml" if choice.generator == "maml" else "") + ("_photo" if FAMILY == "photo" else "")
st.write(say(summary, classes=len(classes), groups=len(set(emb.alphabets)), shots=say("name_separator").join(map(str, shots_list)),
             model=model_label(choice), method=emb.method))


@st.fragment
def explore() -> None:
    """Projection, search, selection, drift and export: reruns alone when one of its widgets changes."""
    c1, c2, c3, c4, c5 = st.columns(5)
    space = c1.selectbox(say("vectors"), SPACES, format_func=lambda s: say(f"space_{s}"), key="explorer_space",
                         help=say("list_separator").join(say(f"space_{s}_help") for s in SPACES))
    method = c2.selectbox(say("projection"), P.available_projections(), key="explorer_projection",
                          format_func=P.PROJECTION_LABELS.get, help=say("projection_help"))
    dims = c3.radio(say("dimensions"), (2, 3), horizontal=True, key="explorer_dims", format_func=lambda d: say("dims_label", dims=d))
    shown = c4.selectbox(say("shots_shown"), ["all"] + list(shots_list), index=len(shots_list), key="explorer_shown",
                         format_func=lambda k: say("shots_all") if k == "all" else str(k))
    colour = c5.selectbox(say("colour_by"), ("alphabet", "class", "shots"), key="explorer_colour",
                          format_func=lambda c: GROUP if c == "alphabet" else say(f"colour_{c}"))

    rows = np.arange(len(emb)) if shown == "all" else np.flatnonzero(emb.shots == int(shown))
    vectors = emb.vectors(space)[rows]
    if len(rows) < dims + 1:
        st.warning(say("projection_too_few", dims=dims, need=dims + 1, have=len(rows)))
        return
    s1, s2 = st.columns([3, 1])
    query = s1.text_input(say("find_classes"), key="explorer_search", placeholder=say(f"find_placeholder_{FAMILY}"),
                          help=say("find_help"))
    can_draw = dims == 2 and len(rows) <= MAX_THUMBNAILS
    label = say("images_on_plot" if FAMILY == "photo" else "drawings_on_plot")
    if can_draw:
        thumbnails = s2.checkbox(label, value=True, key="explorer_thumbnails",
                                 help=say(f"thumbnails_help_{FAMILY}", n=MAX_THUMBNAILS))
    else:  # shown off, not greyed-but-ticked: nothing is drawn on a 3D or crowded plot
        thumbnails = s2.checkbox(label, value=False, key="explorer_thumbnails_off", disabled=True,
                                 help=say("thumbnails_off_help", n=MAX_THUMBNAILS))
    def projection_key(method: str) -> tuple:
        return keys.projection(space, str(shown), method, dims)

    try:
        with st.spinner(say("projecting", n=len(rows), method=P.PROJECTION_LABELS[method])):
            xy = cached(projection_key(method), lambda: P.project(vectors, method, dims, seed=int(seed)))
    except ParamembedError as err:
        show_error(err)
        return

    names, alphabets = emb.names[rows], emb.alphabets[rows]
    matches = P.match_labels(query, names, alphabets)
    if query.strip():
        if matches.any():
            st.caption(say("search_matches", matches=int(matches.sum()), n=len(rows), query=md_text(repr(query.strip()))))
        else:
            st.warning(say(f"search_none_{FAMILY}", query=md_text(repr(query.strip()))))
    axes = F.axis_titles(vectors, method, dims)  # PCA: "PC1 (23% of variance)"
    fig = F.class_scatter(emb, rows, xy, colour, matches, thumbnails=thumbnails and can_draw, group_word=GROUP,
                          group_names=group_names, axes=axes)
    # theme=None: Streamlit's theme recolours the traces, and the drawings must keep their points' colours.
    event = st.plotly_chart(fig, key="explorer_chart", on_select="rerun" if dims == 2 else "ignore", theme=None,
                            selection_mode=("points", "box", "lasso"), width="stretch")
    # Under the chart, not above it: at 1280x720 the chart starts on the first screen.
    st.caption(say(f"select_hint_{FAMILY}") if dims == 2 else say("select_hint_3d"))

    # ============ selection: drawings and nearest neighbours ============
    selected = []
    if dims == 2 and event and event.selection and event.selection.points:
        selected = [int(p["customdata"][0]) for p in event.selection.points if p.get("customdata")]
    by_label = {say("pick_option", name=emb.names[r], shots=emb.shots[r]): int(r) for r in rows}
    picked = st.multiselect(say("or_pick_classes"), list(by_label), key="explorer_picked", max_selections=12,
                            placeholder=say("choose_options"))
    selected = list(dict.fromkeys(selected + [by_label[p] for p in picked if p in by_label]))
    if selected:
        k = st.slider(say("neighbours"), 1, 10, 5, key="explorer_neighbours")
        st.subheader(say("selected_count_first" if len(selected) > 8 else "selected_count", n=len(selected)))
        all_vectors = emb.vectors(space)
        for r in selected[:8]:
            ci, shots = int(emb.class_index[r]), int(emb.shots[r])
            left, right = st.columns([2, 3])
            left.markdown(say("selected_line", name=md_text(emb.names[r]), shots=shots,
                              group=md_text(group_names.get(str(emb.alphabets[r]), emb.alphabets[r]))))
            left.image([emb.drawing(ci, s) for s in range(shots)], width=56, clamp=True)
            near = P.cosine_neighbours(all_vectors, r, k, candidates=np.flatnonzero(emb.shots == shots))
            right.markdown(say("nearest_by_cosine", space=say(f"space_{space}")))
            right.image([emb.drawing(int(emb.class_index[j]), 0) for j, _ in near], width=56, clamp=True,
                        caption=[md_text(say("neighbour_caption", name=emb.names[j].split('/')[-1], value=f"{s:.2f}"))
                                 for j, s in near])
            right.caption(say("name_separator").join(say("neighbour_item", name=md_text(emb.names[j]), value=f"{s:.3f}")
                                                     for j, s in near))
    else:
        st.caption(say("nothing_selected"))

    # ============ below the chart: one tab drawn at a time ============
    # Only the open tab's content runs (on_change="rerun", `.open`): the page opens on the evidence
    # that generated weights differ from prototypes, and the drift chart and the export are made when
    # their tab is opened. Drawn on every first open, the drift section (a third Plotly chart and its
    # widgets) kept the first open over 0.5 s (issue 22; `bench --only app` pairs: 0.50 -> 0.41 s).
    agreement_tab, drift_tab, export_tab = st.tabs(
        [say("weights_vs_prototypes"), say("tab_drift"), say("tab_export")], key="explorer_tab", on_change="rerun")
    with agreement_tab:
        if agreement_tab.open:
            agreement = P.rowwise_cosine(emb.weights, emb.prototypes)
            if emb.method == "proto":
                st.caption(say("proto_is_imprinting"))
            st.plotly_chart(F.agreement_box(agreement, emb.shots), key="explorer_agreement", width="stretch")
            st.caption(say("agreement_caption", values=say("name_separator").join(
                say("shot_mean", k=k, value=f"{agreement[emb.shots == k].mean():.3f}") for k in shots_list)))
    with drift_tab:
        if drift_tab.open and len(shots_list) < 2:
            st.info(say("drift_needs_two"))
        elif drift_tab.open:
            st.subheader(say("drift_heading"))
            drift_space = st.radio(say("drift_of"), ("embedding", "weights"), horizontal=True, key="explorer_drift_space",
                                   format_func=lambda d: say(f"drift_{d}"))
            drift = E.embedding_drift(emb, drift_space)
            line = F.drift_figure(emb, drift, drift_space, selected[:8])
            st.plotly_chart(line, key="explorer_drift", width="stretch")
            st.caption(say("drift_caption"))
    with export_tab:
        if export_tab.open:
            st.subheader(say("export_heading"))
            vec_tsv, meta_tsv = P.projector_tsv(vectors, emb.metadata(rows))
            stem = f"{Path(choice.path).name}-{space}-{shown}shot"
            d1, d2 = st.columns(2)
            d1.download_button("vectors.tsv", vec_tsv, file_name=f"{stem}-vectors.tsv", mime="text/tab-separated-values",
                               key="explorer_dl_vectors", on_click="ignore")
            d2.download_button("metadata.tsv", meta_tsv, file_name=f"{stem}-metadata.tsv", mime="text/tab-separated-values",
                               key="explorer_dl_metadata", on_click="ignore")
            st.caption(say("export_caption", rows=len(rows), numbers=vectors.shape[1]))

    # Last, once this view is sent: the t-SNE of the same points, while the browser draws the chart.
    if method != "tsne" and "tsne" in P.available_projections() and len(rows) <= PREFETCH_TSNE_UP_TO:
        # scikit-learn's first import, on the prefetch's thread, imports pandas while this page's next
        # run builds Plotly figures, which look pandas up: two doors into one half-built module (see
        # app.py; an AppTest of this page failed on it). Through its own door first; under app.py it is in.
        import pandas  # noqa: F401

        store().prefetch(projection_key("tsne"), lambda: P.project(vectors, "tsne", dims, seed=int(seed)))


explore()
