"""What the explorer may read: built-in data, bounded uploads, and server paths confined to shared roots."""

import io
import os
import zipfile
from pathlib import Path

import pytest

from paramembed.errors import ParamembedError
from paramembed.explorer_sources import MAX_UPLOAD_BYTES, new_session_id, procedural_source, server_source, unpack_upload
from paramembed.serving import serving_from_env


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("alpha/a/0.png", b"not really a png")
    return buffer.getvalue()


def test_procedural_source_follows_the_model_input():
    assert procedural_source(1) == "procedural" and procedural_source(3) == "procedural-photo"


def test_unpack_upload_is_bounded_and_one_per_session(tmp_path):
    data = zipped()
    session = new_session_id()
    first = unpack_upload(session, "mine.zip", data, root=tmp_path)
    assert (first / "alpha" / "a" / "0.png").read_bytes() == b"not really a png" and first.parent == tmp_path / session
    second = unpack_upload(session, "other.tar.gz", tar_gz(), root=tmp_path)
    assert not first.exists() and second.exists()  # a session's new upload replaces its last
    with pytest.raises(ParamembedError, match="up to 100 MB"):
        unpack_upload(session, "big.zip", b"\0" * (MAX_UPLOAD_BYTES + 1), root=tmp_path)
    with pytest.raises(ParamembedError, match="not an archive"):
        unpack_upload(session, "shadow", data, root=tmp_path)
    with pytest.raises(ParamembedError, match="empty"):
        unpack_upload(session, "empty.zip", b"", root=tmp_path)
    with pytest.raises(ParamembedError, match="session"):
        unpack_upload("../elsewhere", "mine.zip", data, root=tmp_path)


def tar_gz() -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("beta/b/0.png")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


@pytest.fixture()
def shared(tmp_path):
    root = tmp_path / "shared"
    (root / "omniglot" / "alpha" / "a").mkdir(parents=True)
    (root / "set.zip").write_bytes(zipped())
    (root / "notes.txt").write_text("x")
    private = tmp_path / "private"
    (private / "secret").mkdir(parents=True)
    os.symlink(private, root / "link")
    return root, private


def test_server_source_reads_only_under_the_shared_roots(shared):
    root, private = shared
    serving = serving_from_env({"PARAMEMBED_DATA_ROOTS": str(root)})
    assert server_source(str(root / "omniglot"), serving) == str((root / "omniglot").resolve())
    assert server_source(f"  {root / 'set.zip'} ", serving) == str((root / "set.zip").resolve())
    outside = {}
    for path in (private, private / "secret", private / "missing", root / "link" / "secret", Path("/etc/shadow"),
                 Path("/etc/does-not-exist"), root / ".." / "private"):
        with pytest.raises(ParamembedError) as err:
            server_source(str(path), serving)
        outside[str(path)] = str(err.value).replace(repr(str(path)), "PATH")
    assert len(set(outside.values())) == 1, outside  # existing and missing paths read the same
    assert "not under the folders this server shares" in next(iter(outside.values()))
    with pytest.raises(ParamembedError, match="not a folder or"):
        server_source(str(root / "notes.txt"), serving)
    with pytest.raises(ParamembedError, match="type the path"):
        server_source("  ", serving)


def test_server_source_refused_when_the_server_keeps_its_folders(shared):
    root, _ = shared
    network = serving_from_env({"PARAMEMBED_MODE": "network", "PARAMEMBED_DATA_ROOTS": str(root),
                                "PARAMEMBED_ADMIN_TOKEN": "s3cret"})
    with pytest.raises(ParamembedError, match="upload an archive instead"):
        server_source(str(root / "omniglot"), network)
    assert server_source(str(root / "omniglot"), network, token="s3cret").endswith("omniglot")
