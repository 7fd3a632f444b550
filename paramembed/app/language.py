"""Which language the app speaks to this session.

    lang = current()     # "en" or "zh-CN": what messages.say speaks

The first visit takes, in order: `?lang=` in the page's address (a reload, a shared link), the
server's `PARAMEMBED_LANG`, the browser's language (`st.context.locale`), English. The server's
setting comes before the browser's on purpose: a teacher serving a Chinese class sets it once,
and a student's English-language browser still opens in Chinese (and can switch). The choice
lives in the session (so a page switch keeps it) and in the address (so a reload keeps it): the
sidebar's picker (`language_picker`) keeps both. Only the choice lives here, no message: the
catalogs import this module (`messages`), never the other way round.
"""

from __future__ import annotations

import os

ENV = "PARAMEMBED_LANG"
ENGLISH, CHINESE = "en", "zh-CN"
LANGUAGES = {ENGLISH: "English", CHINESE: "简体中文"}
KEY = "lang"  # the picker's widget key and the query parameter's name


def normalise(code: object) -> str | None:
    """A language tag ("zh-CN", "zh_CN.UTF-8", "en-GB", "zh-Hans") -> one of LANGUAGES, or None.

    Every Chinese tag reads Simplified Chinese: a Traditional-script reader still reads it far
    better than English, and there is no Traditional catalog.
    """
    tag = str(code or "").strip().replace("_", "-").split(".")[0].lower()
    if tag.startswith("zh"):
        return CHINESE
    if tag == "en" or tag.startswith("en-"):
        return ENGLISH
    return None


def server_default() -> str | None:
    """The server's language (PARAMEMBED_LANG), or None when unset or not one the app speaks."""
    return normalise(os.environ.get(ENV))


def _browser() -> str | None:
    import streamlit as st

    try:
        return normalise(st.context.locale)
    except Exception:  # no browser behind this run (AppTest, bare mode): no locale to follow
        return None


def first_visit() -> str:
    import streamlit as st

    return normalise(st.query_params.get(KEY)) or server_default() or _browser() or ENGLISH


def current() -> str:
    """This session's language; outside a Streamlit run (library code, tests), the server's default."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return server_default() or ENGLISH
    if get_script_run_ctx(suppress_warning=True) is None:
        return server_default() or ENGLISH
    import streamlit as st

    lang = st.session_state.get(KEY)
    return lang if lang in LANGUAGES else first_visit()
