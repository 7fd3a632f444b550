"""Untrusted archives (`paramembed.data.archives`): limits hold while reading, paths stay inside,
and a refused archive leaves nothing behind."""

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
from paramembed.data.archives import DATASET_LIMITS, UPLOAD_LIMITS, ArchiveLimits, extract_archive, iter_archive, list_archive
from paramembed.data.folders import unpack_archive
from paramembed.data.registry import get_dataset
from paramembed.errors import ParamembedError

TINY_IMAGENET = SHARED_DATA / "tiny_imagenet32_150.tar.gz"
GiB = 2**30
MB = 2**20


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


def make_zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tgz(entries: dict[str, bytes], links: dict[str, str] | None = None, pax: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
        for path, data in (pax or {}).items():
            info = tarfile.TarInfo("placeholder")
            info.size = len(data)
            info.pax_headers = {"path": path}
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_tar(path, members: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    path.write_bytes(make_tgz(members, links))


def write_zip(path, members: dict[str, bytes]) -> None:
    path.write_bytes(make_zip(members))


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
        with pytest.raises(ParamembedError, match="zeros.png: over the 64 MB limit for one file"):
            unpack_archive(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # chunks, not the member (64 MB) or the archive's claim (GBs)
    assert leftovers(cache) == []


def test_upload_limits_are_smaller_and_pass_through_the_registry(tmp_path, cache):
    archive = tmp_path / "upload.tar.gz"
    tar_gz_bomb(archive, size=256 * 2**20)
    with pytest.raises(ParamembedError, match="over the 20 MB limit"):
        get_dataset(str(archive), "test", InputSpec(), limits=UPLOAD_LIMITS)
    assert leftovers(cache) == []
    assert UPLOAD_LIMITS.max_total_bytes < DATASET_LIMITS.max_total_bytes and UPLOAD_LIMITS.max_members < DATASET_LIMITS.max_members


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_total_bytes_and_member_count_are_limited(tmp_path, cache, kind):
    archive = tmp_path / f"set.{kind}"
    (write_tar if kind == "tar.gz" else write_zip)(archive, image_members(classes=3, per_class=10))
    total = sum(len(d) for d in image_members(classes=3, per_class=10).values())
    with pytest.raises(ParamembedError, match="unpacks to more than .* MB"):
        unpack_archive(archive, ArchiveLimits(max_total_bytes=total // 2, max_member_bytes=2**20, max_members=1000))
    with pytest.raises(ParamembedError, match="more than 10 entries"):
        unpack_archive(archive, ArchiveLimits(max_total_bytes=GiB, max_member_bytes=2**20, max_members=10))
    assert leftovers(cache) == []
    assert len(list(unpack_archive(archive, DATASET_LIMITS).rglob("*.png"))) == 30


@pytest.mark.parametrize("name, message", [
    ("/etc/evil.png", "absolute path"),
    ("set/../../evil.png", r"path leaves the archive \('\.\.'\)"),
    ("..\\evil.png", r"path leaves the archive"),
    ("C:\\evil.png", "absolute path"),
])
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_members_escaping_the_folder_are_refused(tmp_path, cache, kind, name, message):
    archive = tmp_path / f"evil.{kind}"
    members = {**image_members(), name: png(0)}
    (write_tar if kind == "tar.gz" else write_zip)(archive, members)
    with pytest.raises(ParamembedError, match=f"evil.{kind}: .*evil.png: {message}"):
        unpack_archive(archive)
    assert leftovers(cache) == [] and not (tmp_path / "evil.png").exists()


def test_links_are_refused(tmp_path, cache):
    archive = tmp_path / "links.tar.gz"
    write_tar(archive, image_members(), links={"set/class0/link.png": "/etc/passwd"})
    with pytest.raises(ParamembedError, match="link.png: a link, not a regular file"):
        unpack_archive(archive)
    assert leftovers(cache) == []


def test_corrupt_archive_is_named_and_leaves_nothing(tmp_path, cache):
    archive = tmp_path / "cut.tar.gz"
    write_tar(archive, image_members())
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(ParamembedError, match="cut.tar.gz: not a readable tar archive"):
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


# ============ reading members from bytes: iter_archive, list_archive, extract_archive ============
SMALL = ArchiveLimits(max_total_bytes=4 * MB, max_member_bytes=MB, max_members=20, chunk_bytes=64 * 1024)


@pytest.mark.parametrize("make", [make_zip, make_tgz])
def test_reads_both_kinds_and_leaves_out_folders_and_clutter(make):
    data = make({"cls/a.png": b"a", "cls/b.png": b"bb", "__MACOSX/cls/._a.png": b"x", "cls/.DS_Store": b"x"})
    members = list(iter_archive(data, SMALL, "t"))
    assert [(m.parts, m.data, m.problem) for m in members] == [(("cls", "a.png"), b"a", None), (("cls", "b.png"), b"bb", None)]
    assert [m.parts for m in list_archive(data, SMALL, "t")] == [("cls", "a.png"), ("cls", "b.png")]
    assert all(m.data is None for m in list_archive(data, SMALL, "t"))


@pytest.mark.parametrize("make", [make_zip, make_tgz])
def test_a_bomb_stops_at_the_total_limit(make):
    # 8 members of 0.9 MB of zeros: a few kB compressed, 7.2 MB unpacked, over the 4 MB limit.
    data = make({f"c/{i}.png": bytes(int(0.9 * MB)) for i in range(8)})
    assert len(data) < 200_000
    with pytest.raises(ParamembedError, match="unpacks to more than 4 MB"):
        list(iter_archive(data, SMALL, "bomb"))


@pytest.mark.parametrize("make", [make_zip, make_tgz])
def test_one_large_member_is_read_only_to_its_limit(make):
    data = make({"c/huge.png": bytes(64 * MB), "c/ok.png": b"ok"})
    limits = ArchiveLimits(max_total_bytes=8 * MB, max_member_bytes=MB, chunk_bytes=64 * 1024)
    tracemalloc.start()
    try:
        members = list(iter_archive(data, limits, "t"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert members[0].data is None and "over the 1 MB limit" in members[0].problem
    assert members[1].data == b"ok"
    assert peak < 4 * MB  # the 64 MB member was never inflated whole


def test_too_many_entries_is_refused():
    with pytest.raises(ParamembedError, match="more than 20 entries"):
        list(iter_archive(make_zip({f"c/{i}.png": b"x" for i in range(25)}), SMALL, "many"))
    with pytest.raises(ParamembedError, match="more than 20 entries"):
        list(iter_archive(make_tgz({f"c/{i}.png": b"x" for i in range(25)}), SMALL, "many"))


def test_unsafe_paths_links_and_control_characters_are_problems():
    members = list(iter_archive(make_zip({"../evil.png": b"x", "/etc/x.png": b"x", "ok/a.png": b"a"}), SMALL, "z"))
    assert [m.problem for m in members[:2]] == ["path leaves the archive ('..')", "absolute path: it would leave the archive's folder"]
    assert members[2].data == b"a"
    members = list(iter_archive(make_tgz({"ok/a.png": b"a"}, links={"ok/link.png": "/etc/passwd"},
                                         pax={"ok/n\x00ull.png": b"n"}), SMALL, "t"))
    problems = {m.name: m.problem for m in members if m.problem}
    assert problems == {"ok/link.png": "a link, not a regular file",
                        "ok/n?ull.png": "file name contains a control character (such as a null byte)"}


def test_not_an_archive():
    with pytest.raises(ParamembedError, match="x.bin: not a zip or tar.gz"):
        list(iter_archive(b"hello", SMALL, "x.bin"))
    with pytest.raises(ParamembedError, match="not a readable zip"):
        list(iter_archive(b"PK garbage", SMALL, "x.zip"))
    with pytest.raises(ParamembedError, match="not a readable tar archive"):
        list(iter_archive(b"\x1f\x8b garbage", SMALL, "x.tgz"))


def test_extract_writes_inside_dest_and_removes_it_on_a_problem(tmp_path):
    dest = extract_archive(make_tgz({"data/c1/a.png": b"a", "data/c2/b.png": b"b"}), tmp_path / "one", SMALL, "t")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [".complete", "data/c1/a.png", "data/c2/b.png"]
    with pytest.raises(ParamembedError, match=r"\.\./victim.png: path leaves"):
        extract_archive(make_zip({"c/a.png": b"a", "../victim.png": b"x"}), tmp_path / "two" / "data", SMALL, "z")
    assert not (tmp_path / "two" / "data").exists() and not (tmp_path / "two" / "victim.png").exists()
    with pytest.raises(ParamembedError, match="unpacks to more than"):
        extract_archive(make_zip({f"c/{i}.png": bytes(int(0.9 * MB)) for i in range(8)}), tmp_path / "three", SMALL, "bomb")
    assert not (tmp_path / "three").exists()
    with pytest.raises(ParamembedError, match="already exists"):
        extract_archive(make_zip({"c/a.png": b"a"}), tmp_path / "one", SMALL, "z")


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz"])
def test_plain_bz2_and_xz_tars_are_known_by_their_first_bytes(tmp_path, mode):
    archive = tmp_path / "set.bin"  # the name says nothing; the bounded reader is picked from the bytes
    with tarfile.open(archive, mode) as tf:
        info = tarfile.TarInfo("c/a.png")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"a"))
    assert [(m.parts, m.data) for m in iter_archive(archive, SMALL)] == [(("c", "a.png"), b"a")]


def test_a_symlink_stored_in_a_zip_is_a_problem_even_when_only_listed():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        link = zipfile.ZipInfo("c/link.png")
        link.external_attr = 0o120777 << 16  # how Unix zip stores a symlink: its target as the data
        zf.writestr(link, "/etc/passwd")
        zf.writestr("c/a.png", b"a")
    assert [(m.name, m.problem) for m in list_archive(buffer.getvalue(), SMALL)] == [
        ("c/link.png", "a link, not a regular file"), ("c/a.png", None)]
