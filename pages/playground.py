"""Playground: make a few-shot task (sample, upload, draw, photograph), see the generated classifier.

Page flow: sidebar (model, method, device) -> a task (sampled, or the draft built by hand) ->
the model that suits it (photos -> a photo model, drawings -> a glyph model, unless the user
picked one) -> the support set as the model sees it -> adapt + predict -> parameters, queries, download.
All the work is in `paramembed.tasks`, `paramembed.export` and `paramembed.ui`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from paramembed import METHODS, ParamembedError, ui
from paramembed.data.preprocess import IMAGE_SUFFIXES
from paramembed.export import classifier_to_bytes, usage_snippet
from paramembed.family import PHOTO, suggest_family
from paramembed.tasks import LIMITS, TaskDraft, drawing_to_png, preprocess_task, sample_task, solve, to_display

UPLOAD_TYPES = sorted({s.lstrip(".") for s in IMAGE_SUFFIXES})
SOURCES = ("Sample", "Upload", "Draw", "Camera")
UNLABELLED = ("query", None)

st.title("🎯 Playground")
st.caption(
    "Give a few examples per class; the model reads them and generates a classifier's weights in one "
    "forward pass. Then it classifies the queries."
)

# ============ sidebar: model, method, device ============
def on_pick_model() -> None:
    # A pick made while building a task by hand holds for that task (until "Start over");
    # a pick made for sampled tasks does not stop the app from routing uploaded photos.
    if st.session_state.get("task_source", "Sample") != "Sample":
        st.session_state["model_picked_for"] = st.session_state.get("draft_round", 0)
    # The ResNet-18 option has no generator of its own: imprinting (proto) is what it is for.
    if st.session_state.get("model") == ui.PRETRAINED.path:  # the picker's value is the entry's path
        st.session_state["method"] = ui.PRETRAINED.generator


choices = ui.find_models()
picked = ui.model_picker(extra=(ui.PRETRAINED,), on_change=on_pick_model)
if picked is None:
    st.info("No model to run: see the sidebar.")
    st.stop()
st.sidebar.toggle(
    "Pick the model family automatically", value=True, key="auto_family",
    help="for tasks you make: photos go to a photo model, drawings to a glyph model. Off: always the model picked above",
)
method = ui.method_picker(picked)
compare = st.sidebar.multiselect(
    "Compare side by side with", [m for m in METHODS if m != method], key="compare",
    help="runs these methods on the same task too, with their accuracies and times",
)
device = ui.device_picker()
top_k = st.sidebar.slider("Classes shown per query", 1, 5, 3, key="top_k")
st.sidebar.caption(f"**Limits:** {LIMITS.describe()}.")



def load(choice: ui.ModelChoice):
    return ui.load_pretrained_cached(device)[0] if ui.is_pretrained(choice) else ui.load_model_cached(choice.path, device)


def resolve(selected: ui.ModelChoice):
    """The model the task runs on -> (selected, runner, model): the ResNet-18 option falls back
    to the shipped photo model when its weights are missing; `runner` is the model for `method`."""
    try:
        if ui.is_pretrained(selected):
            _, notice = ui.load_pretrained_cached(device)
            if notice:
                st.warning(notice)
                fallback = ui.shipped_or_first(choices, 3, "photo")
                if fallback is None:
                    st.info("No photo model to fall back on (assets/models/photo is absent).")
                    st.stop()
                selected = fallback
        runner = ui.model_for_method(method, selected, choices)
        if runner is None:
            st.info(f"No {method} model is available (assets/models/{method} is absent); pick another method or model.")
            st.stop()
        model = load(runner)
    except ParamembedError as err:
        ui.show_error(err)
        st.stop()
    if runner is not selected:
        st.sidebar.caption(f"{method} runs on the model in `{runner.path}`.")
    return selected, runner, model


# ============ notices: messages from callbacks, shown once ============
def notify(messages: list[str], level: str = "warning") -> None:
    st.session_state.setdefault("notices", []).extend((level, m) for m in messages)


def show_notices() -> None:
    for level, message in st.session_state.pop("notices", []):
        (st.error if level == "error" else st.success if level == "success" else st.warning)(message)


# ============ making the task ============
@st.cache_resource(max_entries=4, show_spinner=False)
def sampling_dataset(channels: int, image_size: int, margin: int):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset

    source = "procedural" if channels == 1 else "procedural-photo"
    return get_dataset(source, "test", InputSpec(channels=channels, image_size=image_size, margin=margin))


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_sample(channels, image_size, margin, ways, shots, queries, within, seed, index):
    dataset = sampling_dataset(channels, image_size, margin)
    return sample_task(dataset, ways, shots, queries, within, seed, index)


def sample_section(spec):
    cols = st.columns(5)
    ways = cols[0].number_input("Ways (classes)", 2, 20, 5, key="sample_ways")
    shots = cols[1].number_input("Shots per class", 1, 10, 5, key="sample_shots")
    queries = cols[2].number_input("Queries per class", 1, 10, 3, key="sample_queries")
    seed = cols[3].number_input("Seed", 0, 1_000_000, 0, key="sample_seed")
    cols[4].write("")
    if cols[4].button("🎲 New task", key="sample_new"):
        st.session_state["sample_index"] = st.session_state.get("sample_index", 0) + 1
    within = st.checkbox("All classes from one alphabet (harder: similar-looking characters)", key="sample_within")
    index = st.session_state.get("sample_index", 0)
    st.caption(f"Task #{index} of seed {seed}, drawn from the procedural test alphabets (never seen in training).")
    try:
        return cached_sample(spec.channels, spec.image_size, spec.margin, int(ways), int(shots), int(queries),
                             bool(within), int(seed), index)
    except (ParamembedError, ImportError) as err:
        st.info(f"Sampling is not available for this model: {err}")
        return None


def draft() -> TaskDraft:
    return st.session_state.setdefault("draft", TaskDraft())


def start_over() -> None:
    draft().clear()
    # A new task: the app picks its model family again.
    st.session_state["draft_round"] = st.session_state.get("draft_round", 0) + 1


def route(task, picked: ui.ModelChoice) -> ui.ModelChoice:
    """The model for a hand-made task: the suggested family's, unless the user chose otherwise."""
    if not st.session_state.get("auto_family", True):
        return picked
    support_key = tuple(img.digest for images in draft().classes.values() for img in images)
    suggestion = ui.memo("family", support_key, lambda: suggest_family(task.support))
    what = "photos" if suggestion.family == PHOTO else "drawings"
    chosen = ui.model_for_family(suggestion.family, picked, choices)
    if st.session_state.get("model_picked_for") == st.session_state.get("draft_round", 0):
        if chosen is not picked:
            st.caption(f"These look like {what} ({suggestion.reason}), but you picked **{picked.label}** in the sidebar for this task.")
            st.button("Let the app pick the model family again", key="family_reset",
                      on_click=lambda: st.session_state.pop("model_picked_for", None))
        return picked
    if chosen is None:
        st.warning(f"These look like {what} ({suggestion.reason}), but no {suggestion.family} model is available: using {picked.label}.")
        return picked
    st.info(
        f"These look like {what} ({suggestion.reason}): using the {suggestion.family} model **{chosen.label}**. "
        "Change it in the sidebar (pick a model, or turn off “Pick the model family automatically”)."
    )
    return chosen


def class_id(name: str) -> int:
    """A stable number per class, so its widgets keep their keys when classes are renamed or removed."""
    ids = st.session_state.setdefault("class_ids", {})
    if name not in ids:
        ids[name] = st.session_state["next_class_id"] = st.session_state.get("next_class_id", 0) + 1
    return ids[name]


def new_files(files, widget: str) -> list[tuple[str, bytes]]:
    """Uploaded files this widget has not delivered before (the uploader keeps them between reruns)."""
    seen = st.session_state.setdefault("seen_files", set())
    fresh = [f for f in (files if isinstance(files, list) else [files] if files else []) if (widget, f.file_id) not in seen]
    seen.update((widget, f.file_id) for f in fresh)
    return [(f.name, f.getvalue()) for f in fresh]


def on_add_class() -> None:
    try:
        name = draft().add_class(st.session_state.get("new_class_name", ""))
        st.session_state["new_class_name"] = ""
        notify([f"Added class {name!r}."], "success")
    except ParamembedError as err:
        notify([str(err)], "error")


def on_rename(old: str, key: str) -> None:
    try:
        new = draft().rename_class(old, st.session_state[key])
        ids = st.session_state.setdefault("class_ids", {})
        if old in ids:
            ids[new] = ids.pop(old)
        st.session_state[key] = new
    except ParamembedError as err:
        st.session_state[key] = old  # keep the old name in the box: nothing changed
        notify([str(err)], "error")


def on_remove(name: str) -> None:
    draft().remove_class(name)
    notify([f"Removed class {name!r}."], "success")


def targets(d: TaskDraft) -> list[tuple[str, str | None]]:
    return [("class", n) for n in d.classes] + [UNLABELLED] + [("query", n) for n in d.classes]


def target_label(target: tuple[str, str | None]) -> str:
    kind, name = target
    if kind == "class":
        return f"Class: {name}"
    return "Query (unlabelled)" if name is None else f"Query labelled {name}"


def add_to(target: tuple[str, str | None], files: list[tuple[str, bytes]]) -> list[str]:
    kind, name = target
    return draft().add_files(name, files) if kind == "class" else draft().add_query_files(files, name)


def report(problems: list[str], added: str) -> None:
    for p in problems:
        st.warning(p)
    if not problems:
        st.success(added)


def class_editor(source: str) -> None:
    d = draft()
    c1, c2 = st.columns([3, 1])
    c1.text_input("New class name", key="new_class_name", placeholder="e.g. cat, alpha, my signature")
    c2.write("")
    c2.button("➕ Add class", key="add_class", on_click=on_add_class)
    show_notices()
    for name, images in list(d.classes.items()):
        cid = class_id(name)
        with st.container(border=True):
            cols = st.columns([3, 2, 1, 1])
            key = f"class_name_{cid}"
            if st.session_state.get(key) != name:
                st.session_state[key] = name
            cols[0].text_input("Class name", key=key, on_change=on_rename, args=(name, key), label_visibility="collapsed")
            count = cols[1].empty()  # filled in below, after this run's uploads are added
            if cols[2].button("Clear images", key=f"clear_class_{cid}"):
                images.clear()
                st.rerun()
            cols[3].button("🗑 Remove", key=f"remove_class_{cid}", on_click=on_remove, args=(name,))
            if source == "Upload":
                files = st.file_uploader(
                    f"Images for class '{name}'", type=UPLOAD_TYPES, accept_multiple_files=True, key=f"upload_images_{cid}"
                )
                fresh = new_files(files, f"upload_images_{cid}")
                if fresh:
                    report(d.add_files(name, fresh), f"Added {len(fresh)} image(s) to {name!r}.")
            count.caption(f"{len(images)} / {LIMITS.max_images_per_class} images")
            if images:
                st.image([img.image for img in images], width=56, caption=[img.name[:14] for img in images])


def query_list() -> None:
    d = draft()
    if not d.queries:
        return
    c1, c2 = st.columns([4, 1])
    c1.markdown(f"**Queries ({len(d.queries)} / {LIMITS.max_queries})**")
    if c2.button("Clear queries", key="clear_queries"):
        d.queries.clear()
        st.rerun()
    st.image([img.image for img, _ in d.queries], width=56, caption=[label or "?" for _, label in d.queries])


def upload_section() -> None:
    d = draft()
    with st.expander("📦 A whole task as one zip (ImageFolder layout)", expanded=not d.classes):
        st.caption("`<class>/<image>` for each class; optional `query/<image>` (unlabelled) or `query/<class>/<image>` queries.")
        zipped = st.file_uploader("Task zip", type=["zip"], key="upload_zip")
        for name, data in new_files(zipped, "upload_zip"):
            try:
                before = sum(len(v) for v in d.classes.values()) + len(d.queries)
                problems = d.add_zip(data, name)
                added = sum(len(v) for v in d.classes.values()) + len(d.queries) - before
                report(problems, f"{name}: added {added} images.")
            except ParamembedError as err:
                st.error(str(err))
    class_editor("Upload")
    with st.container(border=True):
        options = [UNLABELLED] + [("query", n) for n in d.classes]
        label = st.selectbox("Label of the next query images", options, format_func=target_label, key="query_label")
        files = st.file_uploader("Query images", type=UPLOAD_TYPES, accept_multiple_files=True, key="upload_queries")
        fresh = new_files(files, "upload_queries")
        if fresh:
            report(d.add_query_files(fresh, label[1]), f"Added {len(fresh)} query image(s).")
    query_list()


def draw_section() -> None:
    class_editor("Draw")
    d = draft()
    if not d.classes:
        st.info("Add a class first, then draw its examples here.")
        return
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as err:  # a frontend component: its import can fail outside a real server
        st.warning(f"The drawing canvas is unavailable here ({err}); use Upload or Camera instead.")
        return
    target = st.selectbox("Add the drawing to", targets(d), format_func=target_label, key="draw_target")
    n = st.session_state.get("canvas_round", 0)
    canvas = st_canvas(
        stroke_width=14, stroke_color="#000000", background_color="#ffffff", height=280, width=280,
        drawing_mode="freedraw", return_image_data=True, key=f"draw_canvas_{n}",
    )
    if st.button("Add drawing", key="draw_add"):
        try:
            if canvas is None or canvas.image_data is None:
                raise ParamembedError("the drawing is empty: draw something first")
            png = drawing_to_png(canvas.image_data)
        except ParamembedError as err:
            st.warning(str(err))
        else:
            problems = add_to(target, [(f"drawing-{n + 1}.png", png)])
            if problems:
                report(problems, "")
            else:
                st.session_state["canvas_round"] = n + 1  # a fresh key gives an empty canvas
                notify([f"Added the drawing to {target_label(target)}."], "success")
                st.rerun()
    query_list()


def camera_section() -> None:
    class_editor("Camera")
    d = draft()
    if not d.classes:
        st.info("Add a class first, then photograph its examples here.")
        return
    target = st.selectbox("Add the photo to", targets(d), format_func=target_label, key="camera_target")
    photo = st.camera_input("Take a photo", key="camera_shot")
    if st.button("Add photo", key="camera_add"):
        if photo is None:
            st.warning("Take a photo first.")
        else:
            n = st.session_state["photo_count"] = st.session_state.get("photo_count", 0) + 1
            report(add_to(target, [(f"photo-{n}.jpg", photo.getvalue())]), f"Added the photo to {target_label(target)}.")
    query_list()


source = st.radio("Make a task by", SOURCES, horizontal=True, key="task_source")
if source == "Sample":
    # Sampled tasks are procedural glyphs (or photos for a photo model): the sidebar's model runs them.
    selected, runner, model = resolve(picked)
    spec = model.config.input
    task = sample_section(spec)
else:
    st.caption(
        "Upload, Draw and Camera all add to the same task, so you can mix them. "
        f"Limits: {LIMITS.describe()}."
    )
    {"Upload": upload_section, "Draw": draw_section, "Camera": camera_section}[source]()
    if draft().classes or draft().queries:
        st.button("Start over (clear the whole task)", key="clear_task", on_click=start_over)
    try:
        task = draft().build()
    except ParamembedError as err:
        st.info(f"Not a task yet: {err}.")
        task = None
if task is None:
    st.stop()
if source != "Sample":
    selected, runner, model = resolve(route(task, picked))
    spec = model.config.input

# ============ the task as the model sees it ============
st.divider()
st.subheader(f"Task: {task.describe()}")
try:
    support, query = ui.memo("inputs", (task.key, repr(spec)), lambda: preprocess_task(task, spec))
except ParamembedError as err:
    ui.show_error(err)
    st.stop()
polarity = "light ink on dark" if spec.channels == 1 else "RGB centre crop"
with st.expander(
    f"Support set as the model sees it ({spec.image_size}×{spec.image_size}, "
    f"{'grayscale' if spec.channels == 1 else 'colour'}, {polarity})", expanded=True
):
    for c, name in enumerate(task.class_names):
        cols = st.columns([1, 5])
        cols[0].markdown(f"**{name}**")
        cols[1].image([to_display(support[i]) for i, label in enumerate(task.support_labels) if label == c], width=56, clamp=True)


# ============ adapt: one method, or several side by side ============
def run(method_name: str):
    choice = ui.model_for_method(method_name, selected, choices)
    if choice is None:
        return None, f"No {method_name} model is available (assets/models/{method_name} is absent)."
    m = load(choice)
    inputs = (support, query) if m.config.input == spec else None

    def compute():
        with ui.model_lock(choice.path, device):
            return solve(m, task, method_name, inputs)

    return ui.memo("results", (choice.path, device, method_name, task.key), compute), choice


try:
    result, _ = run(method)
except ParamembedError as err:
    ui.show_error(err)
    st.stop()


def percent(x: float | None) -> str:
    return "n/a (no labelled queries)" if x is None else f"{x * 100:.1f}%"


st.subheader(f"Results: {method}")
cols = st.columns(3)
cols[0].metric("Task accuracy", percent(result.accuracy))
cols[1].metric("Adaptation", f"{result.adapt_ms:.1f} ms")
cols[2].metric("Prediction", f"{result.predict_ms:.1f} ms")
st.markdown(f"Task accuracy: **{percent(result.accuracy)}** · Adaptation took **{result.adapt_ms:.1f} ms**")

if compare:
    rows = [{"method": method, "model": runner.label, "accuracy": percent(result.accuracy),
             "adaptation (ms)": round(result.adapt_ms, 1)}]
    for other in compare:
        try:
            other_result, info = run(other)
        except ParamembedError as err:
            other_result, info = None, str(err)
        if other_result is None:
            st.info(info)
            continue
        rows.append({"method": other, "model": info.label, "accuracy": percent(other_result.accuracy),
                     "adaptation (ms)": round(other_result.adapt_ms, 1)})
    st.markdown("**Side by side on the same task**")
    st.dataframe(rows, hide_index=True, key="compare_table")
    st.markdown(" · ".join(f"{r['method']}: {r['accuracy']} in {r['adaptation (ms)']} ms" for r in rows))

clf = result.classifier
tab_queries, tab_params, tab_download = st.tabs(["Queries", "Generated parameters", "Download"])

with tab_queries:
    if not task.query:
        st.info("Add query images to see predictions.")
    per_row = 5
    correct = result.correct(task)
    for start in range(0, len(task.query), per_row):
        cols = st.columns(per_row)
        for i in range(start, min(start + per_row, len(task.query))):
            with cols[i - start]:
                st.image(to_display(query[i]), width=84, clamp=True, caption=task.query_names[i][:24])
                predicted = task.class_names[result.predictions[i]]
                mark = {True: " ✅ right", False: " ❌ wrong", None: ""}[correct[i]]
                st.markdown(f"Predicted: **{predicted}**{mark}")
                if correct[i] is False:
                    st.caption(f"true: {task.class_names[task.query_labels[i]]}")
                for cls, p in result.top_k(i, top_k):
                    st.progress(min(max(p, 0.0), 1.0), text=f"{task.class_names[cls]}: {p:.1%}")

with tab_params:
    st.caption(
        "What the generator produced for this task: one weight vector per class in the backbone's feature space, "
        "decoded from a per-class parameter embedding; logits = scale × cosine(query features, weights) + bias."
    )
    weights = clf.weights[0].float().cpu().numpy()
    fig = go.Figure(go.Heatmap(z=weights, y=task.class_names, colorscale="RdBu", zmid=0.0))
    fig.update_layout(title=f"Generated weights ({weights.shape[0]} classes × {weights.shape[1]} features)",
                      height=120 + 22 * len(task.class_names), margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key="weights_heatmap")
    embedding = clf.embedding[0].float().cpu().numpy()
    fig = go.Figure(go.Heatmap(z=embedding, y=task.class_names, colorscale="Viridis"))
    fig.update_layout(title=f"Per-class parameter embeddings ({embedding.shape[0]} × {embedding.shape[1]})",
                      height=120 + 22 * len(task.class_names), margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key="embedding_heatmap")
    st.markdown(f"Learned scale: **{float(clf.scale):.2f}** · bias range: {float(clf.bias.min()):.3f} to {float(clf.bias.max()):.3f}")

with tab_download:
    model_ref = runner.path if not runner.label.endswith("(shipped)") else runner.path.rstrip("/").split("/")[-1]
    st.download_button(
        "⬇️ Download the classifier (.safetensors)",
        data=ui.memo("download", (runner.path, method, task.key), lambda: classifier_to_bytes(clf, model_ref, model.config)),
        file_name="classifier.safetensors", mime="application/octet-stream", key="download_classifier",
    )
    st.caption("Weights, bias, embeddings, scale, the class labels and the model's config in one safetensors file.")
    if ui.is_pretrained(runner):
        st.caption("This classifier reads ImageNet ResNet-18 features: load the model with "
                   "`paramembed.zoo.load_pretrained_model()` in place of `load_model` below.")
    st.code(usage_snippet(model_ref), language="python")
