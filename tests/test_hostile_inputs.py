"""The hostile-input suite (issue 21): every path bounded, every error one line.

Each test names the issue's item it covers and asserts a measured bound (peak resident memory
growth, bytes or files left on disk), never a wall-clock time; hangs are caught by
pytest-timeout. The bounds are the per-request and per-session budgets in the README's limits
table. Costly cases are marked slow.
"""

from __future__ import annotations

import io
import json
import tarfile
import unicodedata
import warnings
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from hostile import MB, big_rgba_png, file_count, folder_bytes, lying_jpeg, peak_growth_mb, png, thin_png
from paramembed import load_model
from paramembed.data.preprocess import image_to_tensor, open_image
from paramembed.errors import ParamembedError
from paramembed.models.classifier import GeneratedClassifier

# The README's limits table: one image through the gate, at any size the limits let in.
IMAGE_PEAK_MB = 400  # a 40 MP RGBA PNG is 160 MB decoded; Pillow's premultiplied reduce copies it once
SMALL_PEAK_MB = 100  # anything refused by its header or shape, and any JPEG (decoded at 1/2..1/8 scale)
PREDICT_PEAK_MB = 200  # predict on thousands of queries: one chunk of activations at a time


@pytest.fixture(scope="module")
def glyph_model():
    return load_model("hyper", device="cpu")


@pytest.fixture(scope="module")
def photo_model():
    return load_model("photo", device="cpu")


def one_line(err: BaseException) -> str:
    text = str(err)
    assert isinstance(err, ParamembedError), f"{type(err).__name__}: {text}"
    assert "\n" not in text and len(text) < 400, text
    return text


def cross(size: int = 40) -> np.ndarray:
    arr = np.full((size, size), 255, np.uint8)
    arr[8:32, 18:22] = 0
    arr[18:22, 8:32] = 0
    return arr


# ============ 1. thin images: shrink before per-pixel work, cap the aspect ratio ============


def test_thin_png_is_refused_by_its_shape_before_any_pixel_work(glyph_model):
    # The old gate centred this 3 x 12,000 line in a 12,000^2 float square: +1.1 GB for 200 bytes.
    grown, result = peak_growth_mb(lambda: glyph_model.adapt([thin_png(12_000)] * 2, ["a", "b"]))
    assert "strip" in one_line(result)
    assert grown < SMALL_PEAK_MB


def test_one_pixel_high_photo_is_refused_on_the_photo_path(photo_model):
    arr = np.full((1, 200_000), 255, np.uint8)
    grown, result = peak_growth_mb(lambda: photo_model.adapt([png(arr)] * 2, ["a", "b"]))
    assert "strip" in one_line(result)
    assert grown < SMALL_PEAK_MB


def test_thin_array_is_refused_by_its_shape():
    from paramembed.config import InputSpec

    with pytest.raises(ParamembedError, match="strip"):
        image_to_tensor(np.zeros((3, 30_000), np.uint8), InputSpec())


def test_long_glyph_within_the_aspect_cap_stays_cheap_and_reads_the_same(glyph_model):
    # 15:1 and 12 MP: accepted, and reduced before the centring square is built (old: +1.46 GB).
    from paramembed.config import InputSpec

    small = np.full((12, 180), 255, np.uint8)
    small[4:8, 2:178] = 0
    big = np.kron(small, np.ones((75, 75), np.uint8))  # 900 x 13,500, the same bar
    grown, result = peak_growth_mb(lambda: image_to_tensor(png(big), InputSpec()))
    assert isinstance(result, torch.Tensor), result
    assert grown < IMAGE_PEAK_MB
    # The model still reads what the image shows: the same centred bar as the small original.
    same = torch.nn.functional.cosine_similarity(result.flatten(), image_to_tensor(small, InputSpec()).flatten(), dim=0)
    assert same > 0.95


# ============ 3. cost within the stated limits: decode near the size the model needs ============


def test_large_jpeg_is_decoded_at_reduced_scale(photo_model):
    buf = io.BytesIO()
    Image.new("RGB", (6000, 6000), (90, 120, 30)).save(buf, "JPEG")
    other = np.zeros((64, 64, 3), np.uint8)
    other[::2] = 255
    # The old gate decoded all 36 MP and converted it: +400 MB. draft() decodes at 1/4 scale.
    grown, result = peak_growth_mb(lambda: photo_model.adapt([buf.getvalue(), other], ["a", "b"]))
    assert isinstance(result, GeneratedClassifier), result
    assert grown < SMALL_PEAK_MB


@pytest.mark.slow
@pytest.mark.parametrize("which", ["glyph", "photo"])
def test_40_megapixel_rgba_png_stays_within_the_image_budget(which, glyph_model, photo_model):
    model = glyph_model if which == "glyph" else photo_model
    big = big_rgba_png()
    grown, result = peak_growth_mb(lambda: model.adapt([big, cross()], ["a", "b"]))  # old: +2.4 GB
    assert isinstance(result, GeneratedClassifier), result
    assert grown < IMAGE_PEAK_MB


# ============ 6. tracebacks at the gate: strides, meta and sparse tensors ============


def test_negative_stride_float_array_is_read(glyph_model):
    img = np.fliplr(cross().astype(np.float32) / 255.0)  # a view with a negative stride
    clf = glyph_model.adapt([img, 1.0 - img], ["a", "b"])
    assert clf.ways == 2


@pytest.mark.parametrize("kind", ["meta", "sparse"])
def test_meta_and_sparse_tensors_are_refused(glyph_model, kind):
    dense = torch.from_numpy(cross()).float() / 255.0
    tensor = torch.empty(40, 40, device="meta") if kind == "meta" else dense.to_sparse()
    with pytest.raises(ParamembedError, match=kind):
        glyph_model.adapt([tensor, dense], ["a", "b"])


# ============ 8. quietly wrong: lying JPEGs, blank and transparent images, labels ============


def test_jpeg_whose_header_claims_more_than_its_data_is_refused():
    grown, result = peak_growth_mb(lambda: open_image(lying_jpeg(), "lie.jpg"))
    assert "corrupt or truncated" in one_line(result)
    assert grown < SMALL_PEAK_MB


def test_fully_transparent_image_is_refused(glyph_model):
    arr = np.zeros((40, 40, 4), np.uint8)
    with pytest.raises(ParamembedError, match="fully transparent"):
        glyph_model.adapt([png(arr), cross()], ["a", "b"])


@pytest.mark.parametrize("shade", [0, 255, 128])
def test_blank_support_image_is_refused(glyph_model, shade):
    blank = np.full((40, 40), shade, np.uint8)
    with pytest.raises(ParamembedError, match="support image 2 is blank"):
        glyph_model.adapt([cross(), blank], ["a", "b"])


def test_nan_labels_are_refused(glyph_model):
    with pytest.raises(ParamembedError, match="finite"):
        glyph_model.adapt([cross(), 255 - cross(), cross()], [float("nan"), float("nan"), 1.0])


def test_nfc_and_nfd_labels_are_one_class(glyph_model):
    nfc, nfd = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
    assert nfc != nfd
    clf = glyph_model.adapt([cross(), cross(), 255 - cross()], [nfc, nfd, "b"])
    assert clf.labels == [nfc, "b"]


def test_the_app_task_treats_nfc_and_nfd_names_as_one_class():
    from paramembed.tasks import TaskDraft

    draft = TaskDraft()
    draft.add_class(unicodedata.normalize("NFC", "café"))
    with pytest.raises(ParamembedError, match="already a class"):
        draft.add_class(unicodedata.normalize("NFD", "café"))


# ============ 10. predict batches its queries ============


@pytest.mark.slow
def test_predict_on_thousands_of_queries_stays_within_one_chunk(glyph_model):
    clf = glyph_model.adapt([cross(), 255 - cross()], ["a", "b"])
    queries = torch.rand(6000, 1, 28, 28)  # preprocessed; the old predict ran all 6,000 at once (+2.3 GB)
    grown, result = peak_growth_mb(lambda: glyph_model.predict(clf, queries))
    assert isinstance(result, torch.Tensor) and result.shape == (6000, 2), result
    assert grown < PREDICT_PEAK_MB
    # Chunks are a detail: a bad query is still named by its place in the whole list.
    queries = [cross()] * 300 + [None]
    with pytest.raises(ParamembedError, match="image 301"):
        glyph_model.predict(clf, queries)


def test_another_models_classifier_is_refused(glyph_model, photo_model):
    rgb = np.stack([cross()] * 3, -1)
    clf = photo_model.adapt([rgb, 255 - rgb], ["a", "b"])
    with pytest.raises(ParamembedError, match="another model"):
        glyph_model.predict(clf, [cross()])


def test_empty_classifier_is_refused(glyph_model):
    clf = glyph_model.adapt([cross(), 255 - cross()], ["a", "b"])
    empty = GeneratedClassifier(clf.weights[:, :0], clf.bias[:, :0], clf.embedding[:, :0], clf.scale)
    with pytest.raises(ParamembedError, match="ways >= 1"):
        glyph_model.predict(empty, [cross()])


# ============ 3 and 4. archives: header sizes, long names, duplicates, deep paths ============


def _zip(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Duplicate name": the point of one test
                z.writestr(name, data)
    return buf.getvalue()


def _tar_gz_with_long_name(length: int, fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
        info = tarfile.TarInfo("c/" + "n" * length + ".png")
        data = png(cross())
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_huge_tar_name_header_is_refused_unread(fmt):
    from paramembed.tasks.zips import read_zip

    data = _tar_gz_with_long_name(60 * 2**20, fmt)  # ~60 KB gzipped; the old reader held the 60 MB name (+306 MB)
    grown, result = peak_growth_mb(lambda: read_zip(data, "task.zip"))  # the format is sniffed from content
    assert "tar header" in one_line(result)
    assert grown < 30


def test_long_member_names_are_shortened_in_messages():
    from paramembed.tasks.zips import read_zip

    long_name = "c/" + "x" * 3000 + ".txt"
    _, _, problems = read_zip(_zip([(long_name, b"text"), ("a/1.png", png(cross())), ("b/1.png", png(255 - cross()))]))
    assert problems and all(len(p) < 300 for p in problems), problems


def test_archive_path_thousands_of_folders_deep_is_refused(tmp_path):
    from paramembed.data.archives import extract_archive

    data = _zip([("a/" * 1500 + "x.png", png(cross()))])
    with pytest.raises(ParamembedError, match="folders deep") as caught:
        extract_archive(data, tmp_path / "out", label="deep.zip")
    one_line(caught.value)
    assert file_count(tmp_path) == 0  # nothing left behind


def test_duplicate_member_names_are_decoded_once(monkeypatch):
    from paramembed.tasks import zips

    decoded = []
    real = zips.decode_image
    monkeypatch.setattr(zips, "decode_image", lambda *a, **k: decoded.append(a[1]) or real(*a, **k))
    image = png(cross())
    members = [("c/x.png", image)] * 1998 + [("d/y.png", png(255 - cross()))]
    classes, _, problems = zips.read_zip(_zip(members, zipfile.ZIP_STORED), "dupes.zip")
    assert len(decoded) == 2  # the old reader decoded all 1,999 past the 30-per-class cap
    assert [len(v) for v in classes.values()] == [1, 1]
    assert any("1997 entries repeat a name" in p for p in problems), problems


def test_image_bytes_holding_the_zip_record_signature_do_not_count_as_entries():
    from PIL import PngImagePlugin

    from paramembed.tasks.zips import read_zip

    info = PngImagePlugin.PngInfo()
    info.add_text("note", "PK\x01\x02" * 2100)  # stored raw in a tEXt chunk
    buf = io.BytesIO()
    Image.fromarray(cross()).save(buf, "PNG", pnginfo=info)
    classes, _, _ = read_zip(_zip([("a/1.png", buf.getvalue()), ("b/1.png", png(255 - cross()))], zipfile.ZIP_STORED))
    assert sorted(classes) == ["a", "b"]


@pytest.mark.slow
def test_task_zip_of_six_40_megapixel_pngs_stays_within_the_image_budget():
    from paramembed.tasks.zips import read_zip

    big = big_rgba_png()
    data = _zip([(f"{c}/{i}.png", big) for c in "ab" for i in range(3)])  # ~1 MB; old: +2.46 GB
    grown, result = peak_growth_mb(lambda: read_zip(data, "big.zip"))
    assert isinstance(result, tuple) and [len(v) for v in result[0].values()] == [3, 3], result
    assert grown < IMAGE_PEAK_MB


# ============ 5. non-finite weights: training stops, loaders refuse ============


def _tiny_train_config(tmp_path, **overrides):
    from paramembed.config import ModelConfig, TrainConfig

    values = dict(name="tiny", out_dir=str(tmp_path), model=ModelConfig(generator="hyper", width=16),
                  ways=[5], shots=[1], queries=2, tasks_per_batch=4, episodes=80, warmup_episodes=0,
                  val_every=0, val_episodes=2, val_ways=5, checkpoint_every=20, lr=3e-3)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.timeout(300)
def test_training_stops_with_one_line_on_a_non_finite_loss(tmp_path):
    from paramembed.checkpoint import WEIGHTS
    from paramembed.training import train

    with pytest.raises(ParamembedError, match="diverged") as caught:
        train(_tiny_train_config(tmp_path, lr=1e30, checkpoint_every=0), progress=False)
    one_line(caught.value)
    assert not (tmp_path / "tiny" / WEIGHTS).exists()  # nothing saved after the divergence


def _damaged_model_folder(tmp_path, how: str):
    import shutil

    from safetensors.torch import load_file, save_file

    from paramembed.checkpoint import ASSETS, WEIGHTS

    folder = tmp_path / "model"
    shutil.copytree(ASSETS / "proto", folder)
    tensors = load_file(str(folder / WEIGHTS))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.dim() > 1)
    if how == "nan":
        tensors[name][0] = float("nan")
    elif how == "inf":
        tensors[name][0] = float("inf")
    else:
        tensors[name] = tensors[name].to(torch.int8)
    save_file(tensors, str(folder / WEIGHTS))
    return folder


@pytest.mark.parametrize("how", ["nan", "inf", "int8"])
def test_load_model_refuses_non_finite_or_integer_weights(tmp_path, how):
    folder = _damaged_model_folder(tmp_path, how)
    with pytest.raises(ParamembedError, match="NaN or infinite|floating point") as caught:
        load_model(folder, device="cpu")
    one_line(caught.value)


def _classifier_bytes(model, labels=None, **changes) -> bytes:
    from safetensors.torch import load as load_bytes
    from safetensors.torch import save as save_bytes

    from paramembed.export import classifier_to_bytes

    clf = model.adapt([cross(), 255 - cross()], ["a", "b"])
    data = classifier_to_bytes(clf, "hyper", model.config)
    tensors = load_bytes(data)
    meta = json_meta(data)
    if labels is not None:
        meta["labels"] = json.dumps(labels)
    tensors.update(changes)
    return save_bytes(tensors, metadata=meta)


def json_meta(data: bytes) -> dict:
    import struct

    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size])["__metadata__"]


@pytest.mark.parametrize("case, change, message", [
    ("nan weights", lambda t: {"weights": t["weights"] * float("nan")}, "NaN or infinite"),
    ("infinite scale", lambda t: {"scale": torch.tensor(float("inf"))}, "NaN or infinite"),
    ("int8 weights", lambda t: {"weights": t["weights"].to(torch.int8)}, "floating point"),
    ("scale of wrong shape", lambda t: {"scale": torch.ones(3)}, "scale should be one number"),
    ("empty classifier", lambda t: {"weights": t["weights"][:, :0], "bias": t["bias"][:, :0],
                                    "embedding": t["embedding"][:, :0], "labels": []}, "no classes"),
    ("fast weights of another backbone", lambda t: {"fast.layers.0.0.weight": torch.ones(3, 3)}, "another model|fast weights"),
])
def test_load_classifier_refuses_bad_tensors(glyph_model, case, change, message):
    from safetensors.torch import load as load_bytes

    from paramembed.export import classifier_to_bytes, load_classifier

    base = load_bytes(classifier_to_bytes(glyph_model.adapt([cross(), 255 - cross()], ["a", "b"]), "hyper", glyph_model.config))
    data = _classifier_bytes(glyph_model, **change(base))  # "labels" goes into the metadata
    with pytest.raises(ParamembedError, match=message) as caught:
        load_classifier(data, model=glyph_model)
    one_line(caught.value)


# Run in a child process under a 6 GB address-space cap: the old loader read /dev/zero until the
# machine's OOM killer stepped in; under the cap it fails with MemoryError instead.
_DEV_ZERO = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
from paramembed.errors import ParamembedError
from paramembed.export import load_classifier
try:
    load_classifier("/dev/zero")
    outcome = "loaded"
except ParamembedError as err:
    outcome = str(err)
# VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec (pytest's, late in a run)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "peak_mb": peak_kb // 1024}))
"""


@pytest.mark.timeout(120)
def test_load_classifier_refuses_a_device_without_reading_it():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _DEV_ZERO], cwd=root, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-500:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "not a file" in result["outcome"]
    assert result["peak_mb"] < 2048  # the whole child: Python and torch (about 1 GB) and the refusal; reading on hits 6 GB


# ============ 6 and 8. training state: damaged keys, the loss line after a resume ============


@pytest.mark.parametrize("damage", ["no optimiser", "rng of floats", "optimiser of text"])
def test_damaged_training_state_is_one_line(tmp_path, damage):
    from paramembed.checkpoint import STATE, _checkpoint_folder
    from paramembed.training import train

    config = _tiny_train_config(tmp_path, episodes=40)
    run_dir = train(config, progress=False)
    state_path = _checkpoint_folder(run_dir) / STATE
    state = torch.load(state_path, weights_only=True)
    if damage == "no optimiser":
        del state["optimiser"]
    elif damage == "rng of floats":
        state["torch_rng"] = torch.zeros(3)
    else:
        state["optimiser"] = {"param_groups": ["x"], "state": {}}
    torch.save(state, state_path)
    with pytest.raises(ParamembedError, match="use --fresh") as caught:
        train(_tiny_train_config(tmp_path, episodes=80), progress=False)
    one_line(caught.value)


@pytest.mark.slow
def test_loss_line_after_a_resume_averages_the_same_steps_as_an_uninterrupted_run(tmp_path, monkeypatch):
    from paramembed import training

    def train_lines(run_dir):
        lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return {m["step"]: m["loss"] for m in lines if m["split"] == "train"}

    whole = training.train(_tiny_train_config(tmp_path / "a"), progress=False)  # 20 steps, checkpoints every 5
    real_step, calls = training.training_step, []

    def killed_at_step_8(*args, **kwargs):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt  # the checkpoint of step 5 is the last complete one
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "training_step", killed_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        training.train(_tiny_train_config(tmp_path / "b"), progress=False)
    monkeypatch.setattr(training, "training_step", real_step)
    resumed = training.train(_tiny_train_config(tmp_path / "b"), progress=False)
    # Step 10's line averages steps 1-10 in both (the old resume averaged only steps 6-10).
    assert train_lines(resumed)[10] == pytest.approx(train_lines(whole)[10], rel=1e-5)


# ============ 6, 7 and 8. the command line: one line and exit status 2, fast ============


def _config_files(folder):
    deep_json = folder / "deep.json"
    deep_json.write_text('{"a":' * 5000 + "1" + "}" * 5000)
    deep_yaml = folder / "deep.yaml"
    deep_yaml.write_text("a: " + "[" * 5000 + "]" * 5000)
    big_int = folder / "bigint.yaml"
    big_int.write_text("seed: " + "9" * 5000)
    bomb, previous = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n', "a"
    for name in "bcdefghi":  # 9 aliases per level, 9 levels: 9^9 strings once expanded
        bomb += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    (folder / "bomb.yaml").write_text(bomb + "holdout: *i\n")
    return folder


CLI_CASES = {
    "deep JSON config": (["train", "--config", "{f}/deep.json"], "nested too deeply"),
    "deep YAML config": (["train", "--config", "{f}/deep.yaml"], "nested too deeply"),
    "5000-digit YAML int": (["train", "--config", "{f}/bigint.yaml"], "cannot be read"),
    "YAML alias bomb": (["train", "--config", "{f}/bomb.yaml"], "expands to more than"),
    "deep override": (["train", "--set", "holdout=" + "[" * 40 + "]" * 40], "nested more than"),
    "device=mps": (["train", "--set", "device=mps"], "MPS is not available"),
    "seed=2**64+1": (["train", "--set", f"seed={2**64 + 1}"], "below 2\\^63"),
    "seed over 32 bits": (["train", "--set", f"seed={2**40}"], "seed must be at most"),
    "model.backbone=evil": (["train", "--set", "model.backbone=evil"], "unknown model.backbone 'evil'"),
    "data=/dev/zero": (["train", "--set", "data=/dev/zero"], "unknown dataset '/dev/zero'"),
    "ways=[2,1000000]": (["train", "--set", "ways=[2,1000000]"], "ways must be at most 1000"),
    "evaluate --ways 1000000": (["evaluate", "--ways", "1000000", "--episodes", "2"], "--ways must be at most"),
    "--name ''": (["train", "--name", ""], "run name ''"),
    "holdout on procedural data": (["train", "--set", "holdout=[nope]"], "holdout names classes of a folder"),
    "mix_data that does not exist": (["train", "--set", "mix_data=/nonexistent"], "mix_data '/nonexistent'"),
    "bench --threads -1": (["bench", "--threads", "-1", "--quick"], "--threads must be a positive"),
    "report --threads -1": (["report", "--threads", "-1", "--readme-only"], "--threads must be a positive"),
    "bench --json /proc/x.json": (["bench", "--json", "/proc/x.json", "--quick", "--only", "data"], "cannot be written"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_refuses_in_one_line_with_status_2(tmp_path, capsys, case):
    from paramembed.cli import main

    argv, message = CLI_CASES[case]
    folder = _config_files(tmp_path)
    argv = [a.replace("{f}", str(folder)) for a in argv]
    if argv[0] == "train":
        argv += ["--set", f"out_dir={tmp_path / 'runs'}", "--set", "episodes=4", "--set", "val_episodes=2", "--quiet"]
    grown, status = peak_growth_mb(lambda: main(argv))
    err = capsys.readouterr().err.strip()
    assert status == 2, f"{status!r}; stderr: {err[-300:]}"
    assert len(err.splitlines()) == 1 and len(err) < 400, err
    assert __import__("re").search(message, err), err
    assert grown < SMALL_PEAK_MB
    assert not (tmp_path / "runs" / "run").exists()  # nothing was trained


# ============ 2. visitors' uploads: upload limits, disk budgets, nothing left on refusal ============


def _zeros_zip(megabytes: int, per_member: int = 16) -> bytes:
    """A zip of `megabytes` MB of zeros in members of `per_member` MB: a few hundred KB on the wire."""
    buf = io.BytesIO()
    block = b"\0" * 2**20
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(0, megabytes, per_member):
            with z.open(f"c/{i}.png", "w") as member:
                for _ in range(per_member):
                    member.write(block)
    return buf.getvalue()


def test_refused_upload_leaves_nothing_and_names_no_server_path(tmp_path):
    from paramembed.explorer_sources import new_session_id, public_message, unpack_upload

    root = tmp_path / "visitors"
    data = _zeros_zip(300)  # the old explorer unpacked this under the 2 GiB dataset limits and kept it
    grown, result = peak_growth_mb(lambda: unpack_upload(new_session_id(), "bomb.zip", data, root=root))
    text = one_line(result)
    assert "bomb.zip" in text and "256 MB" in text  # the upload limits, not the dataset ones
    assert folder_bytes(root) == 0 and file_count(root) == 0
    assert str(tmp_path) not in public_message(result, root, "bomb.zip", root)
    assert grown < SMALL_PEAK_MB


def test_upload_with_more_files_than_the_explorer_reads_is_refused(tmp_path):
    from paramembed.explorer_sources import UPLOAD_LIMITS, new_session_id, unpack_upload

    data = _zip([(f"c{i % 50}/{i}.png", b"x") for i in range(UPLOAD_LIMITS.max_members + 1)], zipfile.ZIP_STORED)
    with pytest.raises(ParamembedError, match="5000 entries"):
        unpack_upload(new_session_id(), "many.zip", data, root=tmp_path)
    assert file_count(tmp_path) == 0


def test_uploads_stay_within_the_session_and_global_disk_budgets(tmp_path):
    from paramembed.data.archives import ArchiveLimits
    from paramembed.explorer_sources import new_session_id, unpack_upload

    limits = ArchiveLimits(max_total_bytes=2**20, max_member_bytes=2**20, max_members=100)
    budget = 3 * 2**20  # room for three sessions' uploads
    noise = np.random.default_rng(0).integers(0, 255, 900_000, np.uint8).tobytes()  # incompressible
    sessions = [new_session_id() for _ in range(5)]
    for i, session in enumerate(sessions):
        for again in range(2):  # each session uploads twice: its second upload replaces its first
            data = _zip([(f"c/{again}.png", noise)], zipfile.ZIP_STORED)
            unpack_upload(session, f"set{i}.zip", data, root=tmp_path, limits=limits, budget=budget)
        assert folder_bytes(tmp_path) <= budget
        assert folder_bytes(tmp_path / session) <= limits.max_total_bytes
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(sessions[-3:])  # the least recently used sessions were evicted


def test_an_uploads_dataset_leaves_no_decoded_copy_in_the_cache(tmp_path, monkeypatch):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset
    from paramembed.explorer_sources import new_session_id, public_message, unpack_upload

    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    members = [(f"c{c}/{i}.png", png(np.roll(cross(), c * 3 + i, axis=1))) for c in range(3) for i in range(2)]
    folder = unpack_upload(new_session_id(), "mine.zip", _zip(members + [("c0/bad.png", b"not a png")]))
    with pytest.raises(ParamembedError) as caught:
        get_dataset(str(folder), "test", InputSpec(), cache_arrays=False)
    text = public_message(caught.value, folder, "mine.zip")
    assert "mine.zip/c0/bad.png" in text and str(tmp_path) not in text
    (folder / "c0" / "bad.png").unlink()
    dataset = get_dataset(str(folder), "test", InputSpec(), cache_arrays=False)
    assert dataset.data.shape == (6, 1, 28, 28)
    assert file_count(tmp_path / "cache" / "arrays") == 0  # the old loader wrote a .npy per upload, never deleted


# ============ 3. the per-session memory budget a task's limits keep ============


@pytest.mark.slow
def test_a_task_at_its_limits_stays_within_the_session_budget():
    from paramembed.tasks import LIMITS, decode_image

    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)
    Image.fromarray(noise).resize((4000, 3000), Image.Resampling.BICUBIC).save(buf, "JPEG")  # a 12 MP photo
    photo = buf.getvalue()
    count = LIMITS.max_classes * LIMITS.max_images_per_class + LIMITS.max_queries  # 1,000 images
    held: list = []
    grown, _ = peak_growth_mb(lambda: held.extend(decode_image(photo, f"{i}.jpg") for i in range(count)))
    stored = sum(len(t.image.tobytes()) for t in held)
    assert stored <= LIMITS.session_image_bytes() <= 200 * MB  # the old 512-px side held 590 MB of these
    assert grown < 200 + SMALL_PEAK_MB
