"""Hand-made tasks kept on the server between page reloads, in a bounded folder.

A reload starts a new Streamlit session with empty state; the page's address keeps a random task
id (`?task=...`), and the draft is saved under that id as a task zip (`paramembed.tasks.saved`)
whenever it changes. The folder is bounded: at most `MAX_FILES` zips and `MAX_BYTES` in all, the
least recently written removed first, so a server shared by a class never fills its disk.

    store = DraftStore()            # $PARAMEMBED_CACHE/drafts, else the system temp folder
    store.put(task_id, zip_bytes); store.get(task_id) -> bytes | None
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

MAX_FILES = 200
MAX_BYTES = 500 * 2**20  # 500 MB; one task zip is at most a few MB of shrunk images
ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_id() -> str:
    return secrets.token_urlsafe(18)


def default_folder() -> Path:
    base = os.environ.get("PARAMEMBED_CACHE") or os.path.join(tempfile.gettempdir(), "paramembed")
    return Path(base) / "drafts"


class DraftStore:
    def __init__(self, folder: str | Path | None = None, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.max_files, self.max_bytes = max_files, max_bytes

    def _path(self, task_id: str) -> Path | None:
        # Only ids this module makes: an address cannot name any other file.
        return self.folder / f"{task_id}.zip" if isinstance(task_id, str) and ID.fullmatch(task_id) else None

    def get(self, task_id: str) -> bytes | None:
        path = self._path(task_id)
        try:
            return path.read_bytes() if path else None
        except OSError:
            return None

    def put(self, task_id: str, data: bytes) -> None:
        path = self._path(task_id)
        if path is None or len(data) > self.max_bytes:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a reader never sees half a zip
        self._trim()

    def drop(self, task_id: str) -> None:
        path = self._path(task_id)
        if path:
            path.unlink(missing_ok=True)

    def _trim(self) -> None:
        files = []
        for p in self.folder.glob("*.zip"):
            try:
                files.append((p.stat().st_mtime, p.stat().st_size, p))
            except OSError:
                continue
        files.sort(reverse=True)  # newest first: kept
        total = 0
        for i, (_, size, p) in enumerate(files):
            total += size
            if i >= self.max_files or total > self.max_bytes:
                p.unlink(missing_ok=True)
