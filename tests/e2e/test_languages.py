"""Every page in English and in Chinese at a projector's 1280x720, with the Chinese font really there.

Debian's Chromium here has no CJK font (no fonts-noto-cjk): Chinese shows only if the app's own
subset (static/fonts/, declared in .streamlit/config.toml) is served and used. Each page checks
`document.fonts.check()` and that the face has loaded, and keeps a screenshot of the first screen
in test-artifacts/e2e/languages-<page>-<lang>.png.
"""

from __future__ import annotations

import pytest

from e2e_support import ARTIFACTS
from paramembed.app.fonts import CJK_FAMILY

pytestmark = pytest.mark.e2e

PROJECTOR = {"width": 1280, "height": 720}
# (page, its title in the sidebar and on the page, a text the page shows once it has rendered)
PAGES = {
    "en": [("playground", "Playground", "Task accuracy"), ("explorer", "Embedding explorer", "Generated weights vs plain prototypes"),
           ("curves", "Training curves", "Download CSV"), ("train", "Train it yourself", "Start a run")],
    "zh-CN": [("playground", "试验场", "任务准确率"), ("explorer", "嵌入探索器", "生成的权重与普通原型的比较"),
              ("curves", "训练曲线", "下载 CSV"), ("train", "自己训练", "开始一次训练")],
}
FONT_STATE = """async (family) => {
    await document.fonts.ready;
    const faces = [...document.fonts].filter(f => f.family.replace(/"/g, "") === family);
    await Promise.all(faces.map(f => f.status === "loaded" ? f : f.load()));
    return {check: document.fonts.check(`16px "${family}"`, "参数"), faces: faces.map(f => f.status)};
}"""


def open_page(app, lang: str, title: str, first: bool) -> None:
    if first:
        app.open(f"?lang={lang}")
        app.idle()
    else:
        app.page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        app.idle()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_page_in_both_languages_with_the_chinese_font(app, lang):
    app.page.set_viewport_size(PROJECTOR)
    for i, (page, title, rendered) in enumerate(PAGES[lang]):
        open_page(app, lang, title, first=i == 0)
        app.wait_text(rendered, 240_000)
        app.idle()
        assert app.page.get_by_role("heading", name=title).count() >= 1, f"{page}: no heading {title!r}"
        # The language stays in the address through page switches.
        assert f"lang={lang}" in app.page.url, app.page.url
        fonts = app.page.evaluate(FONT_STATE, CJK_FAMILY)
        assert fonts["check"] and fonts["faces"] and all(s == "loaded" for s in fonts["faces"]), fonts
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        app.page.screenshot(path=str(ARTIFACTS / f"languages-{page}-{lang}.png"))
    app.assert_clean()


def test_the_picker_switches_and_a_reload_keeps_the_language(app):
    app.page.set_viewport_size(PROJECTOR)
    app.open()
    app.wait_text("Task accuracy", 240_000)
    app.select("Language / 语言", "简体中文", sidebar=True)
    app.wait_text("任务准确率")
    assert "lang=zh-CN" in app.page.url
    app.page.reload()
    app.page.locator('[data-testid="stApp"]').wait_for()
    app.wait_text("任务准确率", 240_000)
    assert app.page.get_by_role("heading", name="试验场").count() >= 1
    # A page switch keeps it too, and the chart there draws its Chinese title in the Chinese font.
    app.page.locator('[data-testid="stSidebarNav"] a', has_text="训练曲线").first.click()
    app.idle()
    app.wait_text("下载 CSV")
    title = app.page.locator(".st-key-curves_loss .js-plotly-plot .gtitle").first
    assert title.text_content() == "训练损失"
    assert CJK_FAMILY in title.evaluate("t => getComputedStyle(t).fontFamily")
    app.assert_clean()
