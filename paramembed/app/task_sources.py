"""Where a playground task comes from: sampled, or built by hand from uploads, drawings and photos.

    task = sample_section(spec, family, model_label)   # a sampled FewShotTask, or None
    task = hand_made_section("Upload")                 # the draft built so far, or None

The hand-made task lives in `st.session_state["draft"]` (a `paramembed.tasks.TaskDraft`), so
Upload, Draw and Camera add to the same task and other pages (the explorer) can read it. Files are
taken in by the widgets' callbacks, which then give the widget a fresh key: accepted images show
as thumbnails under their class, rejected ones leave the uploader and get a warning naming them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from paramembed.app.display import md_text, thumbnail
from paramembed.app.background import PREFIX as BACKGROUND
from paramembed.ui import spinner_first_time
from paramembed.data.preprocess import IMAGE_SUFFIXES
from paramembed.errors import ParamembedError
from paramembed.family import PHOTO
from paramembed.app.library_text import library_text
from paramembed.app.messages import say, say_n
from paramembed.tasks import LIMITS, DraftStore, TaskDraft, drawing_to_png, open_task, sample_task, save_draft
from paramembed.tasks.store import new_id

UPLOAD_TYPES = sorted({s.lstrip(".") for s in IMAGE_SUFFIXES})
SOURCES = ("Sample", "Upload", "Draw", "Camera")  # the radio's values; shown as say("source_<value>")
UNLABELLED = ("query", None)
EDITOR_THUMBNAIL = 56  # pixels, the class editor's thumbnails
# Per-file limits the uploaders enforce (in MB, what st.file_uploader's max_upload_size takes):
# from LIMITS, so the widget, its help text and the decoder's messages all say the same number.
IMAGE_UPLOAD_MB = LIMITS.max_file_bytes // 2**20
ZIP_UPLOAD_MB = LIMITS.max_zip_bytes // 2**20


def image_help() -> str:
    return say("image_help", types=", ".join(UPLOAD_TYPES), mb=IMAGE_UPLOAD_MB,
               megapixels=LIMITS.max_image_pixels // 1_000_000)


def source_label(source: str) -> str:
    return say(f"source_{source.lower()}")


def describe_limits(limits=LIMITS) -> str:
    """`TaskLimits.describe()` in the session's language."""
    return say("limits", classes=limits.max_classes, images=limits.max_images_per_class, queries=limits.max_queries,
               file_mb=limits.max_file_bytes // 2**20, megapixels=limits.max_image_pixels // 1_000_000,
               zip_mb=limits.max_zip_bytes // 2**20, zip_files=limits.max_zip_members,
               unpacked_mb=limits.max_zip_unpacked_bytes // 2**20)


# ============ sampled tasks ============
# Where sampled tasks come from: built-in procedural sets, the real handwriting the shipped glyph
# models held out (assets/omniglot-holdout.npz), or photos from an ImageFolder on the server.
PROCEDURAL, OMNIGLOT, FOLDER = "procedural", "omniglot-holdout", "folder"
# Message keys: the option's name, and what the data is (beside a sampled task's title).
SAMPLE_SOURCES = {
    "glyph": {PROCEDURAL: "sample_procedural_glyph", OMNIGLOT: "sample_omniglot"},
    "photo": {PROCEDURAL: "sample_procedural_photo", FOLDER: "sample_folder"},
}
SAMPLE_DATA = {
    (PROCEDURAL, "glyph"): "data_procedural_glyph",
    (PROCEDURAL, "photo"): "data_procedural_photo",
    (OMNIGLOT, "glyph"): "data_omniglot",
}


@st.cache_resource(max_entries=4, show_spinner=False)
def _sampling_dataset(spec_items: tuple, source: str):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset

    spec = InputSpec(**dict(spec_items))
    if source == OMNIGLOT:
        from paramembed.data.packed import HOLDOUT_FILE, PackedGlyphs

        return PackedGlyphs(HOLDOUT_FILE, spec)
    if source == PROCEDURAL:
        return get_dataset("procedural" if spec.channels == 1 else "procedural-photo", "test", spec)
    return get_dataset(source, "test", spec)  # a folder or archive, already confined to the data roots


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_sample(spec_items, source, ways, shots, queries, within, seed, index):
    task = sample_task(_sampling_dataset(spec_items, source), ways, shots, queries, within, seed, index)
    task.key = f"{task.key}-{source}"  # results are memoised by key: two datasets' task #0 must differ
    return task


def sampled_task(spec, source: str, ways: int, shots: int, queries: int, within: bool, seed: int, index: int):
    """Task `index` of `seed` from `source` as a model with input `spec` reads it, shared by every session."""
    return _cached_sample(tuple(sorted(vars(spec).items())), source, ways, shots, queries, within, seed, index)


# One background thread for the whole server, and at most one task waiting for it: prefetching
# never adds more than a task's sampling per click, however many visitors click.
_PREFETCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{BACKGROUND}next-task")
_PREFETCH_WAITING = threading.BoundedSemaphore(1)


def prefetch_next(spec, source: str, ways: int, shots: int, queries: int, within: bool, seed: int, index: int) -> None:
    """Sample task `index + 1` in the background, into the cache "New task" reads.

    Rendering a new task's glyphs was a quarter of the server's time for that click (issue 22).
    Skipped while another prefetch is still waiting; a click that comes before it is done waits
    on the same cache entry (Streamlit computes each entry once), not on a second sampling.
    """
    if not _PREFETCH_WAITING.acquire(blocking=False):
        return

    def sample() -> None:
        try:
            sampled_task(spec, source, ways, shots, queries, within, seed, index + 1)
        except Exception:  # noqa: BLE001  (the click itself samples again and reports the problem)
            pass
        finally:
            _PREFETCH_WAITING.release()

    _PREFETCHER.submit(sample)


def photo_folders() -> list[str]:
    """Folders and archives at the top of the data roots a visitor may read (none when the server says no)."""
    from paramembed.explorer_sources import is_archive
    from paramembed.serving import serving_from_env

    try:
        serving = serving_from_env()
    except ParamembedError:
        return []
    if not serving.may_read_folders():
        return []
    found = []
    for root in serving.data_roots:
        if root.is_dir() and root.name != "assets":
            found += [str(p) for p in sorted(root.iterdir()) if (p.is_dir() or is_archive(p.name))
                      and "omniglot" not in p.name.lower() and not p.name.startswith(".")]
    return found


def _source_picker(family: str) -> tuple[str, str]:
    """(the dataset to sample from, what it is for people)."""
    options = dict(SAMPLE_SOURCES[family])
    folders = photo_folders() if family == PHOTO else []
    if not folders:
        options.pop(FOLDER, None)
    if st.session_state.get("sample_source") not in options:
        st.session_state["sample_source"] = PROCEDURAL
    choice = st.selectbox(say("sample_from"), list(options), format_func=lambda o: say(options[o]), key="sample_source",
                          label_visibility="collapsed")
    if choice != FOLDER:
        return choice, say(SAMPLE_DATA[(choice, family)])
    from paramembed.explorer_sources import server_source
    from paramembed.serving import serving_from_env

    folder = st.selectbox(say("folder"), folders, key="sample_folder", format_func=lambda p: p.rsplit("/", 1)[-1],
                          help=say("folder_help"))
    path = server_source(folder, serving_from_env())  # confined to the data roots, as the explorer's folders
    return path, say("data_folder", name=path.rsplit('/', 1)[-1])


def sample_section(spec, family: str, source_slot=None):
    """Where to sample from (in `source_slot`, a column of the row above), ways/shots/queries/seed and a
    "New task" button -> a sampled task from the data `family`'s model reads."""
    group = "group" if family == PHOTO else "alphabet"
    with source_slot or st.container():
        try:
            source, data = _source_picker(family)
        except ParamembedError as err:
            st.info(say("library_note", detail=library_text(err)))
            return None
    cols = st.columns([1, 1, 1, 1, 1.2, 1.1], vertical_alignment="bottom")
    ways = cols[0].number_input(say("ways_classes"), 2, 20, 5, key="sample_ways")
    shots = cols[1].number_input(say("shots_per_class"), 1, 10, 5, key="sample_shots")
    queries = cols[2].number_input(say("queries_per_class"), 1, 10, 3, key="sample_queries")
    seed = cols[3].number_input(say("seed"), 0, 1_000_000, 0, key="sample_seed")
    within = cols[4].checkbox(say(f"one_{group}_only"), key="sample_within", help=say(f"one_{group}_help"))
    if cols[5].button(say("new_task"), icon=":material/casino:", key="sample_new", width="stretch"):
        st.session_state["sample_index"] = st.session_state.get("sample_index", 0) + 1
    index = st.session_state.get("sample_index", 0)
    # Shown beside the task's title (results_view.support_set), where it takes no line of its own.
    st.session_state["task_origin"] = say("task_origin", index=index, seed=seed, data=data)
    st.session_state["sample_settings"] = {"ways": int(ways), "shots": int(shots), "queries": int(queries),
                                           "within": bool(within), "seed": int(seed), "index": index,
                                           "family": family, "source": st.session_state.get("sample_source"),
                                           "folder": st.session_state.get("sample_folder")}
    try:
        asked = (spec, source, int(ways), int(shots), int(queries), bool(within), int(seed), index)
        with spinner_first_time(("sample", repr(spec), *asked[1:]), say("reading_images")):
            task = sampled_task(*asked)
        prefetch_next(*asked)
        return task
    except (ParamembedError, ImportError) as err:
        st.info(say("sampling_unavailable", detail=md_text(library_text(err))))
        return None


# ============ the hand-made task ============
def draft() -> TaskDraft:
    return st.session_state.setdefault("draft", TaskDraft())


def start_over() -> None:
    draft().clear()
    _store().drop(st.query_params.get("task", ""))
    # A new task: the app picks its model family again.
    st.session_state["draft_round"] = st.session_state.get("draft_round", 0) + 1


def notify(messages: list[str], level: str = "warning") -> None:
    """Messages from a callback, shown once on the rerun it causes (`show_notices`)."""
    st.session_state.setdefault("notices", []).extend((level, m) for m in messages)


def show_notices() -> None:
    for level, message in st.session_state.pop("notices", []):
        {"error": st.error, "success": st.success}.get(level, st.warning)(md_text(message))  # names a visitor's files


def report(problems: list[str], added: str) -> None:
    """After adding files: one warning per rejected file (it names the file and why), else `added`."""
    notify([say("error_lead", detail=library_text(p)) for p in problems], "warning")  # the library's words: English
    if added:
        notify([added], "success")


def widget_key(name: str) -> str:
    """`name` plus this widget's round: a new round is an empty widget (see `next_round`)."""
    return f"{name}_{st.session_state.get('widget_rounds', {}).get(name, 0)}"


def next_round(name: str) -> None:
    rounds = st.session_state.setdefault("widget_rounds", {})
    rounds[name] = rounds.get(name, 0) + 1


def _files(key: str) -> list[tuple[str, bytes]]:
    value = st.session_state.get(key)
    files = value if isinstance(value, list) else [value] if value else []
    return [(f.name, f.getvalue()) for f in files]


def class_id(name: str) -> int:
    """A stable number per class, so its widgets keep their keys when classes are renamed or removed."""
    ids = st.session_state.setdefault("class_ids", {})
    if name not in ids:
        ids[name] = st.session_state["next_class_id"] = st.session_state.get("next_class_id", 0) + 1
    return ids[name]


def targets(d: TaskDraft) -> list[tuple[str, str | None]]:
    return [("class", n) for n in d.classes] + [UNLABELLED] + [("query", n) for n in d.classes]


def target_label(target: tuple[str, str | None]) -> str:
    kind, name = target
    if kind == "class":
        return say("target_class", name=name)
    return say("target_query") if name is None else say("target_query_labelled", name=name)


def add_to(target: tuple[str, str | None], files: list[tuple[str, bytes]]) -> list[str]:
    kind, name = target
    return draft().add_files(name, files) if kind == "class" else draft().add_query_files(files, name)


# ============ callbacks: files in, the widget emptied ============
def _count() -> int:
    d = draft()
    return sum(len(v) for v in d.classes.values()) + len(d.queries)


def on_class_upload(name: str, widget: str) -> None:
    before = _count()
    problems = draft().add_files(name, _files(widget_key(widget)))
    added = _count() - before
    report(problems, say_n("added_images", added, name=repr(name)) if added else "")
    next_round(widget)


def on_query_upload() -> None:
    before = _count()
    problems = draft().add_query_files(_files(widget_key("upload_queries")), st.session_state.get("query_label", UNLABELLED)[1])
    added = _count() - before
    report(problems, say_n("added_queries", added) if added else "")
    next_round("upload_queries")


def on_zip_upload() -> None:
    d = draft()
    for name, data in _files(widget_key("upload_zip")):
        before = _count()
        try:
            problems = d.add_zip(data, name)
        except ParamembedError as err:
            notify([say("error_lead", detail=library_text(err))], "error")
            continue
        added = _count() - before
        report(problems, say_n("zip_added", added, name=name))
    next_round("upload_zip")


def on_camera_shot() -> None:
    files = _files(widget_key("camera_shot"))
    if not files:
        return
    n = st.session_state["photo_count"] = st.session_state.get("photo_count", 0) + 1
    target = st.session_state.get("camera_target", UNLABELLED)
    _, data = files[0]
    problems = add_to(target, [(f"photo-{n}.jpg", data)])
    report(problems, "" if problems else say("added_photo", file=f"photo-{n}.jpg", target=target_label(target)))
    next_round("camera_shot")  # an empty camera, ready for the next shot into the same target


def on_add_class() -> None:
    try:
        name = draft().add_class(st.session_state.get("new_class_name", ""))
        st.session_state["new_class_name"] = ""
        notify([say("added_class", name=repr(name))], "success")
    except ParamembedError as err:
        notify([say("error_lead", detail=library_text(err))], "error")


def on_rename(old: str, key: str) -> None:
    try:
        new = draft().rename_class(old, st.session_state[key])
        ids = st.session_state.setdefault("class_ids", {})
        if old in ids:
            ids[new] = ids.pop(old)
        st.session_state[key] = new
    except ParamembedError as err:
        st.session_state[key] = old  # keep the old name in the box: nothing changed
        notify([say("error_lead", detail=library_text(err))], "error")


def on_remove(name: str) -> None:
    draft().remove_class(name)
    notify([say("removed_class", name=repr(name))], "success")


def on_clear_class(name: str) -> None:
    draft().classes[name].clear()


def on_clear_queries() -> None:
    draft().queries.clear()


# ============ saving, opening, and surviving a reload ============
def _store() -> DraftStore:
    return DraftStore()  # cheap: a folder name (read from the environment each time)


def _draft_key(d: TaskDraft) -> tuple:
    return (tuple((n, tuple(i.digest for i in imgs)) for n, imgs in d.classes.items()),
            tuple((i.digest, label) for i, label in d.queries))


def restore_after_reload() -> None:
    """Once per session: the hand-made task the page's address names (?task=...), if the server kept it."""
    if st.session_state.get("_draft_checked"):
        return
    st.session_state["_draft_checked"] = True
    data = _store().get(st.query_params.get("task", ""))
    if not data:
        return
    try:
        opened = open_task(data, "the saved draft")
    except ParamembedError:
        return
    st.session_state["draft"] = opened.draft
    st.session_state["_draft_saved"] = _draft_key(opened.draft)
    st.session_state["task_source"] = "Upload"
    notify([say("restored_draft")], "success")


def keep_draft() -> None:
    """Save the draft on the server under the address's task id whenever it changed."""
    d = draft()
    key = _draft_key(d)
    if key == st.session_state.get("_draft_saved"):
        return
    st.session_state["_draft_saved"] = key
    task_id = st.query_params.get("task") or new_id()
    if st.query_params.get("task") != task_id:
        st.query_params["task"] = task_id
    _store().put(task_id, save_draft(d))


def on_open_task(choices: list) -> None:
    """The "Open a saved task" uploader's callback: the task, its model and method, as saved."""
    files = _files(widget_key("open_task"))
    next_round("open_task")
    if not files:
        return
    name, data = files[0]
    try:
        opened = open_task(data, name)
    except ParamembedError as err:
        notify([say("error_lead", detail=library_text(err))], "error")
        return
    by_name = {c.name: c for c in choices}
    if opened.model in by_name:
        st.session_state["model"] = by_name[opened.model].path
    if opened.method:
        st.session_state["method"] = opened.method
    if opened.sample is not None:
        settings = opened.sample
        for key in ("ways", "shots", "queries", "seed"):
            st.session_state[f"sample_{key}"] = int(settings[key])
        st.session_state["sample_within"] = bool(settings.get("within"))
        if settings.get("source"):
            st.session_state["sample_source"] = settings["source"]
        if settings.get("folder"):
            st.session_state["sample_folder"] = settings["folder"]
        st.session_state["sample_index"] = int(settings.get("index", 0))
        st.session_state["task_source"] = "Sample"
        notify([say("opened_sample", name=name, seed=settings["seed"], index=settings.get("index", 0))], "success")
        return
    st.session_state["draft"] = opened.draft
    st.session_state["draft_round"] = st.session_state.get("draft_round", 0) + 1
    if opened.model in by_name:  # the saved model holds for this task, as if picked for it
        st.session_state["model_picked_for"] = st.session_state["draft_round"]
    st.session_state["task_source"] = "Upload"
    report(opened.problems, say("opened_task", name=name, ways=len(opened.draft.classes), queries=len(opened.draft.queries),
                                model=opened.model or "?", method=opened.method or "?"))


def open_section(choices: list) -> None:
    """A compact "Open a saved task" uploader."""
    with st.popover(say("open_task_short"), icon=":material/folder_open:", help=say("open_task"), width="stretch"):
        st.file_uploader(say("open_task"), type=["zip"], key=widget_key("open_task"), on_change=on_open_task,
                         args=(choices,), max_upload_size=ZIP_UPLOAD_MB, label_visibility="collapsed",
                         help=say("save_task_help"))


# ============ the widgets ============
def _thumbnails(images: list, captions: list[str]) -> None:
    if images:
        st.image([thumbnail(img) for img in images], width=EDITOR_THUMBNAIL, caption=[md_text(c[:14]) for c in captions])


def class_editor(source: str) -> None:
    d = draft()
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input(say("new_class_name"), key="new_class_name", placeholder=say("new_class_placeholder"))
    c2.button(say("add_class"), icon=":material/add:", key="add_class", on_click=on_add_class)
    show_notices()
    for name, images in list(d.classes.items()):
        cid = class_id(name)
        with st.container(border=True):
            cols = st.columns([3, 2, 1, 1], vertical_alignment="center")
            key = f"class_name_{cid}"
            if st.session_state.get(key) != name:
                st.session_state[key] = name
            cols[0].text_input(say("class_name"), key=key, on_change=on_rename, args=(name, key), label_visibility="collapsed")
            cols[1].caption(say("class_images", n=len(images), limit=LIMITS.max_images_per_class))
            cols[2].button(say("clear_images"), key=f"clear_class_{cid}", on_click=on_clear_class, args=(name,))
            cols[3].button(say("remove"), icon=":material/delete:", key=f"remove_class_{cid}", on_click=on_remove, args=(name,))
            if source == "Upload":
                widget = f"upload_images_{cid}"
                st.file_uploader(say("images_for_class", name=md_text(name)), type=UPLOAD_TYPES, accept_multiple_files=True,
                                 key=widget_key(widget), on_change=on_class_upload, args=(name, widget),
                                 max_upload_size=IMAGE_UPLOAD_MB, help=image_help())
            _thumbnails([img.image for img in images], [img.name for img in images])


def query_list() -> None:
    d = draft()
    if not d.queries:
        return
    c1, c2 = st.columns([4, 1])
    c1.markdown(say("queries_heading", n=len(d.queries), limit=LIMITS.max_queries))
    c2.button(say("clear_queries"), key="clear_queries", on_click=on_clear_queries)
    _thumbnails([img.image for img, _ in d.queries], [label or "?" for _, label in d.queries])


def upload_section() -> None:
    d = draft()
    with st.container(border=True):  # inside the task builder's expander, which cannot hold another
        st.markdown(say("zip_heading"))
        st.caption(say("zip_caption"))
        st.file_uploader(say("task_zip"), type=["zip"], key=widget_key("upload_zip"), on_change=on_zip_upload,
                         max_upload_size=ZIP_UPLOAD_MB,
                         help=say("task_zip_help", mb=ZIP_UPLOAD_MB, files=LIMITS.max_zip_members, images=image_help()))
    class_editor("Upload")
    with st.container(border=True):
        options = [UNLABELLED] + [("query", n) for n in d.classes]
        st.selectbox(say("query_label"), options, format_func=target_label, key="query_label")
        st.file_uploader(say("query_images"), type=UPLOAD_TYPES, accept_multiple_files=True, key=widget_key("upload_queries"),
                         on_change=on_query_upload, max_upload_size=IMAGE_UPLOAD_MB, help=image_help())
    query_list()


def _class_editor_then_draft(source: str, verb: str) -> TaskDraft | None:
    """The class editor for `source`, then the draft when it has a class to add to (else a hint and None)."""
    class_editor(source)
    d = draft()
    if not d.classes:
        st.info(say(f"add_class_first_{verb}"))
        return None
    return d


def draw_section() -> None:
    d = _class_editor_then_draft("Draw", "draw")
    if d is None:
        return
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as err:  # a frontend component: its import can fail outside a real server
        st.warning(say("canvas_unavailable", detail=md_text(library_text(err))))
        return
    target = st.selectbox(say("add_drawing_to"), targets(d), format_func=target_label, key="draw_target")
    n = st.session_state.get("canvas_round", 0)
    canvas = st_canvas(
        stroke_width=14, stroke_color="#000000", background_color="#ffffff", height=280, width=280,
        drawing_mode="freedraw", return_image_data=True, key=f"draw_canvas_{n}",
    )
    if st.button(say("add_drawing"), key="draw_add"):
        try:
            empty = canvas is None or canvas.image_data is None
            png = None if empty else drawing_to_png(canvas.image_data)
        except ParamembedError as err:
            st.warning(say("error_lead", detail=md_text(library_text(err))))
        else:
            problems = [] if empty else add_to(target, [(f"drawing-{n + 1}.png", png)])
            if empty:
                st.warning(say("drawing_empty"))
            elif problems:
                for p in problems:
                    st.warning(say("error_lead", detail=md_text(library_text(p))))
            else:
                st.session_state["canvas_round"] = n + 1  # a fresh key gives an empty canvas
                notify([say("added_drawing", target=target_label(target))], "success")
                st.rerun()
    query_list()


def camera_section() -> None:
    d = _class_editor_then_draft("Camera", "photograph")
    if d is None:
        return
    st.selectbox(say("photos_go_to"), targets(d), format_func=target_label, key="camera_target",
                 help=say("photos_go_to_help"))
    st.camera_input(say("take_photo"), key=widget_key("camera_shot"), on_change=on_camera_shot)
    query_list()


def hand_made_section(source: str):
    """The Upload / Draw / Camera editor for `source`, then the task it makes (None until it is one)."""
    # The builder folds away (a click on its title), so the results can have the projector's first screen.
    with st.expander(say("task_builder"), icon=":material/construction:", expanded=True):
        st.caption(say("builder_caption", limits=describe_limits()))
        {"Upload": upload_section, "Draw": draw_section, "Camera": camera_section}[source]()
    if draft().classes or draft().queries:
        st.button(say("start_over"), key="clear_task", on_click=start_over)
    keep_draft()
    try:
        return draft().build()
    except ParamembedError as err:
        st.info(say("not_a_task_yet", detail=md_text(library_text(err))))
        return None
