"""Unpacking dataset archives (.tar.gz / .tgz / .tar / .zip) with limits checked while reading.

An archive is untrusted: a 1 MB zip can hold gigabytes of zeros, names like `../../.bashrc`,
links and devices. `extract_archive` streams it member by member, reading each one in chunks and
counting the bytes it actually writes (never the sizes its headers claim), and stops as soon as a
limit is passed. It writes into a fresh temporary folder beside the destination and renames that
into place only when the whole archive was read, so a refused archive leaves nothing behind.

    DATASET_LIMITS  a user's own dataset: room for Tiny-ImageNet (83k files, 76 MB) many times over
    UPLOAD_LIMITS   an archive a visitor uploads to the app: smaller, pass it explicitly
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Iterator

from paramembed.errors import ParamembedError

CHUNK = 1 << 20  # bytes read at a time: memory stays at one chunk whatever a member's size


@dataclass(frozen=True)
class ArchiveLimits:
    """The most an archive may unpack to; exceeded while reading -> `ParamembedError`."""

    total_bytes: int  # uncompressed bytes of all members together
    member_bytes: int  # uncompressed bytes of one member
    members: int  # entries (files and folders)

    def describe(self) -> str:
        return f"{self.total_bytes / 2**20:.0f} MB in all, {self.member_bytes / 2**20:.0f} MB per file, {self.members} entries"


# Real Omniglot background is 20k files / 5 MB and Tiny-ImageNet-150 83k files / 76 MB unpacked.
DATASET_LIMITS = ArchiveLimits(total_bytes=2 * 2**30, member_bytes=64 * 2**20, members=500_000)
# A visitor's upload: an Omniglot-sized set fits; one image is at most the app's 20 MB file limit.
UPLOAD_LIMITS = ArchiveLimits(total_bytes=256 * 2**20, member_bytes=20 * 2**20, members=50_000)


def safe_member_path(name: str, archive: str) -> PurePosixPath:
    """An archive member's name -> a relative path inside the destination, or `ParamembedError`."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise ParamembedError(f"{archive}: member {name!r} has an absolute path; archive refused")
    if ".." in path.parts:
        raise ParamembedError(f"{archive}: member {name!r} points outside the archive ('..'); archive refused")
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")])


class _Budget:
    """Counts entries and bytes as they are written and refuses past the limits."""

    def __init__(self, limits: ArchiveLimits, archive: str):
        self.limits, self.archive = limits, archive
        self.members = 0
        self.total = 0

    def entry(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise ParamembedError(f"{self.archive}: more than {self.limits.members} entries; archive refused ({self.limits.describe()})")

    def copy(self, source: IO[bytes], target: Path, name: str) -> None:
        written = 0
        with open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.member_bytes:
                    raise ParamembedError(
                        f"{self.archive}: member {name!r} unpacks to over {self.limits.member_bytes / 2**20:.0f} MB; archive refused"
                    )
                if self.total > self.limits.total_bytes:
                    raise ParamembedError(
                        f"{self.archive}: unpacks to over {self.limits.total_bytes / 2**20:.0f} MB; archive refused "
                        "(a zip bomb, or a dataset too large for this use)"
                    )
                out.write(chunk)


def _decompressed(path: Path) -> IO[bytes]:
    """The archive's bytes, decompressed by a reader whose reads are bounded by the size asked.

    tarfile's own stream decompression inflates each 10 kB read whole (10 MB of zeros at deflate's
    1000:1); these readers never hand back more than asked.
    """
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _tar_members(path: Path) -> Iterator[tuple[str, str, IO[bytes] | None]]:
    """(name, kind, stream) in archive order; kind is 'file', 'dir' or what else the member is."""
    # Stream mode: read sequentially, no member table kept in memory.
    with _decompressed(path) as raw, tarfile.open(fileobj=raw, mode="r|") as tf:
        for member in tf:
            if member.isfile():
                yield member.name, "file", tf.extractfile(member)
            elif member.isdir():
                yield member.name, "dir", None
            else:
                kind = "link" if member.issym() or member.islnk() else "special file"
                yield member.name, kind, None


def _zip_members(path: Path) -> Iterator[tuple[str, str, IO[bytes] | None]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                yield info.filename, "dir", None
            elif (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symlink stored by Unix zip
                yield info.filename, "link", None
            else:
                with zf.open(info) as stream:
                    yield info.filename, "file", stream


def extract_archive(path: Path, dest: Path, limits: ArchiveLimits = DATASET_LIMITS) -> Path:
    """Unpack `path` into `dest` (which must not exist) within `limits`; returns `dest`.

    Refuses absolute paths, '..', links and special files. On any refusal or read error the
    temporary folder is removed and `dest` is not created.
    """
    label = str(path)
    members = _zip_members if path.suffix.lower() == ".zip" else _tar_members
    tmp = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    budget = _Budget(limits, label)
    try:
        for name, kind, stream in members(path):
            budget.entry(name)
            rel = safe_member_path(name, label)
            if kind not in ("file", "dir"):
                raise ParamembedError(f"{label}: member {name!r} is a {kind}; only files and folders are read")
            if not rel.parts:
                continue
            target = tmp.joinpath(*rel.parts)
            if kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            budget.copy(stream, target, name)
        (tmp / ".complete").touch()
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / ".complete").exists():  # not a concurrent unpack that won the race
                raise
        return dest
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, lzma.LZMAError) as err:
        raise ParamembedError(f"{label}: cannot unpack archive ({err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed into place
