"""Untrusted archives (zip, tar, tar.gz / .tgz, tar.bz2, tar.xz) read member by member, limits checked while reading.

An archive is untrusted: a 1 MB zip can hold gigabytes of zeros, its headers can lie about sizes,
and its names can be `../../.bashrc`, absolute, Windows-style, links, devices or hold a null byte.
So nothing here trusts a header: each member is read in chunks and counted, and reading stops at
the first byte over a limit. Only one chunk (in memory: one member) is held at a time.

    for member in iter_archive(data_or_path, limits, label="data.zip"):
        member.name, member.parts      # as stored (printable); the safe path components
        member.data                    # bytes, or None when `member.problem` says why it was passed over
    list_archive(data_or_path, limits)           # every file, none of them read
    extract_archive(data_or_path, dest, limits)  # dest appears complete, or not at all

Limits on the whole archive (total bytes, number of entries) raise `ParamembedError`; problems
with one member (a path that leaves the archive, a file over the size limit, damage, encryption,
a link) come back as that member's `problem`, for the caller to report or refuse.

    UPLOAD_LIMITS   an archive a visitor uploads to the app (the default everywhere)
    DATASET_LIMITS  a user's own dataset: room for Tiny-ImageNet (83k files, 76 MB) many times over
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import tarfile
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from paramembed.errors import ParamembedError

MB = 2**20
# Folders and files that archivers and operating systems add without being asked.
CLUTTER = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
ZIP_CENTRAL_ENTRY = b"PK\x01\x02"
COMPLETE = ".complete"  # written last into an extracted folder: it is whole
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SHOWN_NAME = 100  # characters of a stored name a message shows: a name is never longer than a line
MAX_DEPTH = 32  # folders in one member's path; deeper ones are refused (pathlib's mkdir recurses per level)
# A pax or GNU long-name header holds a name and a few attributes; tarfile reads one whole into
# memory, so a header that claims megabytes is refused before it is read.
MAX_HEADER_BYTES = 64 * 1024
# What reading a damaged member can raise (gzip's BadGzipFile and bz2's errors are OSErrors).
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, OSError, ValueError, NotImplementedError, EOFError,
                zlib.error, lzma.LZMAError)

Source = bytes | str | Path  # an archive's bytes, or its path


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may unpack to. The defaults are `UPLOAD_LIMITS`, for a visitor's upload."""

    # Streamlit takes uploads up to 200 MB; image files barely compress, so this leaves room.
    max_total_bytes: int = 512 * MB  # all members together, uncompressed
    max_member_bytes: int = 20 * MB  # the app's limit for one image file (preprocess.MAX_FILE_BYTES)
    max_members: int = 100_000  # entries of any kind, folders included
    chunk_bytes: int = MB  # read at a time: memory stays at one chunk whatever a member claims

    def describe(self) -> str:
        return (f"at most {self.max_total_bytes / MB:g} MB unpacked, {self.max_member_bytes / MB:g} MB per file "
                f"and {self.max_members} files")


UPLOAD_LIMITS = ArchiveLimits()
# Real Omniglot background is 20k files / 5 MB and Tiny-ImageNet-150 83k files / 76 MB unpacked.
DATASET_LIMITS = ArchiveLimits(max_total_bytes=2048 * MB, max_member_bytes=64 * MB, max_members=500_000)


@dataclass(frozen=True)
class Member:
    name: str  # as stored, control characters shown as '?'
    parts: tuple[str, ...]  # path components, empty when the path is unsafe
    data: bytes | None  # None when `problem` is set, when not read (list_archive) or written to a folder
    problem: str | None = None


def printable(name: str) -> str:
    """A stored name fit for a message: control characters (a null byte, a newline) become '?', and a
    name longer than MAX_SHOWN_NAME keeps its start and end around '...'."""
    name = _CONTROL.sub("?", name)
    if len(name) > MAX_SHOWN_NAME:
        name = f"{name[:60]}...{name[-(MAX_SHOWN_NAME - 63):]}"
    return name


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
    if len(parts) > MAX_DEPTH:
        raise ParamembedError(f"path is {len(parts)} folders deep; at most {MAX_DEPTH} are read")
    return parts


def is_clutter(parts: tuple[str, ...]) -> bool:
    """Operating-system clutter (__MACOSX/, .DS_Store, ._resource forks, hidden files)."""
    return any(p in CLUTTER or p.startswith(".") for p in parts)


def _too_big(label: str, limits: ArchiveLimits) -> ParamembedError:
    return ParamembedError(f"{label}: unpacks to more than {limits.max_total_bytes / MB:g} MB, "
                           f"the limit for one archive ({limits.describe()})")


def _too_many(label: str, limits: ArchiveLimits) -> ParamembedError:
    return ParamembedError(f"{label}: holds more than {limits.max_members} entries (files and folders), "
                           "the limit for one archive")


# ============ reading: each format -> (stored name, kind, open) entries ============
_PROBLEMS = {"link": "a link, not a regular file", "special": "a special file (a device or a pipe), not a regular file",
             "encrypted": "encrypted"}
# tarfile's own stream decompression inflates each 10 kB read whole (10 MB of zeros at deflate's
# 1000:1); these readers never hand back more than asked.
_DECOMPRESSORS = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
Entry = tuple[str, str, Callable[[], IO[bytes]] | None]  # (stored name, 'file' | 'dir' | a _PROBLEMS key, open)


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


def _count_signatures(f: IO[bytes], signature: bytes, start: int = 0, stop: int | None = None) -> int:
    """How often `signature` occurs in `f[start:stop]`, read in chunks (one that straddles two chunks counts once)."""
    count, tail = 0, b""
    f.seek(start)
    left = stop - start if stop is not None else None
    while block := f.read(MB if left is None else min(MB, left)):
        if left is not None:
            left -= len(block)
        joined = tail + block
        count += joined.count(signature)
        tail = joined[-(len(signature) - 1):]
    f.seek(0)
    return count


def _central_directory_entries(f: IO[bytes], label: str) -> int:
    """How many central-directory records the zip holds (an upper bound), counted where zipfile reads them.

    zipfile reads its entries from the `size` bytes before the end record (and a zip64 record and
    locator, 76 bytes, between them); counting the record signature there, not in the whole file,
    keeps image bytes that happen to hold it from counting.
    """
    end = zipfile._EndRecData(f)  # the end-of-central-directory record, as zipfile itself finds it
    if end is None:
        raise ParamembedError(f"{label}: not a readable zip file (no end of central directory)")
    location, size = end[zipfile._ECD_LOCATION], end[zipfile._ECD_SIZE]
    return _count_signatures(f, ZIP_CENTRAL_ENTRY, max(0, location - size - 76), location)


def _zip_entries(f: IO[bytes], limits: ArchiveLimits, label: str) -> Iterator[Entry]:
    # Every entry costs a central-directory record; counting their signature refuses an archive
    # of millions of entries before zipfile builds an object for each one.
    if _central_directory_entries(f, label) > limits.max_members:
        raise _too_many(label, limits)
    try:
        archive = zipfile.ZipFile(f)
    except _READ_ERRORS as err:
        raise ParamembedError(f"{label}: not a readable zip file ({err})") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                yield info.filename, "dir", None
            elif (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symlink stored by Unix zip
                yield info.filename, "link", None
            elif info.flag_bits & 0x1:
                yield info.filename, "encrypted", None
            else:
                yield info.filename, "file", lambda info=info: archive.open(info)


class _HeaderTooBig(Exception):
    """Raised inside tarfile's reading; `_tar_entries` turns it into a ParamembedError naming the archive."""


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses a pax or GNU long-name header over MAX_HEADER_BYTES before tarfile reads it whole."""

    _NAME_HEADERS = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                     tarfile.SOLARIS_XHDTYPE)

    def _proc_member(self, archive):
        if self.type in self._NAME_HEADERS and self.size > MAX_HEADER_BYTES:
            raise _HeaderTooBig(f"a tar header holds {self.size / MB:.1f} MB of names or attributes; "
                                f"at most {MAX_HEADER_BYTES // 1024} KB are read")
        return super()._proc_member(archive)


def _tar_entries(f: IO[bytes], head: bytes, limits: ArchiveLimits, label: str) -> Iterator[Entry]:
    decompress = next((reader for magic, reader in _DECOMPRESSORS.items() if head.startswith(magic)), None)
    if decompress is None and head[257:262] != b"ustar":
        raise ParamembedError(f"{label}: not a zip or tar.gz archive (nor a .tar, .tar.bz2 or .tar.xz)")
    # Headers and padding count too (512 bytes and up each), so the stream itself is capped a
    # little above the members' limit: a header that claims a gigabyte cannot be read whole.
    stream = _CappedStream(decompress(f) if decompress else f, limits.max_total_bytes + 2048 * (limits.max_members + 1),
                           label, limits)
    try:
        # Stream mode: read sequentially; each member is read before the next header.
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as archive:
            for info in archive:
                if info.isfile():
                    yield info.name, "file", lambda info=info: archive.extractfile(info)
                elif info.isdir():
                    yield info.name, "dir", None
                else:
                    yield info.name, "link" if info.issym() or info.islnk() else "special", None
    except _HeaderTooBig as err:
        raise ParamembedError(f"{label}: {err}") from None
    except _READ_ERRORS as err:
        raise ParamembedError(f"{label}: not a readable tar archive ({err})") from None


def _copy(open_member: Callable[[], IO[bytes]], out: IO[bytes], cap: int, chunk_bytes: int) -> tuple[int, str | None]:
    """Copy a member to `out` in chunks until it ends or passes `cap`: (bytes read, damage or None).

    Only reading errors count as damage; an error writing `out` (a full disk) is raised.
    """
    size = 0
    try:
        stream = open_member()
    except _READ_ERRORS as err:
        return size, f"damaged in the archive: {err}"
    with stream:
        while size <= cap:
            try:
                chunk = stream.read(min(chunk_bytes, cap + 1 - size))
            except _READ_ERRORS as err:
                return size, f"damaged in the archive: {err}"
            if not chunk:
                break
            size += len(chunk)
            out.write(chunk)
    return size, None


def _label(source: Source, label: str | None) -> str:
    return label or ("archive" if isinstance(source, (bytes, bytearray)) else str(source))


def iter_archive(
    source: Source, limits: ArchiveLimits = UPLOAD_LIMITS, label: str | None = None,
    wanted: Callable[[str, tuple[str, ...]], bool] | None = None, into: Path | None = None,
) -> Iterator[Member]:
    """The archive's files one at a time (folders and clutter left out), limits checked while reading.

    `source` is the archive's bytes or its path; the kind comes from its first bytes. `wanted(stored
    name, parts)` picks members to read; the others are passed over unread (members whose name,
    type or encryption is a problem are yielded with it, wanted or not). With `into` (a folder),
    each file is written under it, a chunk at a time, instead of held in `data`. Raises
    ParamembedError when the archive is unreadable or over its total or entry-count limit.
    """
    label = _label(source, label)
    try:
        f = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    except OSError as err:
        raise ParamembedError(f"{label}: cannot be read ({err.strerror or err})") from None
    with f:
        head = f.read(512)
        f.seek(0)
        entries = _zip_entries(f, limits, label) if head[:2] == b"PK" else _tar_entries(f, head, limits, label)
        count = total = 0
        for stored, kind, open_member in entries:
            count += 1
            if count > limits.max_members:
                raise _too_many(label, limits)
            if kind == "dir":
                continue
            name = printable(stored)
            try:
                parts = member_parts(stored)
            except ParamembedError as err:
                yield Member(name, (), None, str(err))
                continue
            if not parts or is_clutter(parts):
                continue
            if kind != "file":
                yield Member(name, parts, None, _PROBLEMS[kind])
                continue
            if wanted is not None and not wanted(stored, parts):
                continue
            target = None if into is None else Path(into).joinpath(*parts)
            cap = min(limits.max_member_bytes, limits.max_total_bytes - total)
            try:
                if target is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                with io.BytesIO() if target is None else open(target, "wb") as out:
                    size, damage = _copy(open_member, out, cap, limits.chunk_bytes)
                    data = out.getvalue() if target is None else None
            except OSError as err:  # reading errors became `damage`: this one is the disk's
                raise ParamembedError(f"{label}: {name}: cannot be written ({err.strerror or err})") from None
            total += size
            if total > limits.max_total_bytes:
                raise _too_big(label, limits)
            problem = damage or (f"over the {limits.max_member_bytes / MB:g} MB limit for one file"
                                 if size > limits.max_member_bytes else None)
            if problem is not None and target is not None:
                target.unlink(missing_ok=True)
            yield Member(name, parts, None if problem else data, problem)


def list_archive(source: Source, limits: ArchiveLimits = UPLOAD_LIMITS, label: str | None = None) -> list[Member]:
    """Every file the archive holds (folders and clutter left out), in order, none of them read.

    A zip's names come from its directory; a tar's from passing over each member unread. Each
    `Member` has data None; members whose path or type is unsafe carry that as their `problem`.
    """
    listed: list[Member] = []

    def note(stored: str, parts: tuple[str, ...]) -> bool:
        listed.append(Member(printable(stored), parts, None))
        return False  # not read

    for member in iter_archive(source, limits, label, wanted=note):
        listed.append(member)  # only members with a problem get past `note`
    return listed


def extract_archive(source: Source, dest: str | Path, limits: ArchiveLimits = UPLOAD_LIMITS, label: str | None = None) -> Path:
    """Unpack the archive into `dest` (which must not exist) within `limits`; returns `dest`.

    Files are written into a temporary folder beside `dest`, renamed into place (with a
    `.complete` marker) only when the whole archive was read, so any problem (an unsafe path, a
    link, a file over its limit, damage) raises and leaves nothing behind.
    """
    dest, label = Path(dest), _label(source, label)
    if dest.exists():
        raise ParamembedError(f"{dest} already exists; an archive is only unpacked into a new folder")
    tmp = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        written = 0
        for member in iter_archive(source, limits, label, into=tmp):
            if member.problem is not None:
                raise ParamembedError(f"{label}: {member.name}: {member.problem}")
            written += 1
        if not written:
            raise ParamembedError(f"{label}: the archive holds no files")
        (tmp / COMPLETE).touch()
        try:
            os.replace(tmp, dest)
        except OSError as err:
            if not (dest / COMPLETE).exists():  # not a concurrent unpack that won the race
                raise ParamembedError(f"{label}: cannot be unpacked into {dest} ({err.strerror or err})") from None
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed into place
