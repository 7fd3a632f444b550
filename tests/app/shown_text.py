"""Every piece of text an AppTest run puts on the page, and the English words left in it.

    texts = shown_texts(at)                  # [(where, text)]: labels, help, options, bodies, charts, tables
    english_left(text, names)                # the Latin-letter words that are neither a name nor a known term

Used by the Chinese-mode walk (test_app_chinese.py): in Chinese, a word of English on the page is
a message that missed the catalog. What may stay in Latin letters: names (of classes, files,
models, methods, datasets: passed in `names`), code, paths and addresses, format strings, and the
terms of art listed in ALLOWED (product and format names, the maths' symbols).
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

from google.protobuf.message import Message

# Proto fields that hold text a person reads. Left out: keys and ids, icons, code (`code_text`),
# a text input's own value (what the person typed) and image data.
TEXT_FIELDS = {"label", "help", "placeholder", "body", "options", "caption", "text", "title", "message",
               "display_value", "tooltip"}
ALLOWED = {
    # products, datasets, formats and units
    "PCA", "t-SNE", "ONNX", "onnxruntime", "ImageNet", "ResNet-18", "CUDA", "CPU", "GPU", "MLP", "LEO", "MAML",
    "Omniglot", "Tiny-ImageNet", "CIFAR-10", "ImageFolder", "Embedding Projector", "Load", "RGB", "MB", "CSV",
    "safetensors", "zip", "tar.gz", "tgz", "paramembed", "MIT", "Lake et al.", "Shift", "k-means", "PC",
    # the maths' own symbols
    "softmax", "logit", "cos",
    # image formats the uploaders take
    "bmp", "gif", "jpeg", "jpg", "png", "tif", "tiff", "webp",
    # the language picker names both languages in their own words; the device picker's "auto" is a value
    "English", "Language", "auto", "cpu", "cuda",
    # the example class name in the new-class box ("例如 猫、alpha、我的签名")
    "alpha",
}
ORIGINAL = "（英文原文）"  # the Chinese catalog's mark before a library message, which stays English
_STRIP = [
    re.escape(ORIGINAL) + r".*",  # from the mark to the end: the library's English, said to be so
    r"`[^`]*`",  # code
    r":material/[a-z_]+:",  # icons
    r":[a-z]+(-badge|-background)?\[",  # Streamlit's coloured text and badges
    r"</?\w+>",  # HTML tags in Plotly text (<br>, <b>)
    r"%\{[^}]*\}|<extra></extra>",  # Plotly's hover templates
    r"\b[A-Z][A-Z0-9_]*_[A-Z0-9_]+\b",  # environment variables (PARAMEMBED_RUNS)
    r"https?://\S+|\b[\w.-]+\.(org|com|io)\b",  # addresses
    r"\S*[/\\]\S*",  # paths and layouts (runs/<name>/, class/image)
    r"[\w.-]*\.(png|jpe?g|zip|json|onnx|safetensors|tsv|csv|gz|tgz|py)\b",  # file names and extensions
    r"\b\d+D\b",  # 2D, 3D
    r"\?\w+=\S*",  # an address's query (?lang=...)
    r"\bPC\d+\b",
]


def _items(value) -> list:
    """A repeated field's items, or the one value."""
    return [value] if isinstance(value, (str, bytes, Message)) or not hasattr(value, "__len__") else list(value)


def _fields(message: Message, where: str, out: list) -> None:
    for field, value in message.ListFields():
        if field.name in ("spec",) and isinstance(value, str):  # a Plotly figure
            out += [(f"{where}.chart", t) for t in _chart_texts(json.loads(value))]
        elif field.name == "data" and isinstance(value, bytes) and "arrow" in type(message).__name__.lower():
            out += [(f"{where}.table", t) for t in _table_texts(value)]
        elif field.message_type is not None:
            for item in _items(value):
                _fields(item, f"{where}.{field.name}", out)
        elif field.name in TEXT_FIELDS and field.type == field.TYPE_STRING:
            out += [(f"{where}.{field.name}", v) for v in _items(value) if v]


def _chart_texts(spec: dict) -> list[str]:
    texts, layout = [], spec.get("layout", {})
    for key, value in layout.items():
        if isinstance(value, dict):
            title = value.get("title")
            texts.append(title.get("text", "") if isinstance(title, dict) else title or "")
    title = layout.get("title")
    texts.append(title.get("text", "") if isinstance(title, dict) else title or "")
    texts += [a.get("text", "") for a in layout.get("annotations", [])]
    for trace in spec.get("data", []):
        texts += [trace.get("name") or "", trace.get("hovertemplate") or ""]
    return [t for t in texts if t]


def _table_texts(data: bytes) -> list[str]:
    import pyarrow as pa

    table = pa.ipc.open_stream(io.BytesIO(data)).read_all()
    texts = [str(c) for c in table.column_names if not str(c).startswith("__")]
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            texts += [v for v in column.to_pylist() if v]
    return texts


class _HtmlText(HTMLParser):
    """The words of an st.html block a person reads: its text and tooltips (`title`), not its CSS
    and not what is drawn as an icon (`aria-hidden`: a Material mark's ligature name)."""

    SKIP = {"style", "script"}
    VOID = {"img", "br", "hr", "input", "meta", "link", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.stack: list[bool] = []  # per open tag: is its content hidden?

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("title"):
            self.texts.append(attrs["title"])
        if tag not in self.VOID:
            self.stack.append(tag in self.SKIP or attrs.get("aria-hidden") == "true" or any(self.stack))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if data.strip() and not any(self.stack):
            self.texts.append(data.strip())


def html_texts(body: str) -> list[str]:
    parser = _HtmlText()
    parser.feed(body)
    return parser.texts


def shown_texts(at) -> list[tuple[str, str]]:
    """(where, text) for everything on the page: main area and sidebar, blocks (tabs, expanders) included."""
    out: list = []

    def walk(node, where: str) -> None:
        proto = getattr(node, "proto", None)
        if type(node).__name__ == "Html":  # st.html: the page's CSS, or the query cards' text
            out.extend((f"{where}:Html", t) for t in html_texts(proto.body))
        elif isinstance(proto, Message):
            _fields(proto, f"{where}:{type(node).__name__}", out)
        for i, child in getattr(node, "children", {}).items():
            walk(child, f"{where}/{i}")

    walk(at._tree, "")
    return out


def english_left(text: str, names: set[str]) -> list[str]:
    """The words of `text` in Latin letters that are not a name, a known term, code, a path or a number."""
    for pattern in _STRIP:
        text = re.sub(pattern, " ", text, flags=re.S)
    for name in sorted(names | ALLOWED, key=len, reverse=True):  # longest first: "Tiny-ImageNet" before "ImageNet"
        # Letters, digits and "-" around a name make it another word; a Chinese character does not.
        text = re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", " ", text)
    text = re.sub(r"\\(.)", r"\1", text)  # Markdown escapes of a name's characters
    return re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", text)
