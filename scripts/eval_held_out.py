"""Held-out Omniglot accuracy of any model folder, with the report's own benchmarks and seeds.

Used to compare a model retrained on this CPU with the shipped (GPU-trained) one:
    python scripts/eval_held_out.py runs/hyper-cpu assets/models/hyper --episodes 1000
"""

from __future__ import annotations

import argparse

from paramembed.evaluation import FeatureBank, evaluate
from paramembed.report import GLYPH_BENCHMARKS
from paramembed.zoo import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders or shipped names")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--ways", type=int, default=20)
    parser.add_argument("--shots", type=int, default=1)
    args = parser.parse_args()
    for name in args.models:
        model = load_model(name, device="cpu")
        for bench in GLYPH_BENCHMARKS:
            if not bench.holdout_from:
                continue
            dataset = bench.dataset(model)
            r = evaluate(model, dataset, args.ways, args.shots, queries=15, episodes=args.episodes,
                         within_alphabet=bench.within_alphabet, seed=0, bank=FeatureBank(model, dataset))
            print(f"{name:<28} {bench.title:<55} {args.ways}-way {args.shots}-shot {100 * r.mean:.1f} +- {100 * r.ci95:.1f}")


if __name__ == "__main__":
    main()
