"""Which language the app speaks to this session, and the sidebar picker that changes it.

    lang = picker()      # app.py, on every page: the sidebar's selectbox; remembered in ?lang=
    catalog()            # the message table of this session's language (messages.say reads it)

The first visit takes, in order: `?lang=` in the page's address (a reload, a shared link), the
server's `PARAMEMBED_LANG`, the browser's language (`st.context.locale`), English. The server's
setting comes before the browser's on purpose: a teacher serving a Chinese class sets it once,
and a student's English-language browser still opens in Chinese (and can switch). The choice
lives in the session (so a page switch keeps it) and in the address (so a reload keeps it).
"""

from __future__ import annotations

import os

from paramembed.app.messages import MESSAGES
from paramembed.app.messages_zh_cn import MESSAGES_ZH_CN

ENV = "PARAMEMBED_LANG"
ENGLISH, CHINESE = "en", "zh-CN"
LANGUAGES = {ENGLISH: "English", CHINESE: "简体中文"}
CATALOGS = {ENGLISH: MESSAGES, CHINESE: MESSAGES_ZH_CN}
KEY = "lang"  # the picker's widget key and the query parameter's name
# The picker's label is the same in every language: whoever cannot read the page finds it, and the
# browser keeps the widget it shows (a label that changed with the language made it send "English" back).
LABEL = "Language / 语言"


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

        if get_script_run_ctx(suppress_warning=True) is None:
            return server_default() or ENGLISH
        import streamlit as st

        lang = st.session_state.get(KEY)
        return lang if lang in CATALOGS else first_visit()
    except ImportError:
        return server_default() or ENGLISH


def catalog() -> dict[str, str]:
    return CATALOGS[current()]


def _remember() -> None:
    import streamlit as st

    st.query_params[KEY] = st.session_state[KEY]


def picker() -> str:
    """The sidebar's language selectbox, on every page; keeps `?lang=` in the address in step with it."""
    import streamlit as st

    from paramembed.app.messages import say

    # The first run's choice goes in as the widget's index, not into st.session_state: a value set
    # there before the widget existed made the widget drop the person's later pick.
    current_lang = st.session_state.get(KEY) if st.session_state.get(KEY) in CATALOGS else first_visit()
    lang = st.sidebar.selectbox(LABEL, list(LANGUAGES), index=list(LANGUAGES).index(current_lang),
                                format_func=LANGUAGES.get, key=KEY, help=say("language_help"), on_change=_remember)
    # A page switch clears the address's parameters: put the language back on every run.
    if st.query_params.get(KEY) != lang:
        st.query_params[KEY] = lang
    return lang
