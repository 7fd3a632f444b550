"""Reading untrusted archives (`paramembed.archives`): limits hold while reading, paths stay inside."""

import io
import tarfile
import tracemalloc
import zipfile

import pytest

from paramembed.archives import ArchiveLimits, extract_archive, iter_archive, list_archive
from paramembed.errors import ParamembedError

MB = 2**20


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
    with pytest.raises(ParamembedError, match="more than 20 files"):
        list(iter_archive(make_zip({f"c/{i}.png": b"x" for i in range(25)}), SMALL, "many"))
    with pytest.raises(ParamembedError, match="more than 20 files"):
        list(iter_archive(make_tgz({f"c/{i}.png": b"x" for i in range(25)}), SMALL, "many"))


def test_unsafe_paths_links_and_control_characters_are_problems():
    members = list(iter_archive(make_zip({"../evil.png": b"x", "/etc/x.png": b"x", "ok/a.png": b"a"}), SMALL, "z"))
    assert [m.problem for m in members[:2]] == ["path leaves the archive ('..')", "absolute path: it would leave the archive's folder"]
    assert members[2].data == b"a"
    members = list(iter_archive(make_tgz({"ok/a.png": b"a"}, links={"ok/link.png": "/etc/passwd"},
                                         pax={"ok/n\x00ull.png": b"n"}), SMALL, "t"))
    problems = {m.name: m.problem for m in members if m.problem}
    assert problems == {"ok/link.png": "not a regular file (a link or a device)",
                        "ok/n?ull.png": "file name contains a control character (such as a null byte)"}


def test_not_an_archive():
    with pytest.raises(ParamembedError, match="x.bin: not a zip or tar.gz"):
        list(iter_archive(b"hello", SMALL, "x.bin"))
    with pytest.raises(ParamembedError, match="not a readable zip"):
        list(iter_archive(b"PK garbage", SMALL, "x.zip"))
    with pytest.raises(ParamembedError, match="not a readable tar.gz"):
        list(iter_archive(b"\x1f\x8b garbage", SMALL, "x.tgz"))


def test_extract_writes_inside_dest_and_removes_it_on_a_problem(tmp_path):
    dest = extract_archive(make_tgz({"data/c1/a.png": b"a", "data/c2/b.png": b"b"}), tmp_path / "one", SMALL, "t")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == ["data/c1/a.png", "data/c2/b.png"]
    with pytest.raises(ParamembedError, match=r"\.\./victim.png: path leaves"):
        extract_archive(make_zip({"c/a.png": b"a", "../victim.png": b"x"}), tmp_path / "two" / "data", SMALL, "z")
    assert not (tmp_path / "two" / "data").exists() and not (tmp_path / "two" / "victim.png").exists()
    with pytest.raises(ParamembedError, match="unpacks to more than"):
        extract_archive(make_zip({f"c/{i}.png": bytes(int(0.9 * MB)) for i in range(8)}), tmp_path / "three", SMALL, "bomb")
    assert not (tmp_path / "three").exists()
    with pytest.raises(ParamembedError, match="already exists"):
        extract_archive(make_zip({"c/a.png": b"a"}), tmp_path / "one", SMALL, "z")
