"""What one hand-made task may hold, and the names it may use; stated on the page so nobody meets a limit by surprise."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from paramembed.data.archives import CLUTTER, ArchiveLimits
from paramembed.data.preprocess import MAX_FILE_BYTES, MAX_IMAGE_PIXELS
from paramembed.errors import ParamembedError


@dataclass(frozen=True)
class TaskLimits:
    """What one hand-made task may hold; stated on the page so nobody meets them by surprise."""

    max_classes: int = 30
    max_images_per_class: int = 30
    max_queries: int = 100
    max_file_bytes: int = MAX_FILE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_zip_bytes: int = 100 * 1024 * 1024  # the archive as uploaded
    max_zip_unpacked_bytes: int = 400 * 1024 * 1024  # its members together, counted while reading
    max_zip_members: int = 2000
    max_name_length: int = 60
    # Stored images are shrunk to this side: models read at most 224 pixels (most 28 or 32), and a
    # session holding thirty 40 MP photos would hold gigabytes. At 512 a full task held 786 MB.
    stored_side: int = 256

    def describe(self) -> str:
        return (
            f"at most {self.max_classes} classes, {self.max_images_per_class} images per class and "
            f"{self.max_queries} queries; each image file up to {self.max_file_bytes // 2**20} MB and "
            f"{self.max_image_pixels // 1_000_000} megapixels; a zip up to {self.max_zip_bytes // 2**20} MB "
            f"and {self.max_zip_members} files ({self.max_zip_unpacked_bytes // 2**20} MB unpacked)"
        )

    def session_image_bytes(self) -> int:
        """The most one session's task holds in decoded images: every image at the stored side, RGB.

        1,000 images x 256 x 256 x 3 bytes = 197 MB: the per-session memory budget the README states.
        """
        images = self.max_classes * self.max_images_per_class + self.max_queries
        return images * self.stored_side * self.stored_side * 3

    def archive_limits(self) -> ArchiveLimits:
        """The limits a task zip is read under, member by member."""
        return ArchiveLimits(max_total_bytes=self.max_zip_unpacked_bytes, max_member_bytes=self.max_file_bytes,
                             max_members=self.max_zip_members)


LIMITS = TaskLimits()
JUNK_NAMES = CLUTTER  # what archivers and operating systems add to a zip without being asked
QUERY_FOLDERS = ("query", "queries")


def check_class_name(name: str, limits: TaskLimits = LIMITS) -> str:
    """A class name, stripped and in Unicode NFC (as `adapt` compares labels); raises when it is empty or too long."""
    clean = unicodedata.normalize("NFC", " ".join(str(name).split()))
    if not clean:
        raise ParamembedError("a class needs a name")
    if len(clean) > limits.max_name_length:
        raise ParamembedError(f"class name {clean[:20]!r}... is over {limits.max_name_length} characters")
    return clean
