"""Which classes the explorer may read: built-in datasets, an uploaded archive, or shared server folders.

A visitor of a served app must not be able to read (or learn the existence of) the server's
files, so the explorer reads only

    procedural_source(channels)               the built-in procedural glyphs or photos
    unpack_upload(session, name, data)        an archive the visitor uploads (at most 100 MB), unpacked
                                              within UPLOAD_LIMITS into that session's own folder
    server_source(text, serving)              a folder or archive on the server, only when the
                                              serving settings allow it and only under `data_roots`

Each returns the name `paramembed.data.registry.get_dataset` takes; each refusal is a
`ParamembedError` whose message does not depend on whether a path outside the roots exists, and
never shows a server path for an upload (`public_message`).

Visitors' uploads are bounded on disk: one unpacked archive per session (a new upload replaces
the last), at most UPLOAD_LIMITS each, and all sessions together at most GLOBAL_UPLOAD_BYTES;
least recently used sessions' folders are evicted to make room, and a refused archive leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

from paramembed.data.archives import MB, ArchiveLimits, extract_archive
from paramembed.data.folders import cache_root
from paramembed.errors import ParamembedError
from paramembed.serving import Serving, confine

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
# What one visitor's archive may unpack to: the explorer shows at most 500 classes of up to 10
# shots, so 5,000 files leave room; every file is decoded into memory once when opened.
UPLOAD_LIMITS = ArchiveLimits(max_total_bytes=256 * MB, max_member_bytes=20 * MB, max_members=5000)
# All sessions' unpacked uploads together (override with $PARAMEMBED_UPLOAD_BUDGET_MB).
GLOBAL_UPLOAD_BYTES = 2048 * MB
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def new_session_id() -> str:
    """A browser session's upload folder name: random, so one session cannot name another's."""
    return uuid.uuid4().hex


def uploads_root() -> Path:
    return cache_root() / "visitors"


def global_budget() -> int:
    value = os.environ.get("PARAMEMBED_UPLOAD_BUDGET_MB")
    return int(value) * MB if value and value.isdigit() else GLOBAL_UPLOAD_BYTES


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _evict(root: Path, keep: Path, room: int, budget: int) -> None:
    """Delete other sessions' folders, least recently used first, until `room` more bytes fit in `budget`."""
    folders = sorted((f for f in root.iterdir() if f.is_dir() and f != keep), key=lambda f: f.stat().st_mtime)
    used = sum(_folder_bytes(f) for f in folders)
    for folder in folders:
        if used + room <= budget:
            break
        used -= _folder_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)


def unpack_upload(session: str, name: str, data: bytes, root: Path | None = None,
                  limits: ArchiveLimits = UPLOAD_LIMITS, budget: int | None = None) -> Path:
    """Unpack a visitor's archive into their session's folder (replacing their last upload); returns the folder.

    Room for the whole limit is made first (evicting least recently used sessions), so the store
    never holds more than `budget` (default `global_budget()`); a refused archive leaves nothing.
    """
    if not SESSION_ID.fullmatch(session):
        raise ParamembedError("this browser session has no valid upload folder; reload the page")
    _check_upload(name, data)
    budget = global_budget() if budget is None else budget
    if limits.max_total_bytes > budget:
        raise ParamembedError("this server takes no uploads for the explorer (its upload budget is smaller than one archive)")
    root = root or uploads_root()
    session_folder = root / session
    shutil.rmtree(session_folder, ignore_errors=True)  # one upload per session: the new one replaces it
    root.mkdir(parents=True, exist_ok=True)
    _evict(root, session_folder, limits.max_total_bytes, budget)
    dest = session_folder / f"upload-{hashlib.sha256(data).hexdigest()[:16]}"
    try:
        extract_archive(data, dest, limits, label=name)
    except ParamembedError:
        shutil.rmtree(session_folder, ignore_errors=True)
        raise
    return dest


def public_message(err: Exception, folder: Path, name: str, root: Path | None = None) -> str:
    """An error about an uploaded archive, with the server's folders replaced: `folder` (where it was
    unpacked) by the upload's name, anything else under the uploads root by "uploads"."""
    text = str(err).replace(str(folder), name)
    return text.replace(str(root or uploads_root()), "uploads")


def _check_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse a file that is not an archive by its name, is over `max_bytes`, or is empty."""
    if not is_archive(name):
        raise ParamembedError(f"{name!r} is not an archive: upload a .zip, .tar.gz or .tgz")
    if len(data) > max_bytes:
        raise ParamembedError(f"{name!r} is {len(data) / 2**20:.0f} MB; the explorer takes archives up to {max_bytes / 2**20:.0f} MB")
    if not data:
        raise ParamembedError(f"{name!r} is empty")


def procedural_source(channels: int) -> str:
    """The built-in dataset that matches the model's input: glyphs (greyscale) or photos (colour)."""
    return "procedural" if channels == 1 else "procedural-photo"


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


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
