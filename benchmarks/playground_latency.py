"""How long the playground takes to show a new sampled task once the model is loaded.

Times what a click on "New task" costs in the page: sampling a 5-way 5-shot task from the
procedural test alphabets, preprocessing it, adapting and predicting, and the whole AppTest rerun
(script + rendering the elements, without the browser). Reports the median over `--tasks` tasks.

    .venv/bin/python benchmarks/playground_latency.py [--model PATH] [--tasks 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # pages/ live in the repository; paramembed is installed (pip install -e .)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder or shipped name (default: the shipped default)")
    parser.add_argument("--tasks", type=int, default=10, help="new tasks to time; 10 gives a stable median")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from paramembed import load_model
    from paramembed.data.registry import get_dataset
    from paramembed.device import describe_device
    from paramembed.tasks import preprocess_task, sample_task, solve

    model = load_model(args.model, device=args.device)
    dataset = get_dataset("procedural", "test", model.config.input)
    solve(model, sample_task(dataset, 5, 5, 3, False, 0, 999))  # warm-up: first calls allocate
    stages: dict[str, list[float]] = {"sample": [], "preprocess": [], "adapt": [], "predict": []}
    for index in range(args.tasks):
        t0 = time.perf_counter()
        task = sample_task(dataset, 5, 5, 3, False, 0, index)
        t1 = time.perf_counter()
        inputs = preprocess_task(task, model.config.input)
        t2 = time.perf_counter()
        result = solve(model, task, None, inputs)
        stages["sample"].append((t1 - t0) * 1000)
        stages["preprocess"].append((t2 - t1) * 1000)
        stages["adapt"].append(result.adapt_ms)
        stages["predict"].append(result.predict_ms)
    print(f"device: {describe_device(model.device)}, model: {args.model or 'default'}, 5-way 5-shot, 15 queries")
    for name, values in stages.items():
        print(f"  {name:<11} median {statistics.median(values):7.1f} ms")

    # The whole page rerun after "New task", as AppTest runs it (no browser rendering).
    from streamlit.testing.v1 import AppTest

    if args.model:
        os.environ["PARAMEMBED_MODELS"] = str(args.model)
    at = AppTest.from_file(str(ROOT / "pages" / "playground.py"), default_timeout=300).run()
    reruns = []
    for _ in range(args.tasks):
        t0 = time.perf_counter()
        at.button(key="sample_new").click().run()
        reruns.append((time.perf_counter() - t0) * 1000)
    cached = time.perf_counter()
    at.run()  # nothing changed: everything should come from the caches
    print(f"  page rerun, new task   median {statistics.median(reruns):7.1f} ms")
    print(f"  page rerun, unchanged         {(time.perf_counter() - cached) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
