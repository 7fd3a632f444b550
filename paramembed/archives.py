"""Untrusted archives (zip, tar.gz) read member by member, with every limit checked while reading.

An archive's headers say how large its files are, and a zip bomb lies in them. So nothing here
trusts a header: each member is read in chunks and counted, and reading stops at the first byte
over a limit. Only one member's bytes are held at a time.

    for member in iter_archive(data, limits, label="data.zip"):
        member.name, member.parts      # as stored; the safe path components
        member.data                    # bytes, or None when `member.problem` says why it was passed over
    extract_archive(data, dest, limits)  # writes the files under dest, or raises and leaves nothing

Limits on the whole archive (total bytes, number of entries) raise `ParamembedError`; problems
with one member (a path that leaves the archive, a file over the size limit, damage, encryption,
a link) come back as that member's `problem`, for the caller to report or refuse.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from paramembed.errors import ParamembedError

MB = 2**20
# Folders and files that archivers and operating systems add without being asked.
CLUTTER = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
ZIP_CENTRAL_ENTRY = b"PK\x01\x02"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may unpack to. The defaults fit a training dataset of small images."""

    max_total_bytes: int = 512 * MB  # all members together, uncompressed
    max_member_bytes: int = 16 * MB
    max_members: int = 100_000  # entries of any kind, folders included
    chunk_bytes: int = MB

    def describe(self) -> str:
        return (f"at most {self.max_total_bytes // MB} MB unpacked, {self.max_member_bytes // MB} MB per file "
                f"and {self.max_members} files")


TRAINING_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Member:
    name: str  # as stored, control characters shown as '?'
    parts: tuple[str, ...]  # path components, empty when the path is unsafe
    data: bytes | None  # None when `problem` is set
    problem: str | None = None


def printable(name: str) -> str:
    """A stored name fit for a message: control characters (a null byte, a newline) become '?'."""
    return _CONTROL.sub("?", name)


def member_parts(name: str) -> tuple[str, ...]:
    """A stored path -> its components; raises ParamembedError when it could not be a file under a folder."""
    if _CONTROL.search(name):
        raise ParamembedError("file name contains a control character (such as a null byte)")
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ParamembedError("absolute path: it would leave the archive's folder")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ParamembedError("path leaves the archive ('..')")
    return parts


def is_clutter(parts: tuple[str, ...]) -> bool:
    """Operating-system clutter (__MACOSX/, .DS_Store, ._resource forks, hidden files)."""
    return any(p in CLUTTER or p.startswith(".") for p in parts)


class _CappedStream(io.RawIOBase):
    """A decompressed stream that raises once more than `cap` bytes came out of it."""

    def __init__(self, raw, cap: int, label: str, limits: ArchiveLimits):
        self.raw, self.cap, self.label, self.limits, self.count = raw, cap, label, limits, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        room = self.cap - self.count + 1
        out = self.raw.read(room if n is None or n < 0 else min(n, room))
        self.count += len(out)
        if self.count > self.cap:
            raise _too_big(self.label, self.limits)
        return out


def _too_big(label: str, limits: ArchiveLimits) -> ParamembedError:
    return ParamembedError(f"{label}: unpacks to more than {limits.max_total_bytes // MB} MB, "
                           f"the limit for one archive ({limits.describe()})")


def _too_many(label: str, limits: ArchiveLimits) -> ParamembedError:
    return ParamembedError(f"{label}: holds more than {limits.max_members} files, the limit for one archive")


def archive_kind(data: bytes, label: str = "archive") -> str:
    """"zip" or "tar" (gzip-compressed), from the first bytes; raises for anything else."""
    if data[:2] == b"PK":
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "tar"
    raise ParamembedError(f"{label}: not a zip or tar.gz archive")


def _read_capped(stream, budget: int, limits: ArchiveLimits) -> tuple[bytes, int]:
    """Read `stream` in chunks until it ends or passes min(member limit, budget): (bytes, bytes read)."""
    cap = min(limits.max_member_bytes, budget)
    chunks, size = [], 0
    while size <= cap:
        chunk = stream.read(min(limits.chunk_bytes, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), size


def _zip_members(data: bytes, limits: ArchiveLimits, label: str, wanted) -> Iterator[Member]:
    # Every entry costs a central-directory record; counting their signature refuses an archive
    # of millions of entries before zipfile builds an object for each one.
    if data.count(ZIP_CENTRAL_ENTRY) > limits.max_members:
        raise _too_many(label, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ParamembedError(f"{label}: not a readable zip file ({err})") from None
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise _too_many(label, limits)
        for info in infos:
            if info.is_dir():
                continue
            name = printable(info.filename)
            try:
                parts = member_parts(info.filename)
            except ParamembedError as err:
                yield Member(name, (), None, str(err))
                continue
            if not parts or is_clutter(parts) or (wanted is not None and not wanted(info.filename, parts)):
                continue
            if info.flag_bits & 0x1:
                yield Member(name, parts, None, "encrypted")
                continue
            try:
                with archive.open(info) as stream:
                    content, size = _read_capped(stream, limits.max_total_bytes - total, limits)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, zlib.error) as err:
                yield Member(name, parts, None, f"damaged in the archive: {err}")
                continue
            total += size
            if total > limits.max_total_bytes:
                raise _too_big(label, limits)
            if size > limits.max_member_bytes:
                yield Member(name, parts, None, f"over the {limits.max_member_bytes / MB:g} MB limit for one file")
                continue
            yield Member(name, parts, content)


def _tar_members(data: bytes, limits: ArchiveLimits, label: str, wanted) -> Iterator[Member]:
    # Headers and padding count too (512 bytes and up each), so the stream itself is capped a
    # little above the members' limit: a header that claims a gigabyte cannot be read whole.
    stream = _CappedStream(gzip.GzipFile(fileobj=io.BytesIO(data)), limits.max_total_bytes + 2048 * (limits.max_members + 1),
                           label, limits)
    total = entries = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for info in archive:
                entries += 1
                if entries > limits.max_members:
                    raise _too_many(label, limits)
                if info.isdir():
                    continue
                name = printable(info.name)
                try:
                    parts = member_parts(info.name)
                except ParamembedError as err:
                    yield Member(name, (), None, str(err))
                    continue
                if not parts or is_clutter(parts) or (wanted is not None and not wanted(info.name, parts)):
                    continue
                if not info.isfile():
                    yield Member(name, parts, None, "not a regular file (a link or a device)")
                    continue
                content, size = _read_capped(archive.extractfile(info), limits.max_total_bytes - total, limits)
                total += size
                if total > limits.max_total_bytes:
                    raise _too_big(label, limits)
                if size > limits.max_member_bytes:
                    yield Member(name, parts, None, f"over the {limits.max_member_bytes / MB:g} MB limit for one file")
                    continue
                yield Member(name, parts, content)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ParamembedError(f"{label}: not a readable tar.gz file ({err})") from None


def iter_archive(
    data: bytes, limits: ArchiveLimits = TRAINING_LIMITS, label: str = "archive", wanted: Callable[[str, tuple[str, ...]], bool] | None = None
) -> Iterator[Member]:
    """The archive's files one at a time (folders and clutter left out), limits checked while reading.

    `wanted(stored name, parts)` picks members to read; the others are passed over unread. Raises
    ParamembedError when the archive is unreadable or over its total or entry-count limit.
    """
    reader = _zip_members if archive_kind(data, label) == "zip" else _tar_members
    yield from reader(data, limits, label, wanted)


def list_archive(data: bytes, limits: ArchiveLimits = TRAINING_LIMITS, label: str = "archive") -> list[Member]:
    """Every file the archive holds (folders and clutter left out), in order, none of them read.

    A zip's names come from its directory; a tar's from passing over each member unread. Each
    `Member` has data None; members whose path is unsafe carry that as their `problem`.
    """
    listed: list[Member] = []

    def note(name: str, parts: tuple[str, ...]) -> bool:
        listed.append(Member(printable(name), parts, None))
        return False

    listed += iter_archive(data, limits, label, wanted=note)
    return listed


def extract_archive(data: bytes, dest: str | Path, limits: ArchiveLimits = TRAINING_LIMITS, label: str = "archive") -> Path:
    """Write the archive's files under `dest` (a new folder); on any problem remove it and raise.

    Every path is checked before anything is written, so nothing lands outside `dest`.
    """
    dest = Path(dest)
    if dest.exists():
        raise ParamembedError(f"{dest} already exists; an archive is only unpacked into a new folder")
    dest.mkdir(parents=True)
    try:
        written = 0
        for member in iter_archive(data, limits, label):
            if member.problem is not None:
                raise ParamembedError(f"{label}: {member.name}: {member.problem}")
            target = dest.joinpath(*member.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.data)
            except OSError as err:
                raise ParamembedError(f"{label}: {member.name}: cannot be written ({err.strerror or err})") from None
            written += 1
        if not written:
            raise ParamembedError(f"{label}: the archive holds no files")
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest
