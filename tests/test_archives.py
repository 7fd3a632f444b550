"""Archive unpacking: streaming, with limits checked while reading, and nothing left when refused."""

import io
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from shared_data import OMNIGLOT, SHARED_DATA
from paramembed.config import InputSpec
from paramembed.data.archives import DATASET_LIMITS, UPLOAD_LIMITS, ArchiveLimits, extract_archive
from paramembed.data.folders import unpack_archive
from paramembed.data.registry import get_dataset
from paramembed.errors import ParamembedError

TINY_IMAGENET = SHARED_DATA / "tiny_imagenet32_150.tar.gz"
GiB = 2**30


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("PARAMEMBED_CACHE", str(root))
    return root


def leftovers(cache) -> list:
    unpacked = cache / "unpacked"
    return sorted(p.name for p in unpacked.rglob("*")) if unpacked.exists() else []


def png(c: int) -> bytes:
    arr = np.full((20, 20), 255, np.uint8)
    arr[2 + c * 5 : 6 + c * 5, 2:12] = 0
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def image_members(classes: int = 3, per_class: int = 4) -> dict[str, bytes]:
    return {f"set/class{c}/{i}.png": png(c) for c in range(classes) for i in range(per_class)}


def write_tar(path, members: dict[str, bytes], extra=()) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)


def write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def zero_blocks(first: bytes, total: int, wbits: int, chunk: int = 16 << 20) -> tuple[bytes, bytes]:
    """A deflate stream of `first` then `total` zero bytes, built from one block repeated.

    After a full flush deflate forgets its history, so equal chunks compress to equal bytes: a
    4 GiB stream costs one 16 MiB compression. Returns (stream without its end, end).
    """
    co = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(chunk)
    head = co.compress(first) + co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    assert block == co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    body = head + block * (total // chunk - 2)
    return body, co.flush()


def tar_gz_bomb(path, size: int = 4 * GiB) -> None:
    """A .tar.gz of a few MB whose one member is `size` bytes of zeros (honest header)."""
    info = tarfile.TarInfo("bomb/zeros.png")
    info.size = size
    body, end = zero_blocks(info.tobuf(format=tarfile.GNU_FORMAT), size, wbits=31)
    path.write_bytes(body + end)  # no gzip trailer: a reader that stops early never needs it


def zip_bomb(path, size: int = 3 * GiB) -> None:
    """A .zip of a few MB whose one member inflates to `size` zeros (sizes under 4 GiB: no zip64)."""
    body, end = zero_blocks(b"", size, wbits=-15)
    data, name = body + end, b"bomb/zeros.png"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0, 0, 0, 0, 0, 0) + name
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + eocd)


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_unpacks_into_a_complete_folder(tmp_path, cache, kind):
    archive = tmp_path / f"set.{kind}"
    (write_tar if kind == "tar.gz" else write_zip)(archive, image_members())
    folder = unpack_archive(archive)
    assert (folder / ".complete").exists() and len(list(folder.rglob("*.png"))) == 12
    assert unpack_archive(archive) == folder  # once
    ds = get_dataset(str(archive), "test", InputSpec())
    assert ds.num_classes(0) == 3 and ds.num_drawings(0, 2) == 4


@pytest.mark.parametrize("make, size", [(tar_gz_bomb, 4 * GiB), (zip_bomb, 3 * GiB)], ids=["tar.gz", "zip"])
def test_bomb_is_refused_with_little_memory_and_leaves_nothing(tmp_path, cache, make, size):
    archive = tmp_path / ("bomb.zip" if make is zip_bomb else "bomb.tar.gz")
    make(archive, size)
    assert archive.stat().st_size < 8 * 2**20  # a few MB that would write GBs
    tracemalloc.start()
    try:
        with pytest.raises(ParamembedError, match="zeros.png' unpacks to over 64 MB; archive refused"):
            unpack_archive(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # chunks, not the member (64 MB) or the archive's claim (GBs)
    assert leftovers(cache) == []


def test_upload_limits_are_smaller_and_pass_through_the_registry(tmp_path, cache):
    archive = tmp_path / "upload.tar.gz"
    tar_gz_bomb(archive, size=256 * 2**20)
    with pytest.raises(ParamembedError, match="over 20 MB"):
        get_dataset(str(archive), "test", InputSpec(), limits=UPLOAD_LIMITS)
    assert leftovers(cache) == []
    assert UPLOAD_LIMITS.total_bytes < DATASET_LIMITS.total_bytes and UPLOAD_LIMITS.members < DATASET_LIMITS.members


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_total_bytes_and_member_count_are_limited(tmp_path, cache, kind):
    archive = tmp_path / f"set.{kind}"
    (write_tar if kind == "tar.gz" else write_zip)(archive, image_members(classes=3, per_class=10))
    total = sum(len(d) for d in image_members(classes=3, per_class=10).values())
    with pytest.raises(ParamembedError, match="unpacks to over .* MB; archive refused"):
        unpack_archive(archive, ArchiveLimits(total_bytes=total // 2, member_bytes=2**20, members=1000))
    with pytest.raises(ParamembedError, match="more than 10 entries"):
        unpack_archive(archive, ArchiveLimits(total_bytes=GiB, member_bytes=2**20, members=10))
    assert leftovers(cache) == []
    assert len(list(unpack_archive(archive, DATASET_LIMITS).rglob("*.png"))) == 30


@pytest.mark.parametrize("name, message", [
    ("/etc/evil.png", "absolute path"),
    ("set/../../evil.png", r"outside the archive \('\.\.'\)"),
    ("..\\evil.png", r"outside the archive"),
    ("C:\\evil.png", "absolute path"),
])
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_members_escaping_the_folder_are_refused(tmp_path, cache, kind, name, message):
    archive = tmp_path / f"evil.{kind}"
    members = {**image_members(), name: png(0)}
    (write_tar if kind == "tar.gz" else write_zip)(archive, members)
    with pytest.raises(ParamembedError, match=f"member .*{message}.*refused"):
        unpack_archive(archive)
    assert leftovers(cache) == [] and not (tmp_path / "evil.png").exists()


def test_links_are_refused(tmp_path, cache):
    link = tarfile.TarInfo("set/class0/link.png")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = tmp_path / "links.tar.gz"
    write_tar(archive, image_members(), extra=[link])
    with pytest.raises(ParamembedError, match="link.png' is a link"):
        unpack_archive(archive)
    assert leftovers(cache) == []


def test_corrupt_archive_is_named_and_leaves_nothing(tmp_path, cache):
    archive = tmp_path / "cut.tar.gz"
    write_tar(archive, image_members())
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(ParamembedError, match="cut.tar.gz: cannot unpack archive"):
        unpack_archive(archive)
    assert leftovers(cache) == []


def test_half_written_folder_from_an_older_version_is_replaced(tmp_path, cache):
    archive = tmp_path / "set.zip"
    write_zip(archive, image_members())
    folder = unpack_archive(archive)
    (folder / ".complete").unlink()
    (folder / "set" / "class0" / "0.png").unlink()
    assert len(list(unpack_archive(archive).rglob("*.png"))) == 12


@pytest.mark.slow
@pytest.mark.parametrize("archive, files", [(OMNIGLOT, 19_280), (TINY_IMAGENET, 82_500)], ids=["omniglot", "tiny-imagenet"])
def test_real_datasets_fit_the_dataset_limits(tmp_path, archive, files):
    if not archive.exists():
        pytest.skip(f"{archive} not found (../shared is absent)")
    start = time.perf_counter()
    folder = extract_archive(archive, tmp_path / "out", DATASET_LIMITS)
    images = [p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpeg", ".jpg")]
    assert len(images) == files, f"{time.perf_counter() - start:.0f} s"
