"""`python -m paramembed report`: the README's results table, computed, never typed.

For every shipped model and baseline it evaluates 5-way 1-shot, 5-way 5-shot, 20-way 1-shot
and 20-way 5-shot accuracy (mean +- 95% CI) on
  - the procedural test alphabets (never trained on),
  - real Omniglot's background set (../shared/data; no shipped model ever saw a real image),
    with random-class tasks and within-alphabet tasks (Lake et al. 2015),
and photo models on CIFAR-10's test split (5-way). Results accumulate in results/<model>.json
(one file per model: re-running a model replaces only its rows), and `--write-readme` renders them between the README's
`<!-- results:start -->` and `<!-- results:end -->` markers, next to the published anchors.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from paramembed.checkpoint import ASSETS, list_models, load_model
from paramembed.errors import ParamembedError
from paramembed.evaluation import FeatureBank, evaluate
from paramembed.models.fewshot import FewShotModel

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"  # one JSON file per model, so models can be evaluated in parallel
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared" / "data"
GLYPH_SETTINGS = [(5, 1), (5, 5), (20, 1), (20, 5)]
PHOTO_SETTINGS = [(5, 1), (5, 5)]

# Published anchors, trained on real Omniglot (random-class protocol), in GLYPH_SETTINGS order.
ANCHORS = {
    "Prototypical Networks (Snell et al. 2017)": [98.8, 99.7, 96.0, 98.9],
    "MAML (Finn et al. 2017)": [98.7, 99.9, 95.8, 98.9],
    "Matching Networks (Vinyals et al. 2016)": [98.1, 98.9, 93.8, 98.5],
}


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    data: str  # "procedural" or a path
    within_alphabet: bool
    settings: list[tuple[int, int]]


GLYPH_BENCHMARKS = [
    Benchmark("procedural", "procedural test alphabets", "procedural", False, GLYPH_SETTINGS),
    Benchmark("omniglot", "real Omniglot, random classes", str(SHARED / "omniglot_background.tar.gz"), False, GLYPH_SETTINGS),
    Benchmark("omniglot-within", "real Omniglot, within alphabet", str(SHARED / "omniglot_background.tar.gz"), True, GLYPH_SETTINGS),
]
PHOTO_BENCHMARKS = [Benchmark("cifar10", "CIFAR-10 test photos", str(SHARED / "cifar10_test.tar.gz"), False, PHOTO_SETTINGS)]


def rows_for(name: str, model) -> list[tuple[str, object, str | None]]:
    """(row label, model, method) triples a shipped model contributes to the table.

    Its own method; for `hyper`, the fine-tuned-head baseline on the same backbone; for a photo
    model, imprinting on its backbone and the floor: the same architecture with random weights.
    """
    rows = [(name, model, None)]
    if name == "hyper":
        rows.append(("finetune (hyper's backbone)", model, "finetune"))
    if model.config.input.channels == 3:
        rows.append((f"{name}: imprinting on its backbone", model, "proto"))
        torch.manual_seed(0)
        floor = FewShotModel(replace(model.config, generator="proto")).to(model.device).eval()
        rows.append(("floor: random Conv-4 + prototypes", floor, "proto"))
    return rows


def read_results() -> dict:
    """Merge results/<model>.json into {benchmark: {row label: cells}}."""
    merged: dict = {}
    for path in sorted(RESULTS.glob("*.json")):
        for bench, rows in json.loads(path.read_text()).items():
            merged.setdefault(bench, {}).update(rows)
    return merged


def run_report(models: list[str], episodes: int, slow_episodes: int, seed: int = 0) -> dict:
    from paramembed.data.registry import get_dataset

    for name in models:
        results: dict = {}
        out = RESULTS / f"{Path(name).name}.json"
        model = load_model(name, device="auto")
        benchmarks = PHOTO_BENCHMARKS if model.config.input.channels == 3 else GLYPH_BENCHMARKS
        datasets, banks = {}, {}
        for label, row_model, method in rows_for(name, model):
            slow = (method or row_model.method) in ("maml", "finetune")
            n = slow_episodes if slow else episodes
            for bench in benchmarks:
                if bench.data != "procedural" and not Path(bench.data).exists():
                    print(f"skip {bench.title}: {bench.data} not found")
                    continue
                if bench.data not in datasets:
                    datasets[bench.data] = get_dataset(bench.data, "test", model.config.input)
                dataset = datasets[bench.data]
                key = (id(row_model), bench.data)  # one feature bank per backbone and source
                banks.setdefault(key, FeatureBank(row_model, dataset))
                cells = []
                for ways, shots in bench.settings:
                    start = time.perf_counter()
                    r = evaluate(
                        row_model, dataset, ways, shots, queries=15, episodes=n,
                        within_alphabet=bench.within_alphabet, seed=seed, method=method, bank=banks[key],
                    )
                    cells.append({"ways": ways, "shots": shots, "mean": r.mean, "ci95": r.ci95, "episodes": n, "seconds": time.perf_counter() - start})
                    print(f"{label:<32} {bench.title:<34} {ways:>2}-way {shots}-shot {r}  ({n} episodes)", flush=True)
                results.setdefault(bench.key, {})[label] = cells
                RESULTS.mkdir(exist_ok=True)
                out.write_text(json.dumps(results, indent=1))
    return read_results()


def render_markdown(results: dict) -> str:
    lines = []
    for bench in GLYPH_BENCHMARKS + PHOTO_BENCHMARKS:
        rows = results.get(bench.key)
        if not rows:
            continue
        heads = [f"{w}-way {s}-shot" for w, s in bench.settings]
        lines += [f"**{bench.title}**", "", "| model | " + " | ".join(heads) + " | episodes |", "|---" * (len(heads) + 2) + "|"]
        for label, cells in rows.items():
            values = " | ".join(f"{100 * c['mean']:.1f} ± {100 * c['ci95']:.1f}" for c in cells)
            lines.append(f"| {label} | {values} | {cells[0]['episodes']} |")
        if bench.key == "omniglot":
            for name, values in ANCHORS.items():
                lines.append(f"| *{name}, trained on real Omniglot* | " + " | ".join(f"*{v}*" for v in values) + " | published |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# The sim-to-real targets for the default model: (benchmark, ways, shots, floor in %).
TARGETS = [("procedural", 20, 1, 95.0), ("omniglot", 20, 1, 85.0), ("omniglot-within", 20, 1, 75.0)]


def render_targets(results: dict, model: str = "hyper") -> str:
    """One line per target: the default model's figure and whether it meets the target."""
    lines = []
    for key, ways, shots, floor in TARGETS:
        cells = results.get(key, {}).get(model)
        cell = next((c for c in cells or [] if (c["ways"], c["shots"]) == (ways, shots)), None)
        if cell is None:
            continue
        value = 100 * cell["mean"]
        verdict = "met" if value >= floor else f"**not met** ({floor - value:.1f} points short)"
        title = next(b.title for b in GLYPH_BENCHMARKS if b.key == key)
        lines.append(f"- {title}, {ways}-way {shots}-shot: {value:.1f}% against a target of {floor:.0f}%: {verdict}")
    return ("Targets for the default model (`" + model + "`):\n\n" + "\n".join(lines) + "\n\n") if lines else ""


def write_readme(results: dict) -> None:
    text = README.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        raise ParamembedError(f"README.md has no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    README.write_text(f"{before}{start}\n{render_targets(results)}{render_markdown(results)}{end}{after}")


def _report(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads) if args.threads else None
    models = args.models or list_models()
    if args.readme_only:
        models = []
    missing = [m for m in models if not (ASSETS / m).exists() and not Path(m).exists()]
    if missing:
        raise ParamembedError(f"no shipped model named {', '.join(missing)}; shipped: {', '.join(list_models()) or 'none'}")
    results = read_results() if args.readme_only else run_report(models, args.episodes, args.slow_episodes, args.seed)
    if args.write_readme:
        write_readme(results)
        print(f"wrote the results table into {README}")


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="evaluate every shipped model and write the README's results table")
    p.add_argument("--models", nargs="+", help="shipped model names (default: all of them)")
    p.add_argument("--episodes", type=int, default=1000, help="episodes per cell (1000 gives CIs of a few tenths of a point)")
    p.add_argument("--slow-episodes", type=int, default=1000,
                   help="episodes per cell for MAML and the fine-tuned head, which adapt by gradient steps per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--write-readme", action="store_true", help="render results/*.json into README.md")
    p.add_argument("--readme-only", action="store_true", help="only re-render README.md from results/*.json")
    p.set_defaults(func=_report)
