"""Playground: make a few-shot task (sample, upload, draw, photograph), see the generated classifier.

Page flow: sidebar (model, method, device) -> a task (sampled, or the draft built by hand) ->
the model that suits it (photos -> a photo model, drawings -> a glyph model, unless the user
picked one) -> the support set as the model sees it -> adapt + predict -> results, why, parameters,
download. The widgets live in `paramembed.app`, the work in `paramembed.tasks` and `paramembed.explain`.
"""

from __future__ import annotations

import streamlit as st

from paramembed import METHODS, ParamembedError, ui
from paramembed.app import language
from paramembed.app import model_routing as routing
from paramembed.app import results_view as view_
from paramembed.app import warm
from paramembed.app import task_sources as sources
from paramembed.app.display import describe_task
from paramembed.app.layout import page_style
from paramembed.app.messages import say
from paramembed.explain import explain_query
from paramembed.export import classifier_to_bytes, classifier_to_onnx, onnx_snippet, usage_snippet
from paramembed.methods import METHODS as METHOD_TABLE
from paramembed.tasks import preprocess_task, save_task, solve

SLOW = {name for name, m in METHOD_TABLE.items() if m.kind == "gradient"}  # gradient steps per task: seconds

presentation = st.sidebar.toggle(say("presentation"), key="presentation", help=say("presentation_help"))
style = page_style(presentation)  # compact for 1280x720; larger text and images when presenting
st.title(say("playground_title"), anchor=False, help=say("playground_intro"))

# ============ sidebar: model, method, device ============
choices = ui.find_models()
pretrained_ok, pretrained_note = routing.pretrained_offered()
picked = ui.model_picker(extra=(ui.PRETRAINED,) if pretrained_ok else (), on_change=routing.on_pick_model)
if picked is None:
    st.info(say("no_model_to_run"))
    st.stop()
measured_note = st.sidebar.empty()  # filled below with the measured accuracy of the model that runs
if pretrained_note:
    st.sidebar.caption(say("pretrained_not_offered"), help=pretrained_note)
st.sidebar.toggle(
    say("auto_family"), value=True, key="auto_family", help=say("auto_family_help"),
)
method = ui.method_picker(picked)
compare = st.sidebar.multiselect(
    say("compare_with"), [m for m in METHODS if m != method], key="compare", placeholder=say("choose_options"),
    help=say("compare_help", slow=say("name_separator").join(sorted(SLOW))),
)
device = ui.device_picker()
top_k = st.sidebar.slider(say("top_k"), 1, 5, 3, key="top_k")
st.sidebar.caption(say("limits_line", limits=sources.describe_limits()))

# ============ the task, and the model that runs it ============
sources.restore_after_reload()  # a hand-made task survives a reload of the page (?task=...)
source_col, from_col, open_col, save_col = st.columns([4, 2.8, 1.6, 1.6], vertical_alignment="bottom")
source = source_col.radio(say("make_task_by"), sources.SOURCES, horizontal=True, key="task_source",
                          format_func=sources.source_label, label_visibility="collapsed")
with open_col:
    sources.open_section(choices)
sources.show_notices()
if source == "Sample":
    # Sampled tasks come from the data the sidebar's model reads: glyphs, or photos for a photo model.
    running = routing.resolve(picked, method, device, choices)
    task = sources.sample_section(running.model.config.input, running.family, from_col)
else:
    task = sources.hand_made_section(source)
if task is None:
    st.stop()
if source != "Sample":
    routed = routing.route(task, picked, choices)
    running = routing.resolve(routed, routing.method_for(routed, picked, method), device, choices)
routing.sidebar_in_use(running, picked, method, measured_note)
model, runner, spec, method = running.model, running.runner, running.model.config.input, running.method
setup = routing.record(running)  # st.session_state["running"]: what runs, in one place

# ============ the task as the model sees it ============
try:
    support, query = ui.memo("inputs", (task.key, repr(spec)), lambda: preprocess_task(task, spec))
except ParamembedError as err:
    ui.show_error(err)
    st.stop()
lang = language.current()  # labels ("Class A" / "类别 A") are in the session's language: part of the memo keys
view = ui.memo("views", (task.key, repr(spec), lang), lambda: view_.TaskView.of(task, support, query))
sample_settings = st.session_state.get("sample_settings") if task.source == "sample" else None
save_col.download_button(
    say("save_task"), icon=":material/save:", key="save_task", help=say("save_task_help"),
    file_name="task.zip", mime="application/zip", width="stretch",
    # No rerun on click. Streamlit clears a session's outgoing queue when a run starts, and the reply
    # carrying this zip's address could be dropped with it: the button then spun forever (1 click
    # in 3 after a busy server, in tests/e2e). Nothing on the page changes by downloading anyway.
    on_click="ignore",
    # Made when clicked, on Streamlit's download thread: every image re-encoded into a zip is work
    # a rerun that only shows the task should not do. The lambda holds this run's values.
    data=lambda task=task, labels=view.labels, model_name=setup["model"], method=method, settings=sample_settings: save_task(
        task, labels, model_name, method, settings, task.support_names),
)
view_.support_set(view, spec, style,
                  say("task_title", task=describe_task(task.ways, task.shots(), len(task.query), task.labelled_queries)),
                  st.session_state.get("task_origin", "") if task.source == "sample" else "")


# ============ adapt: one method, or several side by side ============
def run(method_name: str):
    choice = ui.model_for_method(method_name, running.selected, choices)
    if choice is None:
        if any(c.generator == method_name for c in choices):  # there is one, for another kind of image
            return None, say("compare_no_model", method=method_name, reads=setup["reads"])
        return None, say("method_absent", method=method_name)
    m = routing.load(choice, device)
    inputs = (support, query) if m.config.input == spec else None

    def compute():
        with ui.model_lock(choice.path, device):
            return solve(m, task, method_name, inputs)

    return ui.memo("results", (choice.path, device, method_name, task.key), compute), choice


try:
    result, _ = run(method)
    view_.summary(result, routing.results_heading(running, method), routing.running_line(setup),
                  routing.measured_line(running, method, task.ways, min(task.shots())))
    if compare:
        import pandas  # noqa: F401  (the table's; through its own door first: see app.py)

        view_.compare(method, ui.model_label(runner), result, compare, SLOW, run, task.key)
except ParamembedError as err:
    ui.show_error(err)
    st.stop()

clf = result.classifier
# Only the open tab runs (picking another one reruns the page): a click elsewhere does not pay for
# the explanation's features and figures, the parameters' heatmaps or the export.
tab_queries, tab_why, tab_params, tab_download = st.tabs(
    [say("tab_queries"), say("tab_why"), say("tab_params"), say("tab_download")], key="result_tab", on_change="rerun")

mark_below = getattr(model.calibration, "mark_below", None)  # the calibrated model's own threshold
with tab_queries:
    if tab_queries.open:
        view_.query_results(view, result, top_k, style, mark_below)

with tab_why:
    if tab_why.open and not task.query:
        st.info(say("why_needs_queries"))
    elif tab_why.open:
        index = view_.pick_query(view, result)
        why = ui.memo("why", (runner.path, device, method, task.key, index), lambda: explain_query(
            model, clf, support, task.support_labels, query, index))
        view_.why_this_prediction(view, why, index, style)

with tab_params:
    if tab_params.open:
        view_.parameters(view, clf)


def download_tab() -> None:
    model_ref = routing.model_name(runner) if routing.is_shipped(runner) else runner.path
    st.download_button(
        say("download_safetensors"), icon=":material/download:",
        data=ui.memo("download", (runner.path, method, task.key, lang), lambda: classifier_to_bytes(
            clf, model_ref, model.config, labels=view.labels, class_names=view.names)),
        file_name="classifier.safetensors", mime="application/octet-stream", key="download_classifier",
        on_click="ignore",
    )
    st.caption(say("download_caption"))
    if ui.is_pretrained(runner):
        st.caption(say("download_pretrained"))
    st.code(usage_snippet(model_ref), language="python")
    # The same classifier with its backbone, for any runtime: made on request (an export takes a second).
    onnx_key = ("onnx", runner.path, method, task.key, lang)
    if st.session_state.get("onnx_for") != onnx_key:
        if st.button(say("onnx_make"), icon=":material/deployed_code:", key="onnx_make", help=say("onnx_help")):
            st.session_state["onnx_for"] = onnx_key
            st.rerun()
    else:
        try:
            onnx_bytes = ui.memo("onnx", onnx_key, lambda: classifier_to_onnx(model, clf, labels=view.labels))
        except ParamembedError as err:
            ui.show_error(err)
        else:
            st.download_button(say("onnx_download"), data=onnx_bytes, file_name="classifier.onnx",
                               mime="application/octet-stream", key="download_onnx", icon=":material/download:",
                               on_click="ignore")
            st.caption(say("onnx_caption"))
            st.code(onnx_snippet(), language="python")


with tab_download:
    if tab_download.open:
        download_tab()

warm.first_page_sent()  # the launcher's warm-up of the other pages starts now (paramembed/app/warm.py)
