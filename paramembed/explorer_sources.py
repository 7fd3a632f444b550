"""Which classes the explorer may read: built-in datasets, an uploaded archive, or shared server folders.

A visitor of a served app must not be able to read (or learn the existence of) the server's
files, so the explorer reads only

    procedural_source(channels)               the built-in procedural glyphs or photos
    store_upload(name, data)                  an archive the visitor uploads (at most 100 MB),
                                              saved by content hash and loaded like any archive
    server_source(text, serving)              a folder or archive on the server, only when the
                                              serving settings allow it and only under `data_roots`

Each returns the name `paramembed.data.registry.get_dataset` takes; each refusal is a
`ParamembedError` whose message does not depend on whether a path outside the roots exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from paramembed.data.folders import cache_root
from paramembed.errors import ParamembedError
from paramembed.serving import Serving, confine

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")


def procedural_source(channels: int) -> str:
    """The built-in dataset that matches the model's input: glyphs (greyscale) or photos (colour)."""
    return "procedural" if channels == 1 else "procedural-photo"


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def store_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, root: Path | None = None) -> Path:
    """Save an uploaded archive under the cache, named by its content's hash, and return its path.

    The same bytes uploaded twice land on the same file (written once), so the unpacked and
    decoded copies the dataset loader keeps are reused. Unpacking is bounded by the loader.
    """
    if not is_archive(name):
        raise ParamembedError(f"{name!r} is not an archive: upload a .zip, .tar.gz or .tgz")
    if len(data) > max_bytes:
        raise ParamembedError(f"{name!r} is {len(data) / 2**20:.0f} MB; the explorer takes archives up to {max_bytes / 2**20:.0f} MB")
    if not data:
        raise ParamembedError(f"{name!r} is empty")
    suffix = next(s for s in ARCHIVE_SUFFIXES if name.lower().endswith(s))
    folder = (root or cache_root()) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a concurrent reader never sees half a file
    return path


def server_source(text: str, serving: Serving, token: str | None = None) -> str:
    """A folder or archive on the server, confined to `serving.data_roots`, as a dataset name.

    Refused when the settings do not let visitors read server folders. A path outside the roots
    gets the same message whether or not it exists (`confine`); inside the roots the message may
    say what is missing, since those folders are shared anyway.
    """
    if not serving.may_read_folders(token):
        raise ParamembedError("this server does not read its own folders for visitors: upload an archive instead")
    text = text.strip()
    if not text:
        raise ParamembedError("type the path of a folder or archive under the shared folders")
    path = confine(text, serving.data_roots)
    if path.is_dir() or (path.is_file() and is_archive(path.name)):
        return str(path)
    raise ParamembedError(f"{text!r} is not a folder or a .zip / .tar.gz / .tgz archive under the shared folders")
