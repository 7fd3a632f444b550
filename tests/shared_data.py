"""Where the real evaluation data lives (../shared/data beside the repo), and a skip marker for it."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
OMNIGLOT = SHARED_DATA / "omniglot_background.tar.gz"
CIFAR = SHARED_DATA / "cifar10_test.tar.gz"


def needs_omniglot():
    return pytest.mark.skipif(not OMNIGLOT.exists(), reason=f"real Omniglot not found at {OMNIGLOT} (../shared is absent)")
