"""The playground's query cards and thumbnail rows as HTML blocks: what the browser draws after every click.

    st.html(cards_html([Card(...), ...], per_row=5, query_px=64, class_px=40))
    st.html(thumbs_html(uris, 48, captions=["Class A", ...]))       # one thumbnail per class
    st.html(support_html([("Class A", "full/name", uris), ...], 48))  # each class's support images

Drawn as Streamlit elements, a card was ten of them (a bordered container, two columns, two
images, a coloured box and three progress bars), so 15 cards were 150 elements and 30 image
fetches, and the browser spent about half a second rebuilding them on every click (measured
with Chrome's tracing in the issue 22 work; the same grid as one element took 0.2 s against
0.7 s). Here a card is a few tags in one block, its thumbnails inline (data URIs made once per
task), so a rerun sends one element and the browser fetches nothing. The support set (25 images
in five rows of columns) and the row of class thumbnails are drawn the same way.

The look follows Streamlit's own: a bordered card, a tinted verdict box with a Material mark (the
icon font Streamlit already loads; never emoji), an orange "low confidence" pill whose tooltip
says why, and one bar per top-k class. Colours are tints over the theme's own text colour, so
the light and the dark theme both read. No Streamlit here: the HTML is tested as text.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

from paramembed.app.messages import say

# A verdict's kind -> (its Material mark, the tint of its box and mark): right, wrong, unlabelled.
VERDICTS = {
    "right": ("check_circle", "33, 195, 84"),
    "wrong": ("cancel", "255, 43, 43"),
    "unlabelled": ("help", "28, 131, 225"),
}
LOW_MARK = "warning"

_CSS = """<style>
.pe-cards { display: grid; grid-template-columns: repeat(%(per_row)d, minmax(0, 1fr)); gap: 1rem; }
.pe-card { border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 0.5rem; padding: 0.75rem; min-width: 0;
  display: flex; flex-direction: column; gap: 0.5rem; }
.pe-thumbs { display: flex; align-items: flex-end; gap: 1rem; }
.pe-thumbs figure { margin: 0; min-width: 0; }
.pe-thumbs img { display: block; border-radius: 0.5rem; }
.pe-thumbs figcaption { font-size: 0.875rem; opacity: 0.6; text-align: center; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; max-width: 100%%; }
.pe-verdict { display: flex; gap: 0.5rem; align-items: flex-start; border-radius: 0.5rem; padding: 0.75rem; line-height: 1.5; }
.pe-verdict p { margin: 0; }
.pe-mark { font-family: "Material Symbols Rounded"; font-weight: normal; font-style: normal; font-size: 1.25rem;
  line-height: 1; letter-spacing: normal; text-transform: none; white-space: nowrap; direction: ltr;
  font-feature-settings: "liga"; -webkit-font-smoothing: antialiased; user-select: none; }
.pe-badge { align-self: flex-start; display: inline-flex; align-items: center; gap: 0.25rem; border-radius: 0.5rem;
  padding: 0 0.4rem; font-size: 0.875rem; color: rgb(237, 125, 0); background: rgba(255, 164, 33, 0.15); cursor: help; }
.pe-badge .pe-mark { font-size: 1rem; }
.pe-bar-text { font-size: 0.875rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.pe-track { height: 0.5rem; border-radius: 0.25rem; background: rgba(128, 128, 128, 0.2); overflow: hidden; }
.pe-fill { height: 100%%; background: rgb(255, 75, 75); }
</style>"""
_THUMBS_CSS = """<style>
.pe-thumbrow { display: flex; flex-wrap: wrap; gap: 0.25rem; align-items: flex-start; }
.pe-thumbrow figure { margin: 0; min-width: 0; }
.pe-thumbrow img { display: block; border-radius: 0.5rem; }
.pe-thumbrow figcaption { font-size: 0.875rem; opacity: 0.6; text-align: center; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; max-width: 100%; }
.pe-support { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 5fr); gap: 1rem; align-items: center; }
.pe-support strong[title] { text-decoration: underline dotted; cursor: help; }
</style>"""


@dataclass(frozen=True)
class Card:
    """One query's card; every text is plain (escaped here), `verdict_html` is `message_html`'s output."""

    query_uri: str  # the query's thumbnail, a data URI
    class_uri: str  # the predicted class's thumbnail
    caption: str  # under the query: "query 3", or the file's name
    verdict: str  # "right", "wrong" or "unlabelled"
    verdict_html: str
    low: str | None  # the "low confidence" pill's tooltip (why), or None when the answer is sure
    top: list[tuple[str, float]]  # (the bar's text, probability) for each top-k class


def data_uri(image: bytes) -> str:
    """PNG or JPEG bytes -> a data URI the page shows without fetching anything."""
    mime = "image/jpeg" if image[:2] == b"\xff\xd8" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def message_html(key: str, /, **values) -> str:
    """`say(key, ...)` as HTML: the catalog's Markdown (**bold**, a line break) becomes tags, and each
    value (a class or file name a visitor chose) is escaped text, never markup of either kind."""
    marks = {name: f"\x00{i}\x00" for i, name in enumerate(values)}
    text = html.escape(say(key, **marks), quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text, flags=re.S)
    text = text.replace("  \n", "<br>").replace("\n", " ")
    for name, mark in marks.items():
        text = text.replace(mark, html.escape(str(values[name]), quote=False))
    return text


def _mark(name: str, tint: str | None = None) -> str:
    colour = f' style="color: rgb({tint})"' if tint else ""
    return f'<span class="pe-mark" aria-hidden="true"{colour}>{name}</span>'


def card_html(card: Card, query_px: int, class_px: int) -> str:
    mark, tint = VERDICTS[card.verdict]
    parts = [
        '<div class="pe-card">',
        '<div class="pe-thumbs">',
        f'<figure><img src="{card.query_uri}" width="{query_px}" height="{query_px}" alt="">'
        f"<figcaption>{html.escape(card.caption, quote=False)}</figcaption></figure>",
        f'<img src="{card.class_uri}" width="{class_px}" height="{class_px}" alt="">',
        "</div>",
        # The text: the tint mixed into the theme's own text colour (darker on light, lighter on dark).
        f'<div class="pe-verdict pe-{card.verdict}" style="background: rgba({tint}, 0.1); '
        f'color: color-mix(in srgb, rgb({tint}) 45%, currentColor)">{_mark(mark)}'
        f"<p>{card.verdict_html}</p></div>",
    ]
    if card.low is not None:
        parts.append(f'<span class="pe-badge" title="{html.escape(card.low)}">{_mark(LOW_MARK)}'
                     f"{html.escape(say('low_confidence'), quote=False)}</span>")
    for text, p in card.top:
        width = f"{100 * min(max(p, 0.0), 1.0):.1f}%"
        parts.append(f'<div class="pe-bar"><div class="pe-bar-text">{html.escape(text, quote=False)}</div>'
                     f'<div class="pe-track"><div class="pe-fill" style="width: {width}"></div></div></div>')
    parts.append("</div>")
    return "".join(parts)


def cards_html(cards: list[Card], per_row: int, query_px: int, class_px: int) -> str:
    """The cards in a grid of `per_row` columns, with the styles they need."""
    body = "".join(card_html(c, query_px, class_px) for c in cards)
    return _CSS % {"per_row": per_row} + f'<div class="pe-cards">{body}</div>'


def thumbs_html(uris: list[str], px: int, captions: list[str] | None = None) -> str:
    """A row of `px`-pixel thumbnails, each with its caption (plain text) under it when given."""
    figures = "".join(
        f'<figure style="width: {px}px"><img src="{uri}" width="{px}" height="{px}" alt="">'
        + (f"<figcaption>{html.escape(captions[i], quote=False)}</figcaption>" if captions else "") + "</figure>"
        for i, uri in enumerate(uris))
    return _THUMBS_CSS + f'<div class="pe-thumbrow">{figures}</div>'


def support_html(rows: list[tuple[str, str | None, list[str]]], px: int) -> str:
    """One row per class: its label in bold (`hover`, its full name, as the label's tooltip), then its images."""
    cells = []
    for label, hover, uris in rows:
        title = f' title="{html.escape(hover)}"' if hover else ""
        images = "".join(f'<img src="{uri}" width="{px}" height="{px}" alt="">' for uri in uris)
        cells.append(f"<strong{title}>{html.escape(label, quote=False)}</strong>"
                     f'<div class="pe-thumbrow">{images}</div>')
    return _THUMBS_CSS + f'<div class="pe-support">{"".join(cells)}</div>'
