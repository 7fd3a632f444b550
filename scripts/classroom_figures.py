"""The README's figures for the classroom features: the packed held-out handwriting and the ONNX export.

    python scripts/classroom_figures.py                 # print them
    python scripts/classroom_figures.py --write-readme  # and rewrite README.md's block between the markers

Measures: the size of assets/omniglot-holdout.npz and what it holds; the shipped glyph models'
accuracy on sampled tasks from it (the playground's "Real handwriting" tasks, seeded); the largest
difference between `FewShotModel.predict` and the exported ONNX graph run by onnxruntime.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paramembed import load_model  # noqa: E402
from paramembed.data.packed import HOLDOUT_FILE, PackedGlyphs  # noqa: E402
from paramembed.evaluation import evaluate  # noqa: E402
from paramembed.export import classifier_to_onnx  # noqa: E402
from paramembed.zoo import list_models  # noqa: E402


def figures(episodes: int) -> list[str]:
    lines = []
    with np.load(HOLDOUT_FILE) as f:
        chars, drawings, side = len(f["class_names"]), int(f["counts"].sum()), int(f["side"])
        alphabets = ", ".join(str(g) for g in f["groups"])
    lines.append(f"- `assets/omniglot-holdout.npz`: {HOLDOUT_FILE.stat().st_size / 1024:.0f} KB, {chars} characters "
                 f"({drawings:,} drawings, 1-bit {side}x{side}) of {alphabets}.")
    for name in ("hyper", "proto"):
        if name not in list_models():
            continue
        model = load_model(name, device="cpu")
        data = PackedGlyphs(HOLDOUT_FILE, model.config.input)
        cells = [f"{w}-way {s}-shot {evaluate(model, data, w, s, episodes=episodes, seed=0)}" for w, s in ((5, 1), (20, 1))]
        lines.append(f"- `{name}` on sampled tasks from it ({episodes} seeded tasks each): {', '.join(cells)}.")
    import onnxruntime as ort

    worst = []
    for name in ("hyper", "photo", "proto"):
        if name not in list_models():
            continue
        model = load_model(name, device="cpu")
        spec = model.config.input
        torch.manual_seed(0)
        x = torch.rand(40, spec.channels, spec.image_size, spec.image_size)
        clf = model.adapt(x[:25], [i // 5 for i in range(25)])
        data = classifier_to_onnx(model, clf)
        got = ort.InferenceSession(data).run(["probs"], {"images": x[25:].numpy()})[0]
        worst.append(f"`{name}` {np.abs(got - model.predict(clf, x[25:]).numpy()).max():.1e} ({len(data) / 1024:.0f} KB)")
    lines.append("- ONNX export against `predict`, largest probability difference on 15 queries of a 5-way 5-shot task: "
                 + ", ".join(worst) + ".")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = figures(args.episodes)
    print("\n".join(lines))
    if args.write_readme:
        readme = ROOT / "README.md"
        block = "<!-- classroom:start -->\n" + "\n".join(lines) + "\n<!-- classroom:end -->"
        readme.write_text(re.sub(r"<!-- classroom:start -->.*?<!-- classroom:end -->", lambda _: block,
                                 readme.read_text(), flags=re.S))


if __name__ == "__main__":
    main()
