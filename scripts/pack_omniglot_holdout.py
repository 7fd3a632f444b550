"""Pack the Omniglot alphabets the shipped glyph models held out into assets/omniglot-holdout.npz.

    python scripts/pack_omniglot_holdout.py                       # ../shared/data/omniglot_background.tar.gz
    python scripts/pack_omniglot_holdout.py --data path/to/omniglot_background.tar.gz

The alphabets are configs/glyph-backbone.yaml's `holdout` (the same five every shipped glyph model
held out); one file of 1-bit drawings (`paramembed.data.packed`), with its attribution (MIT licence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paramembed.config import read_config_file  # noqa: E402
from paramembed.data.folders import discover_layout, unpack_archive  # noqa: E402
from paramembed.data.packed import ATTRIBUTION, HOLDOUT_FILE, SIDE, pack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "omniglot_background.tar.gz")
    parser.add_argument("--out", type=Path, default=HOLDOUT_FILE)
    parser.add_argument("--side", type=int, default=SIDE)
    args = parser.parse_args()
    holdout = read_config_file(ROOT / "configs" / "glyph-backbone.yaml")["holdout"]
    root = unpack_archive(args.data) if args.data.is_file() else args.data
    groups = []
    for group, classes in discover_layout(root):
        if group in holdout:
            groups.append((group, [(name, [Image.open(p).copy() for p in files]) for name, files in classes]))
    missing = sorted(set(holdout) - {g for g, _ in groups})
    if missing:
        raise SystemExit(f"alphabets not found in {args.data}: {', '.join(missing)}")
    out = pack(groups, args.out, args.side)
    out.with_suffix(".txt").write_text(
        f"{out.name}: {sum(len(c) for _, c in groups)} characters of {len(groups)} alphabets "
        f"({', '.join(g for g, _ in groups)}), 1-bit {args.side}x{args.side}.\n{ATTRIBUTION}\n"
        "Made by scripts/pack_omniglot_holdout.py.\n")
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
