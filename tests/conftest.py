import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tiny tensors: one thread avoids OpenMP hand-offs that cost more than the work on a busy 2-core box.
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    # Unpacked archives and decoded arrays go to a per-session folder unless the caller set one.
    os.environ.setdefault("PARAMEMBED_CACHE", str(tmp_path_factory.mktemp("cache")))
