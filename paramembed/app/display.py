"""Pure display helpers for the app: thumbnails any image can be shown as, short labels, plurals.

No Streamlit here: these are tested as plain functions. Words come from the message catalog
(`say`), in the session's language inside the app and the server's default outside it.
"""

from __future__ import annotations

import io
import re
import string

import numpy as np
import torch
from PIL import Image

from paramembed.app.messages import say, say_n

# The characters that make Markdown out of plain text anywhere in a line: links and images need
# brackets (a visitor's class named ![b](http://host/x.png) would make every browser showing it
# fetch that URL), emphasis, code, LaTeX, strikethrough, tables and autolinks the rest. Escaping
# these, and a block marker at the start, is enough: "(", "!", "." and ":" stay readable as they are.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>$~|])")
_BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")  # a heading, quote, list or rule marker

THUMBNAIL_SIDE = 64  # pixels: every thumbnail is this square, so rows of them line up
PAPER = (255, 255, 255)  # letterbox colour: the page background


def _to_pil(image) -> Image.Image:
    """PIL image, (H, W) / (H, W, C) array or (C, H, W) tensor (floats in [0, 1] or uint8) -> PIL L/RGB."""
    if isinstance(image, Image.Image):
        return image if image.mode in ("L", "RGB") else image.convert("RGB")
    if isinstance(image, torch.Tensor):
        arr = image.detach().cpu().float().numpy()
        if arr.ndim == 3:
            arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)) or 0 in arr.shape:
        raise ValueError(f"expected an image, got an array of shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    return Image.fromarray(arr).convert("RGB" if arr.ndim == 3 else "L")


def thumbnail(image, side: int = THUMBNAIL_SIDE) -> Image.Image:
    """Any image -> a `side` x `side` thumbnail: scaled to fit, letterboxed on white, never 0 pixels tall.

    A 600x10 strip scaled to a 56-pixel width is under one pixel tall, and st.image rejects it;
    fitting it into a square box and padding keeps every thumbnail showable and the rows aligned.
    """
    img = _to_pil(image)
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
    box = Image.new(img.mode, (side, side), PAPER if img.mode == "RGB" else PAPER[0])
    box.paste(img, ((side - size[0]) // 2, (side - size[1]) // 2))
    return box


def png_bytes(image: Image.Image) -> bytes:
    """A thumbnail as PNG bytes, made once per task: st.image would encode a PIL image on every rerun."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # a 64-pixel thumbnail: speed over the last bytes
    return out.getvalue()


def thumbnail_bytes(image: Image.Image) -> bytes:
    """A thumbnail as the bytes the page shows inline (paramembed.app.cards): PNG for greyscale (a
    drawing's is ~0.5 kB, exact), JPEG for colour (a photo's 64-pixel PNG is ~8 kB, its JPEG ~1.7 kB)."""
    if image.mode == "L":
        return png_bytes(image)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a short name for the i-th class."""
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = string.ascii_uppercase[r] + name
    return name


def short_labels(class_names: list[str], sampled: bool) -> list[str]:
    """Labels to show: a sampled task's classes are paths (`test-alphabet-003/char-11`), shown as
    "Class A", "Class B", ... (the path goes in the hover help); a hand-made task's own names stay."""
    return [say("class_letter", letter=letter(i)) for i in range(len(class_names))] if sampled else list(class_names)


def plural(n: int, one: str, many: str | None = None) -> str:
    """plural(1, "query", "queries") -> "1 query"; plural(3, "image") -> "3 images"."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def describe_task(ways: int, shots: list[int], queries: int, labelled: int) -> str:
    """"5-way 5-shot, 15 queries (15 labelled)", with "1 query" where there is one."""
    if len(set(shots)) == 1:
        return say("task_shots", ways=ways, shots=shots[0], queries=say_n("queries", queries), labelled=labelled)
    return say("task_shot_range", ways=ways, low=min(shots), high=max(shots), queries=say_n("queries", queries),
               labelled=labelled)


def md_text(text: object) -> str:
    """User text (a class or file name, an error message naming one) as Markdown that shows it literally.

    Each syntax character is backslash-escaped, which CommonMark renders as the character itself.
    """
    escaped = _MARKDOWN_SYNTAX.sub(r"\\\1", str(text))
    # "1." escapes its dot, the other markers themselves: a backslash before a digit would show.
    return _BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(2).isdigit() else m.group(1) + "\\" + m.group(2),
                            escaped, count=1)
