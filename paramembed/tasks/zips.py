"""A zip in ImageFolder layout (`<class>/<image>`, optional `query/`) -> its images grouped by class."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from paramembed.data.preprocess import IMAGE_SUFFIXES
from paramembed.errors import ParamembedError
from paramembed.tasks.limits import JUNK_NAMES, LIMITS, QUERY_FOLDERS, TaskLimits, check_class_name


def read_zip(
    data: bytes, name: str = "archive.zip", limits: TaskLimits = LIMITS
) -> tuple[dict[str, list[tuple[str, bytes]]], dict[str | None, list[tuple[str, bytes]]], list[str]]:
    """A zip's members grouped by class: ({class: [(path, bytes)]}, {query label or None: [...]}, problems).

    Raises ParamembedError when the archive is unreadable or holds no usable image.
    """
    if len(data) > limits.max_zip_bytes:
        raise ParamembedError(f"{name}: {len(data) / 2**20:.1f} MB is over the {limits.max_zip_bytes // 2**20} MB limit for a zip")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ParamembedError(f"{name}: not a readable zip file ({err})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members:
            raise ParamembedError(f"{name}: the zip is empty; it should hold <class>/<image> files")
        if len(members) > limits.max_zip_members:
            raise ParamembedError(f"{name}: {len(members)} files is over the {limits.max_zip_members}-file limit for a zip")
        problems: list[str] = []
        kept: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
        for member in members:
            parts = tuple(p for p in PurePosixPath(member.filename.replace("\\", "/")).parts if p not in ("", "."))
            if any(p in JUNK_NAMES or p.startswith(".") or p.startswith("._") for p in parts):
                continue  # operating-system clutter: skipped without a message
            if ".." in parts:
                problems.append(f"{name}: {member.filename}: skipped (path leaves the archive)")
                continue
            if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
                problems.append(f"{name}: {member.filename}: skipped (not an image file: {', '.join(IMAGE_SUFFIXES)})")
                continue
            kept.append((parts, member))
        if not kept:
            raise ParamembedError(f"{name}: no image files found; expected <class>/<image> folders")
        # One folder around everything (zipping a folder makes one): look inside it.
        while all(len(parts) > 2 for parts, _ in kept) and len({parts[0] for parts, _ in kept}) == 1:
            kept = [(parts[1:], m) for parts, m in kept]
        by_class: dict[str, list[tuple[str, bytes]]] = {}
        queries: dict[str | None, list[tuple[str, bytes]]] = {}
        for parts, member in kept:
            top = parts[0].lower()
            if top in QUERY_FOLDERS and len(parts) in (2, 3):
                bucket = queries.setdefault(parts[1] if len(parts) == 3 else None, [])
            elif len(parts) == 2:
                bucket = by_class.setdefault(parts[0], [])
            elif len(parts) == 1:
                problems.append(f"{name}: {member.filename}: skipped (not inside a class folder)")
                continue
            else:
                problems.append(f"{name}: {member.filename}: skipped (nested too deep; expected <class>/<image>)")
                continue
            if member.flag_bits & 0x1:
                problems.append(f"{name}: {member.filename}: skipped (encrypted)")
                continue
            if member.file_size > limits.max_file_bytes:
                problems.append(f"{name}: {member.filename}: skipped ({member.file_size / 2**20:.1f} MB is over the {limits.max_file_bytes // 2**20} MB limit)")
                continue
            try:
                with archive.open(member) as stream:
                    # Read at most the limit plus one byte: a lying header cannot make us inflate more.
                    content = stream.read(limits.max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as err:
                problems.append(f"{name}: {member.filename}: skipped (damaged in the zip: {err})")
                continue
            bucket.append((member.filename, content))
        if not by_class:
            raise ParamembedError(f"{name}: no <class>/<image> folders found in the zip")
        for class_name in list(by_class):
            try:
                check_class_name(class_name, limits)
            except ParamembedError as err:
                problems.append(f"{name}: folder {class_name[:30]!r} skipped ({err})")
                del by_class[class_name]
        return by_class, queries, problems
