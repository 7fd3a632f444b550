"""Which model runs a playground task, and saying so.

The sidebar's pick runs sampled tasks. A hand-made task goes to the model family its images suit
(photos -> the photo model, drawings -> a glyph model: `paramembed.family.suggest_family`) unless
the user turned that off or picked a model while building this task (it holds until "Start over").
The ResNet-18 option falls back to the shipped photo model when its weights are not on disk.
Whatever runs is named: `model_name` for headings, `measured_note` for its real-data accuracy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from paramembed import ParamembedError, ui
from paramembed.app.library_text import library_text
from paramembed.app.measured import Measured, measured
from paramembed.app.messages import MESSAGES, say
from paramembed.checkpoint import ASSETS
from paramembed.family import GLYPH, PHOTO, suggest_family


@dataclass
class Running:
    """The model a task runs on: `selected` (after routing), `runner` (the model for the method), `model`,
    and `method`, the method that runs (the one asked for, or the runner's own when none reads this input)."""

    selected: ui.ModelChoice
    runner: ui.ModelChoice
    model: object
    method: str

    @property
    def family(self) -> str:
        return PHOTO if self.model.config.input.channels == 3 else GLYPH


def is_shipped(choice: ui.ModelChoice) -> bool:
    return not ui.is_pretrained(choice) and Path(choice.path).parent.resolve() == ASSETS.resolve()


def model_name(choice: ui.ModelChoice) -> str:
    """A short name: the folder's for shipped and trained models ("photo"), else the label."""
    return choice.label if ui.is_pretrained(choice) else Path(choice.path).name


def measured_for(choice: ui.ModelChoice) -> Measured | None:
    return measured(Path(choice.path).name) if is_shipped(choice) else None


def measured_note(choice: ui.ModelChoice) -> str:
    """One line: what the model scored on real held-out data, or that nobody measured it."""
    found = measured_for(choice)
    if found is None:
        return say("not_measured", model=model_name(choice))
    return say("measured", model=model_name(choice), what=describe_measured(found))


def describe_measured(found: Measured) -> str:
    """e.g. "held-out Omniglot alphabets: 5-way 1-shot 95% · 20-way 1-shot 86%", in the session's language."""
    cells = say("cell_separator").join(say("measured_cell", ways=c.ways, shots=c.shots, accuracy=f"{c.mean:.0%}")
                                       for c in found.cells)
    return say("measured_cells", title=benchmark_title(found), cells=cells)


def benchmark_title(found: Measured) -> str:
    """The benchmark's short name in the session's language; report.py's English title for any other."""
    key = f"bench_{found.benchmark.replace('-', '_')}"
    return say(key) if key in MESSAGES else found.title


def reads(spec) -> str:
    """What a model with input `spec` reads, for people: "28×28 greyscale drawings"."""
    return say("reads_glyph" if spec.channels == 1 else "reads_photo", size=spec.image_size)


def pretrained_offered() -> tuple[bool, str]:
    """(whether the picker offers ImageNet ResNet-18, and else where its weights file goes).

    Offered only when its weights are on disk: every model in the picker runs itself, so the
    picker never holds an option that would quietly run another model.
    """
    from paramembed.models.pretrained import PretrainedUnavailable, find_weights, missing_weights_message

    try:
        found = find_weights()
    except PretrainedUnavailable as err:
        return False, say("pretrained_missing", where=library_text(err))
    return (True, "") if found else (False, say("pretrained_missing", where=library_text(missing_weights_message())))


def on_pick_model() -> None:
    """The sidebar picker's callback: what depends on the model follows it.

    The method becomes the picked model's own (so picking "maml" runs maml, and a method chosen
    for a previous model never carries over), and it leaves the comparison list.
    """
    # A pick made while building a task by hand holds for that task (until "Start over");
    # a pick made for sampled tasks does not stop the app from routing uploaded photos.
    if st.session_state.get("task_source", "Sample") != "Sample":
        st.session_state["model_picked_for"] = st.session_state.get("draft_round", 0)
    path = st.session_state.get("model")  # the picker's value is the entry's path
    entry = ui.PRETRAINED if path == ui.PRETRAINED.path else next((c for c in ui.find_models() if c.path == path), None)
    if entry is not None:
        st.session_state["method"] = entry.generator
        st.session_state["compare"] = [m for m in st.session_state.get("compare", []) if m != entry.generator]
    st.session_state.pop("why_query", None)


def load(choice: ui.ModelChoice, device: str):
    return ui.load_pretrained_cached(device)[0] if ui.is_pretrained(choice) else ui.load_model_cached(choice.path, device)


def resolve(selected: ui.ModelChoice, method: str, device: str, choices: list[ui.ModelChoice]) -> Running:
    """Load the model for `selected` and `method`; says why and stops the page when there is none.

    When no model of the method reads what `selected` reads (maml on photos), `selected` runs with
    its own method and the page says so; the method is named on the "Running:" line either way.
    """
    try:
        if ui.is_pretrained(selected):
            _, notice = ui.load_pretrained_cached(device)
            if notice:  # the weights vanished after the picker offered them
                st.warning(say("library_note", detail=library_text(notice)))
                fallback = ui.shipped_or_first(choices, 3, "photo")
                if fallback is None:
                    st.info(say("no_photo_fallback"))
                    st.stop()
                selected = fallback
        runner = ui.model_for_method(method, selected, choices)
        if runner is None and any(c.generator == method for c in choices):
            st.info(say("method_has_no_model", method=method, reads=reads(load(selected, device).config.input),
                        model=model_name(selected), own=selected.generator), icon=":material/swap_horiz:")
            runner, method = selected, selected.generator
        if runner is None:
            st.info(say("method_absent", method=method))
            st.stop()
        model = load(runner, device)
    except ParamembedError as err:
        ui.show_error(err)
        st.stop()
    return Running(selected, runner, model, method)


def record(running: Running) -> dict:
    """The one place that says what runs: model, method and input family, in st.session_state["running"]."""
    state = {"model": model_name(running.runner), "path": running.runner.path, "method": running.method,
             "family": running.family, "reads": reads(running.model.config.input)}
    st.session_state["running"] = state
    return state


def running_line(state: dict) -> str:
    """ "Running: hyper · hyper · 28×28 greyscale drawings"."""
    return say("running", model=state["model"], method=state["method"], reads=state["reads"])


def method_for(routed: ui.ModelChoice, picked: ui.ModelChoice, method: str) -> str:
    """The method to run on the routed model: its own when the method was only the picked model's own.

    Photos routed away from the default glyph model run the photo model's method, not `hyper`
    (which would pick another photo model trained with it); a method the user chose stays.
    """
    return routed.generator if routed is not picked and method == picked.generator else method


def route(task, picked: ui.ModelChoice, choices: list[ui.ModelChoice]) -> ui.ModelChoice:
    """The model for a hand-made task: the suggested family's, unless the user chose otherwise."""
    if not st.session_state.get("auto_family", True):
        return picked
    support_key = tuple(img.digest for images in st.session_state["draft"].classes.values() for img in images)
    suggestion = ui.memo("family", support_key, lambda: suggest_family(task.support))
    what = "photos" if suggestion.family == PHOTO else "drawings"
    reason = family_reason(suggestion.reason)
    chosen = ui.model_for_family(suggestion.family, picked, choices)
    if st.session_state.get("model_picked_for") == st.session_state.get("draft_round", 0):
        if chosen is not picked:
            st.caption(say(f"looks_like_{what}_picked", reason=reason, model=ui.model_label(picked)))
            st.button(say("family_reset"), key="family_reset",
                      on_click=lambda: st.session_state.pop("model_picked_for", None))
        return picked
    if chosen is None:
        st.warning(say(f"looks_like_{what}_none", reason=reason, model=ui.model_label(picked)))
        return picked
    st.info(say(f"looks_like_{what}", reason=reason, model=ui.model_label(chosen)))
    return chosen


# `paramembed.family`'s reasons ("3 of 4 images look like photos (e.g. a coloured background)"), read back
# into their fields so that the sentence is the catalog's: the library's own words stay English.
_VOTES = ((re.compile(r"^(\d+) of (\d+) images look like photos \(e\.g\. (.*)\)$"), "family_vote_photos"),
          (re.compile(r"^(\d+) of (\d+) images look like drawings \((.*)\)$"), "family_vote_drawings"))
_REASONS = (
    (re.compile(r"^no plain background \((\d+%) of pixels\)$"), "reason_no_background"),
    (re.compile(r"^a coloured background$"), "reason_coloured_background"),
    (re.compile(r"^many colours on a plain background$"), "reason_many_colours"),
    (re.compile(r"^ink of one colour on plain paper \((\d+%) background\)$"), "reason_one_ink"),
)


def family_reason(reason: str) -> str:
    """`FamilySuggestion.reason` in the session's language (unchanged when its form is not known)."""
    for pattern, key in _VOTES:
        vote = pattern.match(reason)
        if vote:
            return say(key, votes=vote[1], images=vote[2], reason=family_reason(vote[3]))
    for pattern, key in _REASONS:
        found = pattern.match(reason)
        if found:
            return say(key, **({"percent": found[1]} if pattern.groups else {}))
    return reason


def sidebar_in_use(running: Running, picked: ui.ModelChoice, method: str, note) -> None:
    """The sidebar names the model actually running the task; `note` (a placeholder under the
    picker) gets the running model's measured accuracy, never another model's."""
    note.caption(measured_note(running.runner))
    if running.runner.path != picked.path:
        why = "running_on_for_method" if running.selected.path == picked.path else "running_on_for_images"
        st.sidebar.info(say(why, model=model_name(running.runner), label=ui.model_label(running.runner)),
                        icon=":material/swap_horiz:")


def results_heading(running: Running, method: str) -> str:
    """ "Results: photo", or "Results: hyper model, proto method" when the method is not the model's own."""
    name = model_name(running.runner)
    return say("results_heading", model=name) if running.runner.generator == method else \
        say("results_heading_method", model=name, method=method)


def measured_line(running: Running, method: str, ways: int, shots: int) -> str | None:
    """How the running model did on real held-out data at the setting nearest this task, or None."""
    found = measured_for(running.runner)
    if found is None:
        return None
    cell = found.closest(ways, shots)
    fields = dict(model=model_name(running.runner), accuracy=f"{cell.mean:.0%}", ci=f"{cell.ci95:.1%}",
                  title=benchmark_title(found), ways=cell.ways, shots=cell.shots)
    if running.runner.generator == method:
        return say("for_comparison", **fields)
    return say("for_comparison_own", method=running.runner.generator, **fields)
