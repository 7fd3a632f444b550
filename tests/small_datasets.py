"""Small image datasets written on the fly, shared by tests in several folders.

    root = make_alphabets(tmp_path / "omni")     # Omniglot layout: root/<alphabet>/<character>/<n>.png
    upload = image_folder_zip(classes=6, images=3)  # a zip of class folders, as the train page uploads
"""

import io
import zipfile

import numpy as np
from PIL import Image


def make_alphabets(root, alphabets=3, characters=4, drawings=8):
    """Omniglot layout: root/<alphabet>/<character>/<n>.png, each character a distinct bar."""
    for a in range(alphabets):
        for c in range(characters):
            folder = root / f"alphabet{a}" / f"char{c}"
            folder.mkdir(parents=True)
            for d in range(drawings):
                arr = np.full((24, 24), 255, np.uint8)
                arr[2 + 4 * c : 5 + 4 * c, 2 + a + d % 3 : 14 + a] = 0
                Image.fromarray(arr).save(folder / f"{d}.png")
    return root


def image_folder_zip(classes: int, images: int) -> bytes:
    """A zip of `classes` folders of `images` random 28x28 greyscale PNGs each (class<c>/img<i>.png)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for c in range(classes):
            for i in range(images):
                img = Image.fromarray((np.random.default_rng(c * 100 + i).random((28, 28)) * 255).astype(np.uint8))
                png = io.BytesIO()
                img.save(png, format="PNG")
                zf.writestr(f"class{c}/img{i}.png", png.getvalue())
    return buffer.getvalue()
