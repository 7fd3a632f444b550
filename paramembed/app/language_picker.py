"""The sidebar's language picker, on every page (app.py draws it before the navigation).

    language_picker.picker()    # the selectbox; ?lang= in the address kept in step with it
"""

from __future__ import annotations

import streamlit as st

from paramembed.app.language import KEY, LANGUAGES, current
from paramembed.app.messages import say

# The label is the same in every language: whoever cannot read the page still finds it.
LABEL = "Language / 语言"


def _remember() -> None:
    st.query_params[KEY] = st.session_state[KEY]


def picker() -> str:
    """The language selectbox; returns the language this run speaks."""
    # The first run's choice goes in as the widget's index, not into st.session_state: a value set
    # there before the widget existed made the widget drop the person's later pick.
    lang = st.sidebar.selectbox(LABEL, list(LANGUAGES), index=list(LANGUAGES).index(current()),
                                format_func=LANGUAGES.get, key=KEY, help=say("language_help"), on_change=_remember)
    # A page switch clears the address's parameters: put the language back on every run.
    if st.query_params.get(KEY) != lang:
        st.query_params[KEY] = lang
    return lang
