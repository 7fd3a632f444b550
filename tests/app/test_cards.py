"""The query cards' HTML (paramembed.app.cards): the catalog's words, a visitor's names as text, Material marks."""

from __future__ import annotations

import re

from paramembed.app.cards import Card, card_html, cards_html, data_uri, message_html, support_html, thumbs_html

PNG = data_uri(b"\x89PNG\r\n\x1a\n")


def card(**changes) -> Card:
    fields = dict(query_uri=PNG, class_uri=PNG, caption="query 1", verdict="right",
                  verdict_html=message_html("predicted", label="Class A"), low=None, top=[("Class A: 97.0%", 0.97)])
    return Card(**{**fields, **changes})


def test_the_catalogs_markdown_becomes_tags_and_values_stay_text():
    assert message_html("predicted", label="Class A") == "Predicted: <strong>Class A</strong>"
    assert message_html("predicted_wrong", label="a", truth="b") == "Predicted: <strong>a</strong><br>true: b"
    # A name with Markdown or HTML in it is shown as the characters it is.
    evil = message_html("predicted", label='**x** <img src="http://h/y.png"> & ![b](http://h/z.png)')
    assert evil == ("Predicted: <strong>**x** &lt;img src=\"http://h/y.png\"&gt; &amp; ![b](http://h/z.png)</strong>")


def test_a_card_holds_its_images_verdict_and_bars():
    html = card_html(card(), 64, 40)
    assert html.count("<img ") == 2 and all(src == PNG for src in re.findall(r'<img src="([^"]+)"', html))
    assert 'width="64"' in html and 'width="40"' in html
    assert '<div class="pe-verdict pe-right"' in html and ">check_circle</span>" in html
    assert "Predicted: <strong>Class A</strong>" in html and "<figcaption>query 1</figcaption>" in html
    assert 'style="width: 97.0%"' in html and "pe-badge" not in html


def test_marks_and_the_low_confidence_pill():
    assert ">cancel</span>" in card_html(card(verdict="wrong"), 64, 40)
    assert ">help</span>" in card_html(card(verdict="unlabelled"), 64, 40)
    low = card_html(card(low='the top two classes are 3% apart "<b>"'), 64, 40)
    assert '<span class="pe-badge" title="the top two classes are 3% apart &quot;&lt;b&gt;&quot;">' in low
    assert ">warning</span>low confidence</span>" in low


def test_captions_and_bar_texts_are_escaped_and_bars_clamped():
    html = card_html(card(caption="<script>x</script>.png", top=[("<b>: 120%", 1.2), ("c: -1", -0.1)]), 64, 40)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;.png" in html and "&lt;b&gt;: 120%" in html
    assert 'style="width: 100.0%"' in html and 'style="width: 0.0%"' in html


def test_the_grid_has_as_many_columns_as_asked():
    html = cards_html([card(), card()], 3, 96, 60)
    assert "grid-template-columns: repeat(3, minmax(0, 1fr))" in html and html.count('class="pe-card"') == 2
    assert 'width="96"' in html and html.startswith("<style>")


def test_thumbnail_rows_and_the_support_set():
    row = thumbs_html([PNG, PNG], 48, captions=["Class A", "<i>b</i>"])
    assert row.count('<img src="') == 2 and "<figcaption>Class A</figcaption>" in row and "&lt;i&gt;b&lt;/i&gt;" in row
    support = support_html([("Class A", "alphabet-1/char-3", [PNG] * 3), ("alpha", None, [PNG])], 48)
    assert support.count('<img src="') == 4
    assert '<strong title="alphabet-1/char-3">Class A</strong>' in support and "<strong>alpha</strong>" in support


def test_colour_thumbnails_travel_as_jpeg_and_greyscale_as_png():
    import numpy as np

    from paramembed.app.display import thumbnail, thumbnail_bytes

    grey = thumbnail_bytes(thumbnail(np.zeros((28, 28), np.uint8)))
    colour = thumbnail_bytes(thumbnail(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)))
    assert data_uri(grey).startswith("data:image/png;base64,") and data_uri(colour).startswith("data:image/jpeg;base64,")
