"""The floor for the photo model: the same Conv-4 with random weights and plain prototypes.

    python scripts/eval_photo_floor.py --data ../shared/data/cifar10_test.tar.gz --shots 1 5 --episodes 1000

Builds the shipped photo model's architecture (its config.json when present, else configs/photo.yaml),
never trains it, and evaluates imprinting (proto) on its features with the same episodes as
`python -m paramembed evaluate`.
"""

from __future__ import annotations

import argparse
import json

import torch

from paramembed.checkpoint import ASSETS, read_model_config
from paramembed.config import load_train_config
from paramembed.data.registry import get_dataset
from paramembed.evaluation import evaluate
from paramembed.models.fewshot import FewShotModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder or archive in ImageFolder layout (e.g. the CIFAR-10 test split)")
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="episode seed (same default as the evaluate command)")
    parser.add_argument("--init-seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args()

    shipped = ASSETS / "photo"
    config = read_model_config(shipped)[0] if (shipped / "config.json").exists() else load_train_config("configs/photo.yaml").model
    config.generator = "proto"
    torch.manual_seed(args.init_seed)
    model = FewShotModel(config).eval()
    dataset = get_dataset(args.data, "test", config.input, min_images=max(args.shots) + args.queries)
    for shots in args.shots:
        r = evaluate(model, dataset, args.ways, shots, args.queries, args.episodes, seed=args.seed)
        print(json.dumps({"model": "random-weights conv4", **r.as_dict(), "accuracy": str(r)}))


if __name__ == "__main__":
    main()
