"""paramembed's Streamlit entry point: `streamlit run app.py` (or `make run`).

The app is thin: every page imports from `paramembed` and keeps its state in st.session_state.
"""

import streamlit as st

st.set_page_config(page_title="paramembed", page_icon="🧬", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/playground.py", title="Playground", icon="🎯", default=True),
        st.Page("pages/explorer.py", title="Embedding explorer", icon="🧭"),
        st.Page("pages/curves.py", title="Training curves", icon="📈"),
        st.Page("pages/train.py", title="Train it yourself", icon="🏋️"),
    ]
)
navigation.run()
