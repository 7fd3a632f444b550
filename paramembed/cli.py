"""The command line: `python -m paramembed {train,evaluate,report,models,bench}`.

User errors end in one line on stderr and exit status 2; no tracebacks for things a user did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from paramembed.errors import ParamembedError
from paramembed.methods import ANY_BACKBONE, METHOD_NAMES, method_help

PRETRAINED_NAME = "imagenet-resnet18"  # paramembed.zoo.PRETRAINED_NAME, without importing torch for --help


def _train(args: argparse.Namespace) -> None:
    from paramembed.config import load_train_config
    from paramembed.config_checks import validate_train_config
    from paramembed.pretraining import pretrain
    from paramembed.training import train

    config = load_train_config(args.config, args.set)
    if args.name is not None:  # --name "" is refused by the run-name check, not quietly ignored
        config.name = args.name
    validate_train_config(config)  # before any data is read: a bad number fails in a second, not an hour
    run = pretrain if config.stage == "pretrain" else train
    run_dir = run(config, resume=not args.fresh, progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line from rank 0 only
        print(f"saved {run_dir}")


def check_evaluate_args(args: argparse.Namespace) -> None:
    """One ParamembedError line for an `evaluate` argument out of range, before any model is loaded."""
    from paramembed.config_checks import check_device

    from paramembed.config_checks import MAX_WAYS

    if min(args.ways) < 2:
        raise ParamembedError(f"--ways must be at least 2 (a task needs two classes), got {min(args.ways)}")
    if max(args.ways) > MAX_WAYS:
        raise ParamembedError(f"--ways must be at most {MAX_WAYS}, got {max(args.ways)}")
    if min(args.shots_list) < 1:
        raise ParamembedError(f"--shots must be at least 1, got {min(args.shots_list)}")
    if args.queries < 1:
        raise ParamembedError(f"--queries must be at least 1, got {args.queries}")
    # One episode has no spread: its 95% interval would print as nan.
    if args.episodes < 2:
        raise ParamembedError(f"--episodes must be at least 2 for a confidence interval, got {args.episodes}")
    if args.seed < 0:
        raise ParamembedError(f"--seed must be at least 0, got {args.seed}")
    check_device(args.device, "--device")


def _evaluate(args: argparse.Namespace) -> None:
    check_evaluate_args(args)
    from paramembed.data.registry import get_dataset
    from paramembed.evaluation import evaluate
    from paramembed.zoo import load_model, load_photo_model

    if args.model == PRETRAINED_NAME:
        model, notice = load_photo_model(device=args.device)
        if notice:
            print(f"note: {notice}", file=sys.stderr)
    else:
        model = load_model(args.model, device=args.device)
    dataset = get_dataset(args.data, args.split, model.config.input, min_images=args.shots + args.queries)
    results = []
    for method in args.method or [None]:
        for ways in args.ways:
            for shots in args.shots_list:
                results.append(
                    evaluate(model, dataset, ways, shots, args.queries, args.episodes, args.within_alphabet, args.seed, method, progress=not args.json)
                )
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return
    print(f"model {args.model or 'default'} on {args.data} ({args.split}), {args.episodes} episodes, {args.queries} queries per class"
          + (f", within-alphabet tasks with probability {args.within_alphabet:g}" if args.within_alphabet else ""))
    print(f"{'method':<10}{'task':<18}{'accuracy (mean +- 95% CI)':>28}")
    for r in results:
        print(f"{r.method:<10}{f'{r.ways}-way {r.shots}-shot':<18}{str(r):>28}")


def _models(args: argparse.Namespace) -> None:
    from pathlib import Path

    from paramembed.checkpoint import read_model_config
    from paramembed.zoo import shipped_models

    for entry in sorted(shipped_models(), key=lambda e: e.name):
        name = entry.name
        config, payload = read_model_config(Path(entry.path))
        print(f"{name:<10} generator={config.generator:<7} input={config.input.channels}x{config.input.image_size}  episodes={payload.get('episodes', '?')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m paramembed",
        description="Few-shot classifiers whose parameters are generated from the support set in one forward pass.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="pre-train a backbone (stage: pretrain) or meta-train a model (writes runs/<name>/: metrics.jsonl, model.safetensors, config.json)")
    p.add_argument("--config", help="YAML or JSON file with the settings that differ from the defaults (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set model.generator=latent --set episodes=20000 (repeatable)")
    p.add_argument("--name", help="run name (folder under out_dir); default from the config")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming runs/<name>/ (resuming is the default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="N-way K-shot accuracy, mean +- 95%% CI over many episodes")
    p.add_argument("--model", help="shipped model name or model folder (default: the default shipped model); "
                   f"'{PRETRAINED_NAME}' uses torchvision's ImageNet ResNet-18 when its weights are available, else the photo model")
    p.add_argument("--data", default="procedural",
                   help="'procedural' (the glyph alphabets) or a folder/.tar.gz in Omniglot or ImageFolder layout")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="procedural split (test: the held-out alphabets); a folder's 'test' is the whole folder")
    p.add_argument("--ways", type=int, nargs="+", default=[5], help="N; several values give several rows (default 5)")
    p.add_argument("--shots", dest="shots_list", type=int, nargs="+", default=[1], help="K (default 1)")
    p.add_argument("--queries", type=int, default=15, help="queries per class; 15 is the usual Omniglot protocol")
    p.add_argument("--episodes", type=int, default=600, help="at least 600 for a CI of about +-0.5 points")
    p.add_argument("--within-alphabet", type=float, nargs="?", const=1.0, default=0.0, metavar="P",
                   help="probability that a task takes all its classes from one alphabet, as in training configs; "
                   "the bare flag means 1 (the Lake et al. 2015 within-alphabet protocol); default 0: random classes")
    p.add_argument("--method", action="append", choices=METHOD_NAMES,
                   help=f"adaptation method (default: the model's own); {' and '.join(ANY_BACKBONE)} work with any model, "
                   f"the others need a model trained with them; repeatable. {method_help()}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    p.set_defaults(func=_evaluate, shots=1)

    p = sub.add_parser("models", help="list the shipped models")
    p.set_defaults(func=_models)

    # No guard around these imports: a missing dependency must fail loudly, not hide a command.
    from paramembed import bench, report

    report.add_parser(sub)
    bench.add_parser(sub)
    from paramembed import cli_zh_cn

    # Help in Chinese with PARAMEMBED_LANG=zh-CN (as the app); errors stay English (cli_zh_cn says why).
    return cli_zh_cn.translate(parser) if cli_zh_cn.wanted() else parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":
        args.shots = max(args.shots_list)
    try:
        args.func(args)
    except ParamembedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
