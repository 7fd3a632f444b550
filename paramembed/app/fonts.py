"""The app's fonts: Latin text in Streamlit's Source Sans, Chinese in the subset the app serves.

A machine without a CJK font (Debian's Chromium without fonts-noto-cjk) draws Chinese as empty
boxes. The app ships `static/fonts/NotoSansSC-paramembed.woff2` (scripts/subset_cjk_font.py) and
declares it in .streamlit/config.toml ([[theme.fontFaces]], served at app/static/ with
server.enableStaticServing), where `theme.font` puts it after Source Sans: the browser takes
each character from the first font that has it. Streamlit's chart theme reads that font; figures
drawn without the theme (`theme=None`) name the same stack in their layout (`FIGURE_FONT`).
"""

from __future__ import annotations

CJK_FAMILY = "paramembed CJK"
FIGURE_FONT = f'"Source Sans", "{CJK_FAMILY}", sans-serif'
