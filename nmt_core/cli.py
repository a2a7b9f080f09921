"""Command line: ``python -m nmt_core {data,train,translate,evaluate} ...``.

Each subcommand is a thin shell over a core function; user errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .checkpoint import CheckpointError
from .config import ConfigError, DataConfig, load_config
from .corpus import CorpusError
from .tokenizer import TokenizerError

USER_ERRORS = (CheckpointError, ConfigError, CorpusError, TokenizerError, FileNotFoundError, ValueError)


def cmd_data(args: argparse.Namespace) -> int:
    """Generate a built-in task and write its splits exactly as training would split it."""
    from . import corpus, tasks

    defaults = DataConfig()
    options = dict(kv.split("=", 1) for kv in args.option)
    options = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in options.items()}
    pairs = tasks.generate(args.task, size=args.size, seed=args.seed, **options)
    cleaned, _ = corpus.clean(pairs, min_len=defaults.min_len, max_len=defaults.max_len)
    splits = corpus.split(cleaned, dev_size=args.dev_size, test_size=args.test_size, seed=args.seed)
    corpus.write_splits(splits, args.out)
    print(f"wrote {len(splits.train)} train, {len(splits.dev)} dev, {len(splits.test)} test pairs to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import Trainer, TrainingError

    cfg = load_config(args.config, args.set)
    run_dir = Path(args.run_dir or Path("runs") / cfg.name)
    try:
        result = Trainer(cfg, run_dir, resume=args.resume, device=args.device).train()
    except TrainingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"run_dir": str(result.run_dir), "state": result.state, "message": result.message,
                      "step": result.step, "best_bleu": result.best_bleu}))
    return 0 if result.state != "failed" else 1


def cmd_translate(args: argparse.Namespace) -> int:
    from .translator import Translator

    translator = Translator.from_path(args.checkpoint, args.device)
    lines = [line.rstrip("\n") for line in sys.stdin]
    for out in translator.translate(lines, batch_size=args.batch_size):
        print(out)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .corpus import read_parallel
    from .translator import Translator, corpus_scores

    pairs = read_parallel(args.src, args.ref)
    translator = Translator.from_path(args.checkpoint, args.device)
    hyps = translator.translate(pairs.src, batch_size=args.batch_size)
    if args.hyp_out:
        Path(args.hyp_out).write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    print(json.dumps({**corpus_scores(hyps, pairs.tgt), "checkpoint": str(args.checkpoint)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nmt_core", description="NMT Studio core: data, training, "
                                     "translation and evaluation of recurrent seq2seq models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="write a built-in task's train/dev/test files")
    p.add_argument("task", help="toy-en-es | dates | numbers-de | recall")
    p.add_argument("--out", required=True, help="output directory")
    d = DataConfig()
    p.add_argument("--size", type=int, default=d.size, help=f"pairs to generate (default {d.size})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"generation and split seed (default {d.seed})")
    p.add_argument("--dev-size", type=int, default=d.dev_size)
    p.add_argument("--test-size", type=int, default=d.test_size)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="task option, e.g. --option lag=20 for recall")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a model from a YAML config")
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set model.hidden_size=128")
    p.add_argument("--run-dir", help="run directory (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from <run-dir>/last.pt")
    p.add_argument("--device", help="cpu | cuda | mps | cuda:N (default: the config's, auto)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("translate", help="translate lines from stdin to stdout")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("evaluate", help="BLEU and chrF (sacrebleu) on a source/reference file pair")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--hyp-out", help="also write the translations here")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
