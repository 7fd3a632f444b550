"""paramembed's Streamlit entry point: `streamlit run app.py` (or `make run`).

The app is thin: every page imports from `paramembed` and keeps its state in st.session_state.
"""

# pandas first, before any page runs. Right after the server starts, two sessions on the Training
# curves page used to import it from two script threads by different doors (plotly and Streamlit
# each reach for pandas submodules), and Python's import-deadlock breaker handed one thread the
# half-built module: "partially initialized module 'pandas' has no attribute 'Series'". Entered
# here through `pandas` itself, every thread waits on that one module lock until it is complete.
import pandas  # noqa: F401
import streamlit as st

from paramembed.app import language
from paramembed.app.messages import say

# The tab icon is a file of ours: a Material icon there would be fetched from fonts.gstatic.com,
# and nothing leaves the machine.
st.set_page_config(page_title="paramembed", page_icon="assets/icon.png", layout="wide")

# Before the navigation: the page titles below are in the language picked here.
language.picker()
navigation = st.navigation(
    [
        st.Page("pages/playground.py", title=say("page_playground"), icon=":material/target:", default=True),
        st.Page("pages/explorer.py", title=say("page_explorer"), icon=":material/explore:"),
        st.Page("pages/curves.py", title=say("page_curves"), icon=":material/show_chart:"),
        st.Page("pages/train.py", title=say("page_train"), icon=":material/model_training:"),
    ]
)
navigation.run()
