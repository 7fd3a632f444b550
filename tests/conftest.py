import os

import pytest
import torch

# paramembed is imported as an installed package (`pip install -e .`, which `make test` does),
# never through a sys.path entry: the tests then see it as a user does.

# Tiny tensors: one thread avoids OpenMP hand-offs that cost more than the work on a busy 2-core box.
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    # Unpacked archives and decoded arrays go to a per-session folder unless the caller set one.
    os.environ.setdefault("PARAMEMBED_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True, scope="session")
def _isolated_runs(tmp_path_factory):
    # A developer's runs/ must not change what the tests see: runs go to an empty per-session folder
    # unless the caller set one. A test that needs particular runs sets $PARAMEMBED_RUNS itself.
    os.environ.setdefault("PARAMEMBED_RUNS", str(tmp_path_factory.mktemp("runs")))
