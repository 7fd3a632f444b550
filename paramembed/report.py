"""`python -m paramembed report`: the README's results table, computed, never typed.

For every shipped model and baseline it evaluates 5-way 1-shot, 5-way 5-shot, 20-way 1-shot
and 20-way 5-shot accuracy (mean +- 95% CI) on
  - the procedural test alphabets (never trained on),
  - the 5 real Omniglot background alphabets held out of every glyph model's training
    (configs/glyph-backbone.yaml), with random-class and within-alphabet tasks (Lake et al. 2015),
and photo models 5-way on the 30 Tiny-ImageNet classes held out of training
(configs/photo-backbone.yaml) and on CIFAR-10's test split, a dataset never trained on.
Results accumulate in results/<model>.json
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

from paramembed.checkpoint import ASSETS
from paramembed.zoo import list_models, load_model
from paramembed.config import read_config_file
from paramembed.config_checks import check_threads
from paramembed.errors import ParamembedError
from paramembed.evaluation import FeatureBank, evaluate, paired_difference
from paramembed.methods import get_method
from paramembed.models.fewshot import FewShotModel

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"  # one JSON file per model, so models can be evaluated in parallel
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared" / "data"
CONFIGS = ROOT / "configs"
GLYPH_SETTINGS = [(5, 1), (5, 5), (20, 1), (20, 5)]
PHOTO_SETTINGS = [(5, 1), (5, 5)]

# Published anchors, in the settings order of the table they sit under. Omniglot: trained on the
# background set, tested on the 20 evaluation alphabets (random classes). Photos: ProtoNet with
# Conv-4 on 32x32 few-shot splits of CIFAR-100 (Bertinetto et al. 2019; Oreshkin et al. 2018).
ANCHORS = {
    "omniglot": {
        "Prototypical Networks (Snell et al. 2017), Omniglot evaluation alphabets": [98.8, 99.7, 96.0, 98.9],
        "MAML (Finn et al. 2017), Omniglot evaluation alphabets": [98.7, 99.9, 95.8, 98.9],
        "Matching Networks (Vinyals et al. 2016), Omniglot evaluation alphabets": [98.1, 98.9, 93.8, 98.5],
    },
    "tiny-imagenet": {
        "ProtoNet Conv-4 on CIFAR-FS (Bertinetto et al. 2019)": [55.5, 72.0],
        "ProtoNet Conv-4 on FC100 (Oreshkin et al. 2018)": [35.3, 48.6],
    },
}


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    data: str  # "procedural" or a path
    within_alphabet: float  # probability that a task's classes share one alphabet (as in training configs)
    settings: list[tuple[int, int]]
    holdout_from: str = ""  # a config whose `holdout` list is the evaluated split ("" = the whole set)
    per_class: int = 0  # a frozen backbone's cached features: at most this many photos a class (0: all)

    def dataset(self, model: FewShotModel):
        """The evaluated split as the model reads it: images, or cached features for a frozen backbone."""
        from paramembed.data.registry import get_dataset

        holdout = read_config_file(CONFIGS / self.holdout_from).get("holdout", []) if self.holdout_from else []
        spec = model.config.input
        if getattr(model.backbone, "frozen", False):
            from paramembed.data.features import cached_features

            return cached_features(model.backbone, model.config.backbone, self.data, spec, holdout,
                                   held=bool(holdout), per_class=self.per_class, min_images=20)
        if not holdout:
            return get_dataset(self.data, "test", spec)
        return get_dataset(self.data, "validation", spec, holdout=holdout)


OMNIGLOT = str(SHARED / "omniglot_background.tar.gz")
GLYPH_BENCHMARKS = [
    Benchmark("procedural", "procedural test alphabets", "procedural", 0.0, GLYPH_SETTINGS),
    Benchmark("omniglot", "real Omniglot, 5 held-out alphabets, random classes", OMNIGLOT, 0.0, GLYPH_SETTINGS,
              "glyph-backbone.yaml"),
    Benchmark("omniglot-within", "real Omniglot, 5 held-out alphabets, within alphabet", OMNIGLOT, 1.0, GLYPH_SETTINGS,
              "glyph-backbone.yaml"),
]
PHOTO_BENCHMARKS = [
    # A frozen backbone's models read cached features of at most `per_class` photos a class: 100 are
    # the features the photo model's training cached (Caltech has up to 120, Tiny-ImageNet 550);
    # CIFAR-10 gets 300 of its 1,000 (the 32x32 model reads all of them).
    Benchmark("caltech", "Caltech-101, 20 held-out classes, camera resolution", str(SHARED / "caltech101_85.tar.gz"), 0.0,
              PHOTO_SETTINGS, "photo.yaml", per_class=100),
    Benchmark("tiny-imagenet", "Tiny-ImageNet, 30 held-out classes", str(SHARED / "tiny_imagenet32_150.tar.gz"), 0.0,
              PHOTO_SETTINGS, "photo-backbone.yaml", per_class=100),
    Benchmark("cifar10", "CIFAR-10 test photos (never trained on)", str(SHARED / "cifar10_test.tar.gz"), 0.0, PHOTO_SETTINGS,
              per_class=300),
]


@dataclass(frozen=True)
class Row:
    """One line of a results table: a model run by one method, with or without reading the queries."""

    label: str
    model: FewShotModel
    method: str | None = None  # None: the model's own
    use_queries: bool = True


GENERATED_MINUS_IMPRINTING = "generated minus imprinting (paired)"


def imprinting_with_queries(model: FewShotModel) -> FewShotModel:
    """The ablation: prototypes refined by untrained soft k-means (tau 10, lam 1) on `model`'s backbone."""
    config = replace(model.config, generator="proto", query_steps=model.config.query_steps or 3)
    ablation = FewShotModel(config)
    ablation.load_state_dict({k: v for k, v in model.state_dict().items() if k.startswith("backbone.") or k == "log_scale"},
                             strict=False)
    return ablation.to(model.device).eval()


def rows_for(name: str, model: FewShotModel) -> list[Row]:
    """The rows a shipped model contributes to the tables.

    Its own method; for a transductive model, the same model without the queries and untrained soft
    k-means on prototypes (the ablation of what the refinement learns); imprinting on the same
    backbone, which `generated minus imprinting` is paired with; for `hyper`, the fine-tuned head;
    for a Conv-4 photo model, the floor: the same architecture with random weights.
    """
    rows = [Row(name, model)]
    if model.transductive:
        rows.append(Row(f"{name} without queries (inductive)", model, use_queries=False))
        rows.append(Row(f"imprinting + queries, untrained ({name}'s backbone)", imprinting_with_queries(model)))
    # Without the queries: for a model whose own generator is imprinting plus query refinement, "proto" alone would be it.
    rows.append(Row(f"imprinting ({name}'s backbone)", model, "proto", use_queries=False))
    if name == "hyper":
        rows.append(Row("finetune (hyper's backbone)", model, "finetune"))
    if model.config.input.channels == 3 and model.config.backbone == "conv4":
        torch.manual_seed(0)
        floor = FewShotModel(replace(model.config, generator="proto")).to(model.device).eval()
        rows.append(Row("floor: random Conv-4 + prototypes", floor, "proto"))
    return rows


def read_results() -> dict:
    """Merge results/<model>.json into {benchmark: {row label: cells}}."""
    merged: dict = {}
    for path in sorted(RESULTS.glob("*.json")):
        for bench, rows in json.loads(path.read_text()).items():
            merged.setdefault(bench, {}).update(rows)
    return merged


def run_report(models: list[str], episodes: int, slow_episodes: int, seed: int = 0) -> dict:
    for name in models:
        results: dict = {}
        out = RESULTS / f"{Path(name).name}.json"
        model = load_model(name, device="auto")
        benchmarks = PHOTO_BENCHMARKS if model.config.input.channels == 3 else GLYPH_BENCHMARKS
        datasets, banks, own = {}, {}, {}
        for row in rows_for(name, model):
            slow = get_method(row.method or row.model.method).kind == "gradient"  # steps per task: fewer episodes
            n = slow_episodes if slow else episodes
            for bench in benchmarks:
                if bench.data != "procedural" and not Path(bench.data).exists():
                    print(f"skip {bench.title}: {bench.data} not found")
                    continue
                if bench.key not in datasets:
                    datasets[bench.key] = bench.dataset(model)
                dataset = datasets[bench.key]
                key = (id(row.model.backbone), bench.key)  # one feature bank per backbone and source
                banks.setdefault(key, FeatureBank(row.model, dataset))
                cells = []
                for ways, shots in bench.settings:
                    start = time.perf_counter()
                    r = evaluate(
                        row.model, dataset, ways, shots, queries=15, episodes=n, within_alphabet=bench.within_alphabet,
                        seed=seed, method=row.method, bank=banks[key], use_queries=row.use_queries,
                    )
                    cells.append({"ways": ways, "shots": shots, "mean": r.mean, "ci95": r.ci95, "episodes": n, "seconds": time.perf_counter() - start})
                    print(f"{row.label:<32} {bench.title:<34} {ways:>2}-way {shots}-shot {r}  ({n} episodes)", flush=True)
                    if row.label == name:
                        own[bench.key, ways, shots] = r
                    elif row.method == "proto" and row.model is model:  # imprinting on the same backbone, same tasks
                        diff, ci = paired_difference(own[bench.key, ways, shots], r)
                        results.setdefault(bench.key, {}).setdefault(f"{name}: {GENERATED_MINUS_IMPRINTING}", []).append(
                            {"ways": ways, "shots": shots, "mean": diff, "ci95": ci, "episodes": n, "paired": True})
                results.setdefault(bench.key, {})[row.label] = cells
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
            paired = cells[0].get("paired", False)  # a difference in points, not an accuracy
            values = " | ".join(f"{100 * c['mean']:+.1f} ± {100 * c['ci95']:.1f}" if paired else
                                f"{100 * c['mean']:.1f} ± {100 * c['ci95']:.1f}" for c in cells)
            lines.append(f"| {label} | {values} | {cells[0]['episodes']} |")
        for name, values in ANCHORS.get(bench.key, {}).items():
            lines.append(f"| *{name}* | " + " | ".join(f"*{v}*" for v in values) + " | published |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# Targets: (model, benchmark, ways, shots, floor in %). Issue #11 set the first six, issue #18 the rest.
TARGETS = [
    ("hyper", "omniglot", 20, 1, 96.0), ("hyper", "omniglot", 5, 1, 99.0), ("hyper", "omniglot-within", 20, 1, 88.0),
    ("photo-scratch", "tiny-imagenet", 5, 5, 65.0), ("photo-scratch", "tiny-imagenet", 5, 1, 45.0),
    ("photo-scratch", "cifar10", 5, 5, 60.0),
    ("photo", "caltech", 5, 1, 93.0), ("photo", "caltech", 5, 5, 98.0), ("photo", "cifar10", 5, 5, 70.0),
]
# What the generated weights must add over imprinting on the same backbone and tasks (paired, in
# points, with the 95% interval above the floor's zero): (model, benchmark, ways, shots, floor).
GAIN_TARGETS = [
    ("photo", "caltech", 5, 1, 2.0), ("photo", "caltech", 5, 5, 0.0),
    ("hyper", "omniglot-within", 20, 1, 1.0), ("hyper", "omniglot-within", 20, 5, 0.0),
]


def _cell(results: dict, key: str, label: str, ways: int, shots: int) -> dict | None:
    return next((c for c in results.get(key, {}).get(label) or [] if (c["ways"], c["shots"]) == (ways, shots)), None)


def _title(key: str) -> str:
    return next(b.title for b in GLYPH_BENCHMARKS + PHOTO_BENCHMARKS if b.key == key)


def render_targets(results: dict) -> str:
    """One line per target: the shipped model's figure and whether it meets the target."""
    lines = []
    for model, key, ways, shots, floor in TARGETS:
        cell = _cell(results, key, model, ways, shots)
        if cell is None:
            continue
        value = 100 * cell["mean"]
        verdict = "met" if value >= floor else f"**not met** ({floor - value:.1f} points short)"
        lines.append(f"- `{model}`, {_title(key)}, {ways}-way {shots}-shot: {value:.1f} ± {100 * cell['ci95']:.1f}% "
                     f"against a target of {floor:.0f}%: {verdict}")
    for model, key, ways, shots, floor in GAIN_TARGETS:
        cell = _cell(results, key, f"{model}: {GENERATED_MINUS_IMPRINTING}", ways, shots)
        if cell is None:
            continue
        gain, ci = 100 * cell["mean"], 100 * cell["ci95"]
        met = gain >= floor and gain - ci > 0 if floor > 0 else gain + ci >= 0  # 0: "loses nothing"
        want = f"at least +{floor:.0f} points, interval above zero" if floor > 0 else "no loss (interval reaches zero or above)"
        verdict = "met" if met else f"**not met** ({max(floor - gain, ci - gain, -gain - ci):.1f} points short)"
        lines.append(f"- `{model}` generated minus imprinting, {_title(key)}, {ways}-way {shots}-shot: "
                     f"{gain:+.1f} ± {ci:.1f} points against {want}: {verdict}")
    return ("Targets:\n\n" + "\n".join(lines) + "\n\n") if lines else ""


BACKBONES = ROOT / "assets" / "backbones"  # stage-1 logs (config + metrics) of the shipped models' backbones
GAP_S = 600  # a longer pause between two log lines is an interruption, not training time


def wall_minutes(records: list[dict]) -> float:
    """Training wall time from a log's timestamps, in minutes, with interruptions left out.

    The first interval (start to first line) is not logged; it is estimated as the mean interval.
    """
    times = sorted(r["time"] for r in records if isinstance(r.get("time"), (int, float)))
    gaps = [b - a for a, b in zip(times, times[1:]) if b - a < GAP_S]
    if not gaps:
        return 0.0
    return (sum(gaps) + sum(gaps) / len(gaps)) / 60.0


def _duration(minutes: float) -> str:
    return f"{minutes * 60:.0f} s" if minutes < 2 else f"{minutes:.0f} min"


def _stage(folder: Path) -> tuple[str, float, dict]:
    """A shipped folder's own stage: (its budget and time, minutes, its training config)."""
    from paramembed.run_metrics import read_metrics

    payload = json.loads((folder / "config.json").read_text())
    train = payload.get("train", {})
    minutes = wall_minutes(read_metrics(folder / "metrics.jsonl"))
    if train.get("stage") == "pretrain":
        budget = f"{train.get('epochs', payload.get('epochs', 0)):.0f} epochs"
    else:
        budget = f"{payload.get('episodes', train.get('episodes', 0)):,} episodes"
    return f"`{folder.name}` ({train.get('stage', 'meta')}): {budget}, {_duration(minutes)}", minutes, payload


def render_training_table() -> str:
    """Per shipped model: every stage it went through (following init_from), wall times and hardware, from the shipped logs."""
    lines = ["| model | recipe | earlier stages | last stage | total wall time | last stage trained on |",
             "|---|---|---|---|---|---|"]
    for name in list_models():
        last, total, payload = _stage(ASSETS / name)
        earlier, base = [], Path(payload.get("train", {}).get("init_from", "")).name
        while base and (BACKBONES / base / "config.json").exists():
            text, minutes, base_payload = _stage(BACKBONES / base)
            earlier.insert(0, text)
            total += minutes
            base = Path(base_payload.get("train", {}).get("init_from", "")).name
        data = payload.get("train", {}).get("data", "")
        first = "none (procedural data only)" if data.startswith("procedural") else "none"
        hardware = payload.get("hardware", "not recorded")
        lines.append(f"| `{name}` | `configs/{name}.yaml` | {'; '.join(earlier) or first} | {last} | {_duration(total)} | {hardware} |")
    return "\n".join(lines) + "\n"


def _replace_between(text: str, marker: str, body: str) -> str:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if start not in text or end not in text:
        raise ParamembedError(f"README.md has no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body}{end}{after}"


def write_readme(results: dict) -> None:
    text = _replace_between(README.read_text(), "results", render_targets(results) + render_markdown(results))
    if "<!-- training:start -->" in text:
        text = _replace_between(text, "training", render_training_table())
    README.write_text(text)


def _report(args: argparse.Namespace) -> None:
    check_threads(args.threads)
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
