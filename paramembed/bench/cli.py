"""`python -m paramembed bench`: the subcommand's flags, and the command that prints and saves the report.

Heavy imports (torch, the sections) wait until the command runs, so `python -m paramembed --help`
does not pay for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paramembed.bench.sections import SECTIONS
from paramembed.errors import ParamembedError
from paramembed.methods import TRAINABLE

ROOT = Path(__file__).resolve().parents[2]


def parse_models(items: list[str]) -> dict[str, str]:
    """`--model NAME=FOLDER` items -> {NAME: FOLDER}, NAME one of the trainable methods."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in TRAINABLE:
            raise ParamembedError(f"--model wants NAME=FOLDER with NAME one of {', '.join(TRAINABLE)}; got {item!r}")
        out[name] = path
    return out


def bench(args: argparse.Namespace) -> None:
    if args.tasks < 2:
        raise ParamembedError(f"--tasks must be at least 2, got {args.tasks}")
    if args.app_repeats < 1:
        raise ParamembedError(f"--app-repeats must be at least 1, got {args.app_repeats}")
    from paramembed.config_checks import check_threads, check_writable_file

    check_threads(args.threads)
    out = check_writable_file(args.json, "--json")
    import torch

    from paramembed.bench.report import format_report
    from paramembed.bench.run import run_bench

    if args.threads:
        torch.set_num_threads(args.threads)
    report = run_bench(
        tasks=args.tasks, queries=args.queries, quick=args.quick, device=args.device,
        model_overrides=parse_models(args.model), sections=tuple(args.only or SECTIONS), app_repeats=args.app_repeats,
        log=lambda s: print(f"[bench] {s}", file=sys.stderr, flush=True),
    )
    print(format_report(report))
    try:
        out.write_text(json.dumps(report, indent=2))
    except OSError as err:
        raise ParamembedError(f"--json {args.json!r} cannot be written ({err.strerror or err})") from None
    print(f"wrote {out}")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure adaptation, meta-training, data and app speed side by side; prints a table, writes JSON")
    p.add_argument("--tasks", type=int, default=100, help="tasks per shape for the adaptation rows (100: about a minute of MAML on a CPU)")
    p.add_argument("--queries", type=int, default=10, help="queries per class for the accuracies")
    p.add_argument("--quick", action="store_true", help="short timing windows and loops: for tests, figures are rough")
    p.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                   help=f"use this folder for generator NAME ({', '.join(TRAINABLE)}) instead of the shipped model; repeatable")
    p.add_argument("--only", action="append", choices=list(SECTIONS), help="run only these sections (repeatable; default all)")
    p.add_argument("--app-repeats", type=int, default=3,
                   help="fresh app processes for the cold page figures (3: a median that one slow start cannot move)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); 1 gives steadier latencies on a busy machine")
    p.add_argument("--json", default=str(ROOT / "runs" / "bench" / "bench.json"), help="where the JSON report goes")
    p.set_defaults(func=bench)
