"""The fast-mode command: ``shortlist`` builds a checkpoint's lexical shortlist from its training data and stores
it in the checkpoint, so ``--shortlist`` (CLI) and the studio's fast-mode toggle can use it.

Kept apart from ``cli.py`` so each file holds one family of commands; the decoding flags themselves
(``--int8``, ``--shortlist``) live with the other decoding options in ``cli.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .limits import check


def cmd_shortlist(args: argparse.Namespace) -> int:
    """Read the training pairs, build the shortlist with the checkpoint's own tokenizers, write the checkpoint
    (atomically, to ``--out`` or in place) and print its size and coverage as JSON."""
    from .checkpoint import checkpoint_from_payload, read_payload, save_checkpoint
    from .corpus import read_parallel
    from .shortlist import shortlist_from_text

    check("shortlist_frequent", args.frequent, "--frequent")
    check("shortlist_per_source", args.per_source, "--per-source")
    payload = read_payload(args.checkpoint)
    ckpt = checkpoint_from_payload(payload, Path(args.checkpoint))
    pairs = read_parallel(args.src, args.tgt)
    start = time.perf_counter()
    cfg = ckpt.config.model
    shortlist = shortlist_from_text(ckpt.tokenizers, cfg.src_vocab_size, cfg.tgt_vocab_size, pairs.src, pairs.tgt,
                                    frequent=args.frequent, per_source=args.per_source)
    sizes = [len(shortlist.for_sources([ckpt.tokenizers.src.encode(s)])) for s in pairs.src[:2000]]
    summary = {**shortlist.settings, "entries": int(len(shortlist.targets)), "seconds": round(time.perf_counter()
               - start, 1), "mean_ids_per_sentence": round(sum(sizes) / max(len(sizes), 1), 1),
               "tgt_vocab_size": cfg.tgt_vocab_size, "data": f"{args.src} + {args.tgt}"}
    out = Path(args.out or args.checkpoint)
    save_checkpoint({**payload, "shortlist": {**shortlist.to_payload(), "settings": summary}}, out)
    print(json.dumps({"checkpoint": str(out), **summary}))
    return 0


def add_fast_options(p: argparse.ArgumentParser) -> None:
    """``--int8`` and ``--shortlist`` on translate and evaluate."""
    p.add_argument("--int8", action="store_true", help="fast mode: int8 decoder matrices (CPU; docs/benchmarks.md)")
    p.add_argument("--shortlist", action="store_true",
                   help="fast mode: score only the checkpoint's lexical shortlist (`shortlist` command adds one)")


def report_fast_mode(translator, fast) -> None:
    """One stderr line with what fast mode approximates: an approximation is never silent."""
    if not fast.exact:
        print(f"fast mode: {json.dumps(translator.fast_models.describe(fast))}", file=sys.stderr)


def fast_commands(sub) -> None:
    """shortlist: prepare a checkpoint for ``--shortlist``."""
    p = sub.add_parser("shortlist", help="build a lexical shortlist from training pairs and store it in a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--src", required=True, help="training source file, one sentence per line")
    p.add_argument("--tgt", required=True, help="training target file, aligned with --src")
    p.add_argument("--frequent", type=int, default=200, help="most frequent target pieces always kept (default 200)")
    p.add_argument("--per-source", type=int, default=10,
                   help="target pieces kept per source piece, by Dice coefficient (default 10)")
    p.add_argument("--out", help="write here instead of replacing the checkpoint")
    p.set_defaults(func=cmd_shortlist)
