"""A zip in ImageFolder layout (`<class>/<image>`, optional `query/`) -> its images, decoded, by class.

Two passes over the archive: the first reads only its directory to find the layout (a wrapper
folder, the class folders, the queries) and what a task could hold; the second reads and decodes
those members one at a time through `paramembed.data.archives`, keeping only the shrunk images. So a
zip of many large files never sits in memory whole, and a bomb stops at the unpacked-size limit.
"""

from __future__ import annotations

from paramembed.data.archives import iter_archive, list_archive
from paramembed.data.preprocess import IMAGE_SUFFIXES
from paramembed.errors import ParamembedError
from paramembed.tasks.images import TaskImage, decode_image
from paramembed.tasks.limits import LIMITS, QUERY_FOLDERS, TaskLimits, check_class_name

Bucket = tuple[str, str | None]  # ("class", name) or ("query", label or None)


def read_zip(
    data: bytes, name: str = "archive.zip", limits: TaskLimits = LIMITS
) -> tuple[dict[str, list[TaskImage]], dict[str | None, list[TaskImage]], list[str]]:
    """A zip's images grouped by class: ({class: [TaskImage]}, {query label or None: [TaskImage]}, problems).

    At most what one task can hold is decoded (classes, images per class, queries); the rest is
    reported, unread. Raises ParamembedError when the archive is unreadable, over its limits, or
    holds no usable image.
    """
    if len(data) > limits.max_zip_bytes:
        raise ParamembedError(f"{name}: {len(data) / 2**20:.1f} MB is over the {limits.max_zip_bytes // 2**20} MB limit for a zip")
    archive_limits = limits.archive_limits()
    listed = list_archive(data, archive_limits, name)
    if not listed:
        raise ParamembedError(f"{name}: the zip is empty; it should hold <class>/<image> files")
    problems: list[str] = []
    kept = []
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for member in listed:
        # A zip may store one name many times (1,998 x c/x.png in under 1 MB): only the first is
        # read, so the per-class cap counts what is decoded, not the distinct names.
        if member.problem is None and member.parts in seen:
            repeats += 1
            continue
        seen.add(member.parts)
        if member.problem is not None:
            problems.append(f"{name}: {member.name}: skipped ({member.problem})")
        elif not member.parts[-1].lower().endswith(IMAGE_SUFFIXES):
            problems.append(f"{name}: {member.name}: skipped (not an image file: {', '.join(IMAGE_SUFFIXES)})")
        else:
            kept.append(member)
    if repeats:
        problems.append(f"{name}: {repeats} entries repeat a name already in the zip; only the first of each was read")
    if not kept:
        raise ParamembedError(f"{name}: no image files found; expected <class>/<image> folders")
    plan, more = _plan(kept, name, limits)
    problems += more
    classes: dict[str, list[TaskImage]] = {bucket[1]: [] for bucket in dict.fromkeys(plan.values()) if bucket[0] == "class"}
    queries: dict[str | None, list[TaskImage]] = {}
    read: set[tuple[str, ...]] = set()

    def wanted(_: str, parts: tuple[str, ...]) -> bool:
        if parts not in plan or parts in read:  # a repeated name is read once
            return False
        read.add(parts)
        return True

    for member in iter_archive(data, archive_limits, name, wanted=wanted):
        if member.problem is not None:
            if member.parts in plan:  # unsafe paths were reported from the directory already
                problems.append(f"{name}: {member.name}: skipped ({member.problem})")
            continue
        try:
            image = decode_image(member.data, member.name, limits)
        except ParamembedError as err:
            problems.append(str(err))
            continue
        kind, label = plan[member.parts]
        (classes[label] if kind == "class" else queries.setdefault(label, [])).append(image)
    return classes, queries, problems


def _plan(members, name: str, limits: TaskLimits) -> tuple[dict[tuple[str, ...], Bucket], list[str]]:
    """Which image goes where: {stored path parts: bucket}, and messages for those left out."""
    problems: list[str] = []
    paths = [m.parts for m in members]
    # One folder around everything (zipping a folder makes one): look inside it.
    depth = 0
    while all(len(p) - depth > 2 for p in paths) and len({p[depth] for p in paths}) == 1:
        depth += 1
    plan: dict[tuple[str, ...], Bucket] = {}
    for member in members:
        parts = member.parts[depth:]
        if parts[0].lower() in QUERY_FOLDERS and len(parts) in (2, 3):
            plan[member.parts] = ("query", parts[1] if len(parts) == 3 else None)
        elif len(parts) == 2:
            plan[member.parts] = ("class", parts[0])
        elif len(parts) == 1:
            problems.append(f"{name}: {member.name}: skipped (not inside a class folder)")
        else:
            problems.append(f"{name}: {member.name}: skipped (nested too deep; expected <class>/<image>)")
    class_names = list(dict.fromkeys(label for kind, label in plan.values() if kind == "class"))
    if not class_names:
        raise ParamembedError(f"{name}: no <class>/<image> folders found in the zip")
    dropped = set()
    for class_name in class_names:
        try:
            check_class_name(class_name, limits)
        except ParamembedError as err:
            problems.append(f"{name}: folder {class_name[:30]!r} skipped ({err})")
            dropped.add(class_name)
    good = [c for c in class_names if c not in dropped]
    for class_name in good[limits.max_classes:]:
        problems.append(f"{name}: class {class_name!r} not added: a task holds at most {limits.max_classes} classes")
        dropped.add(class_name)
    # Decode no more than a task can hold: the rest would be read only to be thrown away.
    counts: dict[Bucket, int] = {}
    over: dict[Bucket, int] = {}
    for parts, bucket in list(plan.items()):
        kind, label = bucket
        if kind == "class" and label in dropped:
            del plan[parts]
            continue
        key = bucket if kind == "class" else ("query", "")
        room = limits.max_images_per_class if kind == "class" else limits.max_queries
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > room:
            del plan[parts]
            over[key] = over.get(key, 0) + 1
    for (kind, label), n in over.items():
        what = f"class {label!r} holds" if kind == "class" else "the queries hold"
        cap = limits.max_images_per_class if kind == "class" else limits.max_queries
        problems.append(f"{name}: {what} {n} more images than a task takes ({cap}); those were not read")
    return plan, problems
