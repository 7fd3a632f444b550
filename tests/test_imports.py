"""Every module of paramembed imports on its own: no import cycle hides behind an import order.

A cycle (checkpoint -> models.fewshot -> ... -> checkpoint) only breaks when the cycle's module is
the first one imported, so each module must be tried in a process where no paramembed module was
imported before. One child interpreter imports the third-party libraries once (torch alone takes
seconds), then forks a process per module: each fork starts with no paramembed module loaded.
"""

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import importlib, json, os, sys, traceback
import numpy, PIL.Image, safetensors.torch, torch, torchvision, yaml  # noqa: F401  the slow part, once
try:
    import streamlit  # noqa: F401
except ImportError:
    pass
results = {}
for name in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            message = ""
        except BaseException:
            message = traceback.format_exc(limit=-3)
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    results[name] = b"".join(chunks).decode() or ("" if status == 0 else f"exit status {status}")
print(json.dumps(results))
"""


def modules() -> list[str]:
    import paramembed

    names = ["paramembed"] + [m.name for m in pkgutil.walk_packages(paramembed.__path__, "paramembed.")]
    return [n for n in names if not n.endswith("__main__")]  # importing __main__ runs the CLI


def test_module_list_covers_the_package():
    names = modules()
    for expected in ("paramembed.zoo", "paramembed.checkpoint", "paramembed.models.fewshot", "paramembed.models.pretrained", "paramembed.methods"):
        assert expected in names


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_each_module_imports_first_and_alone():
    names = modules()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(names)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(names)
    failures = {name: error for name, error in results.items() if error}
    assert not failures, "\n\n".join(f"{name}:\n{error}" for name, error in failures.items())
