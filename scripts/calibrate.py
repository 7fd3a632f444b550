"""Calibrate model folders: fit a temperature on held-out tasks, write calibration.json beside the weights.

    python scripts/calibrate.py assets/models/*            # every shipped model (a few minutes on 2 CPUs)
    python scripts/calibrate.py runs/my-photo --data ../shared/data/tiny_imagenet32_150.tar.gz

The held-out classes are the model's own: its config.json names the data and the `holdout` list it
was trained without (a model trained on procedural glyphs only is measured on the Omniglot
alphabets the shipped glyph models held out). Those classes are split in two disjoint halves:
the temperature and the "low confidence" threshold are fitted on tasks of one half, and every
figure written (ECE before and after, the share of wrong and right answers marked, the
reliability diagram) is measured on tasks of the other half, classes the fit never saw.
Figures go to results/calibration/<model>.json and .svg; `--readme` rewrites README.md's table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paramembed.calibration import (  # noqa: E402
    Calibration, ece, fit_temperature, mark_threshold, marked_shares, reliability, reliability_svg, top_confidence,
)
from paramembed.config import read_config_file  # noqa: E402
from paramembed.data.episodes import TaskSampler  # noqa: E402
from paramembed.data.registry import ClassSubset, get_dataset  # noqa: E402
from paramembed.evaluation import FeatureBank  # noqa: E402
from paramembed.methods import eval_mode  # noqa: E402
from paramembed.zoo import load_folder  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GLYPH_DEFAULT = (SHARED / "omniglot_background.tar.gz", ROOT / "configs" / "glyph-backbone.yaml")
PHOTO_DEFAULT = (SHARED / "tiny_imagenet32_150.tar.gz", ROOT / "configs" / "photo-backbone.yaml")
GLYPH_SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))
PHOTO_SETTINGS = ((5, 1), (5, 5))
OUT = ROOT / "results" / "calibration"


def held_out(folder: Path, data: str | None):
    """(data path, holdout names) the model never trained on."""
    config = json.loads((folder / "config.json").read_text())
    train = config.get("train", {})
    channels = config["model"]["input"]["channels"]
    default_data, default_config = PHOTO_DEFAULT if channels == 3 else GLYPH_DEFAULT
    source = data or train.get("data")
    holdout = train.get("holdout") or []
    if not source or source == "procedural" or not holdout:
        source, holdout = str(default_data), read_config_file(default_config).get("holdout", [])
    path = Path(source)
    for candidate in (path, ROOT / source, SHARED / path.name):  # trained elsewhere: the same file in ../shared/data
        if candidate.exists():
            return str(candidate), holdout
    return str(path), holdout


def logits_on(model, dataset, settings, episodes: int, seed: int, queries: int = 15):
    """Per setting: (N, ways) logits (before any temperature) and labels, over `episodes` tasks."""
    bank = None if model.method == "maml" else FeatureBank(model, dataset)
    all_logits, all_labels = [], []
    for ways, shots in settings:
        sampler = TaskSampler(dataset, queries=queries, within_alphabet=0.0, seed=seed)
        labels = torch.arange(ways).repeat_interleave(shots)
        query_labels = torch.arange(ways).repeat_interleave(queries)
        z = []
        for index in range(episodes if bank is not None else max(episodes // 5, 20)):
            if bank is not None:
                _, s_keys, q_keys = sampler.task_keys(index, ways, shots)
                support, query = bank.features(s_keys).clone(), bank.features(q_keys).clone()
                with eval_mode(model, model.method):
                    clf = model.classifier_from_features(support[None], labels[None].to(model.device), ways)
                with eval_mode(model), torch.no_grad():
                    z.append(clf.logits(query[None])[0].cpu())
            else:
                task = sampler.sample(index, ways, shots)
                clf = model.adapt(task.support, task.support_labels.tolist())
                saved, model.temperature = model.temperature, 1.0
                z.append(torch.log(model.predict(clf, task.query).clamp_min(1e-12)).cpu())  # log-softmax: same up to a shift
                model.temperature = saved
        all_logits.append(torch.cat(z))
        all_labels.append(query_labels.repeat(len(z)))
    return all_logits, all_labels


def calibrate(folder: Path, data: str | None, episodes: int, write: bool) -> dict:
    model = load_folder(folder, device="cpu")
    model.temperature = 1.0
    source, holdout = held_out(folder, data)
    if getattr(model.backbone, "frozen", False):  # a pretrained backbone: the cached features its training used
        from paramembed.data.features import cached_features

        held = cached_features(model.backbone, model.config.backbone, source, model.config.input, holdout, held=True,
                               per_class=100, min_images=20)
    else:
        held = get_dataset(source, "validation", model.config.input, holdout=holdout)
    halves = [ClassSubset(held, lambda g, c, h=h: c % 2 == h) for h in (0, 1)]
    settings = PHOTO_SETTINGS if model.config.input.channels == 3 else GLYPH_SETTINGS
    fit_logits, fit_labels = logits_on(model, halves[0], settings, episodes, seed=1)
    t = fit_temperature(fit_logits, fit_labels)
    fit_conf, fit_right = top_confidence([torch.softmax(z / t, -1) for z in fit_logits], fit_labels)
    threshold = mark_threshold(fit_conf, fit_right)
    test_logits, test_labels = logits_on(model, halves[1], settings, episodes, seed=2)
    before = top_confidence([torch.softmax(z, -1) for z in test_logits], test_labels)
    after = top_confidence([torch.softmax(z / t, -1) for z in test_logits], test_labels)
    wrong_marked, right_marked = marked_shares(*after, threshold)
    where = f"{Path(source).name}, held-out classes ({len(holdout)} named), " + ", ".join(f"{w}-way {s}-shot" for w, s in settings)
    cal = Calibration(
        temperature=round(t, 4), mark_below=round(threshold, 4),
        fitted_on=f"{where}; even-numbered classes, {episodes} tasks per setting",
        measured_on=f"{where}; odd-numbered classes (never in the fit), {episodes} tasks per setting",
        ece_before=round(ece(*before), 4), ece_after=round(ece(*after), 4),
        wrong_marked=round(wrong_marked, 4), right_marked=round(right_marked, 4),
        accuracy=round(float(after[1].mean()), 4), queries=int(len(after[1])), reliability=reliability(*after),
    )
    if write:
        cal.save(folder)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{folder.name}.json").write_text(json.dumps(cal.__dict__, indent=1) + "\n")
        title = f"{folder.name}: ECE {100 * cal.ece_before:.1f}% -> {100 * cal.ece_after:.1f}%"
        (OUT / f"{folder.name}.svg").write_text(reliability_svg(cal.reliability, title))
    return cal.__dict__


def readme_table(rows: dict[str, dict]) -> str:
    lines = ["| model | temperature | ECE before | ECE after | wrong answers marked | right answers marked | "
             "accuracy | mark below | held-out queries |", "|---|---|---|---|---|---|---|---|---|"]
    for name, c in sorted(rows.items()):
        lines.append(f"| `{name}` | {c['temperature']:.2f} | {100 * c['ece_before']:.1f}% | {100 * c['ece_after']:.1f}% | "
                     f"{100 * c['wrong_marked']:.0f}% | {100 * c['right_marked']:.0f}% | {100 * c['accuracy']:.1f}% | "
                     f"{100 * c['mark_below']:.0f}% | {c['queries']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="model folders (model.safetensors + config.json)")
    parser.add_argument("--data", help="the held-out data, when the model's config.json does not name it")
    parser.add_argument("--episodes", type=int, default=300, help="tasks per setting and half (300: ECE within ~1 point)")
    parser.add_argument("--dry-run", action="store_true", help="print the figures, write nothing")
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's calibration table from results/calibration")
    args = parser.parse_args()
    torch.manual_seed(0)
    for folder in args.folders:
        if folder.name.startswith(".") or not (folder / "config.json").is_file():
            continue
        c = calibrate(folder, args.data, args.episodes, not args.dry_run)
        print(f"{folder.name:<12} T={c['temperature']:.3f}  ECE {100 * c['ece_before']:.1f}% -> {100 * c['ece_after']:.1f}%  "
              f"marked: wrong {100 * c['wrong_marked']:.0f}%, right {100 * c['right_marked']:.0f}%  "
              f"accuracy {100 * c['accuracy']:.1f}%  mark below {c['mark_below']:.2f}", flush=True)
    if args.readme:
        rows = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
        readme = ROOT / "README.md"
        text = readme.read_text()
        table = "<!-- calibration:start -->\n" + readme_table(rows) + "\n<!-- calibration:end -->"
        text = re.sub(r"<!-- calibration:start -->.*?<!-- calibration:end -->", lambda _: table, text, flags=re.S)
        readme.write_text(text)


if __name__ == "__main__":
    main()
