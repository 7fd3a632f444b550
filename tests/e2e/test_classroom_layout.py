"""The playground on a projector: at 1280x720 a sampled task's result is on the first screen, no
word breaks inside, card images never overlap, and presentation mode enlarges images and text.
Element positions, not pixels; a screenshot of each state goes to test-artifacts/e2e/."""

from __future__ import annotations

import pytest

from e2e_support import ARTIFACTS, STEP_TIMEOUT_MS, AppPage

pytestmark = pytest.mark.e2e
PROJECTOR = {"width": 1280, "height": 720}


@pytest.fixture
def projector(browser, server):
    context = browser.new_context(viewport=PROJECTOR)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = AppPage(context.new_page(), server.url)
    yield page
    page.assert_clean()
    context.close()


def boxes(page, selector: str) -> list[dict]:
    return page.page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })"
        ".filter(b => b.w > 0 && b.h > 0)")


def test_a_sampled_result_fits_the_first_screen_at_1280x720(projector):
    app = projector
    app.open()
    app.wait_text("Task accuracy", 180_000)
    app.idle()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app.page.screenshot(path=str(ARTIFACTS / "classroom-1280x720.png"))
    height = PROJECTOR["height"]
    # What runs, and the accuracy: on screen without scrolling.
    running = app.page.get_by_text("Running:").first.bounding_box()
    assert running and running["y"] + running["height"] <= height
    accuracy = boxes(app, '[data-testid="stMetric"]')
    assert accuracy and all(b["y"] + b["h"] <= height for b in accuracy[:3]), accuracy
    # The first row of query cards' verdicts: whole and on screen.
    verdicts = boxes(app, '[data-testid="stMain"] .pe-verdict:has-text("Predicted:")')
    first_row = [b for b in verdicts if abs(b["y"] - verdicts[0]["y"]) < 4]
    assert len(first_row) == 5, verdicts[:6]
    assert all(b["y"] + b["h"] <= height for b in first_row), first_row
    # Captions never wrap or break inside a word: one line each, cut with an ellipsis when too long.
    # (the classes' under their thumbnails, the queries' in the cards)
    captions = app.page.locator('[data-testid="stMain"] [data-testid="stImageCaption"], [data-testid="stMain"] .pe-card figcaption')
    styles = captions.evaluate_all("els => els.filter(e => e.getBoundingClientRect().height > 0).map(e => "
                                   "[getComputedStyle(e).whiteSpace, e.getBoundingClientRect().height, "
                                   "parseFloat(getComputedStyle(e).lineHeight) || 24])")
    assert styles and all(ws == "nowrap" and h <= 1.6 * lh for ws, h, lh in styles), styles[:5]
    # Sentences wrap between words, never inside one ("Predicte d:").
    breaks = app.page.locator('[data-testid="stMain"] .pe-verdict p').evaluate_all(
        "els => els.map(e => getComputedStyle(e).wordBreak + '/' + getComputedStyle(e).overflowWrap)")
    assert breaks and set(breaks) == {"normal/normal"}, set(breaks)
    # In every card the query image and its predicted class's thumbnail sit side by side, apart.
    alerts = app.page.locator('[data-testid="stMain"] .pe-verdict:has-text("Predicted:")')
    overlaps = alerts.evaluate_all("""els => els.map(a => {
        let card = a;  // the card: the closest block around the verdict that holds its two images
        while (card && card.querySelectorAll('img').length < 2) card = card.parentElement;
        const imgs = [...card.querySelectorAll('img')].slice(0, 2).map(i => i.getBoundingClientRect());
        return imgs[0].right <= imgs[1].left + 0.5; })""")
    assert overlaps and all(overlaps), overlaps


def test_presentation_mode_enlarges_images_and_text(projector):
    app = projector
    app.open()
    app.wait_text("Task accuracy", 180_000)
    app.idle()

    def sizes():
        font = app.page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        first_card = app.page.locator('[data-testid="stMain"] [data-testid="stTabs"] img').first  # query 1
        return font, first_card.bounding_box()["width"]

    font, image = sizes()
    app.page.get_by_text("Presentation mode").click()
    app.idle()
    app.wait_text("Task accuracy")
    app.idle()
    big_font, big_image = sizes()
    app.page.screenshot(path=str(ARTIFACTS / "classroom-presentation-1280x720.png"))
    assert big_font >= 1.4 * font and big_image >= 1.4 * image, (font, big_font, image, big_image)


def test_the_explorer_chart_starts_on_the_first_screen(projector):
    app = projector
    app.open()  # then through the navigation, as people go (a direct /explorer address 404s Streamlit's health check)
    app.page.locator('[data-testid="stSidebarNav"] a', has_text="Embedding explorer").first.click()
    chart = app.page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(timeout=180_000)
    app.idle()
    box = chart.bounding_box()
    # It started at the bottom edge (y ~ 540 of 720); now most of the first screen is the chart.
    assert box["y"] < PROJECTOR["height"] / 2, box
