"""The playground's page style: compact enough for a projector's 1280x720, and a presentation mode.

    style = page_style(presentation)    # injects the CSS; returns the sizes the renderers use
    style.query_thumb, style.cards_per_row

At 1280x720 a sampled task's result (the "Running:" line, the accuracy and the first row of query
cards) is on the first screen: Streamlit's tall header and paddings are trimmed, the title is
smaller, the task builder folds away. Words never break inside (a caption shortens with an
ellipsis, a sentence wraps between words). Presentation mode enlarges text and images for the back
row of a classroom.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

PRESENTATION_SCALE = 1.5


@dataclass(frozen=True)
class Style:
    scale: float
    query_thumb: int  # pixels
    class_thumb: int
    support_thumb: int
    cards_per_row: int


_CSS = """
<style>
/* Room for results: Streamlit's header and paddings are sized for documents, not a projector. */
[data-testid="stMainBlockContainer"] { padding: 2.4rem 2rem 2rem 2rem; }
[data-testid="stHeader"] { height: 2.2rem; min-height: 2.2rem; }
h1 { font-size: 1.6rem !important; padding-top: 0 !important; padding-bottom: 0.2rem !important; }
h2, h3 { padding-top: 0.3rem !important; padding-bottom: 0.2rem !important; }
/* Words never break inside: sentences wrap between words, short captions end in an ellipsis. */
[data-testid="stMain"] p, [data-testid="stMain"] span, [data-testid="stMain"] div {
  word-break: normal !important; overflow-wrap: normal !important; hyphens: none !important; }
[data-testid="stImageCaption"] { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 100%%; }
[data-testid="stMetricValue"] { font-size: 1.5rem; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
%(presentation)s
</style>
"""

_PRESENTATION = """
html { font-size: %(font)dpx; }
[data-testid="stSidebar"] { font-size: 16px; }
"""


def page_style(presentation: bool = False) -> Style:
    scale = PRESENTATION_SCALE if presentation else 1.0
    extra = _PRESENTATION % {"font": round(16 * scale)} if presentation else ""
    st.html(_CSS % {"presentation": extra})
    return Style(scale, round(64 * scale), round(40 * scale), round(48 * scale), 3 if presentation else 5)
