"""paramembed's Streamlit entry point: `streamlit run app.py` (or `make run`).

The app is thin: every page imports from `paramembed` and keeps its state in st.session_state.
"""

import streamlit as st

from paramembed.app import language_picker, preload
from paramembed.app.messages import say

# The tab icon is a file of ours: a Material icon there would be fetched from fonts.gstatic.com,
# and nothing leaves the machine.
st.set_page_config(page_title="paramembed", page_icon="assets/icon.png", layout="wide")
# First: the browser starts loading the explorer's chart library in its first idle moment (preload.py).
preload.chart_library()

# Before the navigation: the page titles below are in the language picked here.
language_picker.picker()
playground = st.Page("pages/playground.py", title=say("page_playground"), icon=":material/target:", default=True)
navigation = st.navigation(
    [
        playground,
        st.Page("pages/explorer.py", title=say("page_explorer"), icon=":material/explore:"),
        st.Page("pages/curves.py", title=say("page_curves"), icon=":material/show_chart:"),
        st.Page("pages/train.py", title=say("page_train"), icon=":material/model_training:"),
    ]
)
# pandas first, before any page that reads it runs. Right after the server starts, two sessions on the
# Training curves page used to import it from two script threads by different doors (plotly and
# Streamlit each reach for pandas submodules), and Python's import-deadlock breaker handed one thread
# the half-built module: "partially initialized module 'pandas' has no attribute 'Series'". Entered
# here through `pandas` itself, every thread waits on that one module lock until it is complete.
# The Playground reads pandas only for its comparison table, which imports it the same way first:
# its first page does not wait for pandas (0.75 s of imports, sharing the GIL with torch's, before
# the first results; issue 22). The warm-up imports it once the first task is solved.
if navigation is not playground:
    import pandas  # noqa: F401
navigation.run()
