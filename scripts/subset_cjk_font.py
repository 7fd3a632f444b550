"""Rebuild static/fonts/NotoSansSC-paramembed.woff2: the Chinese glyphs the app needs, from Noto Sans CJK SC.

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    pip install fonttools==4.55.3 brotli==1.1.0       # build-time only, not a dependency of the app
    python scripts/subset_cjk_font.py noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

Why a subset: a machine without `fonts-noto-cjk` (Debian's Chromium on a classroom PC) shows every
Chinese character as an empty box. The whole Simplified Chinese face is 16 MB; the app needs the
characters of its Chinese catalog, plus the 3,755 common hanzi of GB 2312 level 1 so that class
names a teacher types in Chinese render too. Only CJK code points are kept: Latin text stays in
Streamlit's own Source Sans (the font is declared with a matching unicode-range in
.streamlit/config.toml). Licence: SIL Open Font License 1.1 (static/fonts/OFL.txt), which allows
shipping a modified (subset) font; a modified font may not use a Reserved Font Name (the
Adobe-made CJK faces reserve "Source"), so the subset is named "paramembed CJK" (OFL section 3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "static" / "fonts" / "NotoSansSC-paramembed.woff2"
FAMILY = "paramembed CJK"
# The ranges the font serves (the same in .streamlit/config.toml): CJK radicals to unified
# ideographs, compatibility ideographs, vertical and fullwidth forms.
RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))


def gb2312_level1() -> set[str]:
    """The 3,755 most common hanzi: GB 2312 rows 16-55 (bytes 0xB0-0xD7, then 0xA1-0xFE)."""
    chars = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # the five empty cells at the end of row 0xD7
    return chars


def wanted() -> set[str]:
    from paramembed.app.messages_zh_cn import MESSAGES_ZH_CN

    text = "".join(MESSAGES_ZH_CN.values()) + "".join(chr(c) for c in range(0x3000, 0x3040))  # CJK punctuation
    text += "".join(chr(c) for c in range(0xFF01, 0xFF5F))  # fullwidth ASCII forms
    chars = set(text) | gb2312_level1()
    return {c for c in chars if any(lo <= ord(c) <= hi for lo, hi in RANGES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ttc", help="NotoSansCJK-Regular.ttc from Debian's fonts-noto-cjk")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    face = next(f for f in TTCollection(args.ttc).fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    chars = wanted()
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False  # browsers rasterise CJK outlines well unhinted; hints were a quarter of the file
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(face)
    for record in face["name"].names:  # OFL: a modified font does not carry the Reserved Font Name
        if record.nameID in (1, 4, 16):
            record.string = FAMILY
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "-")
    face.flavor = "woff2"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    face.save(args.out)
    # The characters it holds, beside it: tests/app/test_i18n.py checks the Chinese catalog against
    # this list without needing fontTools (rebuild the font when that test fails).
    held = sorted(chr(c) for c in face.getBestCmap())
    Path(args.out).with_suffix(".chars.txt").write_text("".join(held) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(chars)} characters, {Path(args.out).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
