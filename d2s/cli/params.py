"""``d2s params MODEL``: parameter count of a model's inference form."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "params",
        help="print a model's inference parameter count",
        description="Print the inference parameter count of MODEL (last line: the integer). "
        "Built offline with random weights; D2S counts exclude the training-only projection "
        "and the text encoder.",
    )
    p.add_argument("model", help="model name, e.g. d2s-r18, d2s-r50")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.registry import build, count_parameters, model_names

    if args.model not in model_names():
        raise CLIError(f"unknown model {args.model!r}; known: {', '.join(model_names())}")
    model = build(args.model, pretrained=False)
    n = count_parameters(model)
    print(f"{args.model}: {n / 1e6:.2f}M parameters (inference model)")
    print(n)
    return 0
