"""Command line: ``python -m nmt_core {data,train,translate,evaluate} ...``.

Each subcommand is a thin shell over a core function; user errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

from .beam_trace import write_traces
from .checkpoint import CheckpointError
from .cli_explain import explainer_commands
from .cli_fast import add_fast_options, fast_commands, report_fast_mode
from .config import ConfigError, DataConfig, load_config
from .corpus import CorpusError
from .fast_mode import FastMode
from .threads import ThreadGovernor
from .tokenizer import TokenizerError

#: The command-line names of the decoding options, for messages.
FLAGS = {"beam_size": "--beam-size", "nbest": "--nbest", "max_ratio": "--max-ratio", "alpha": "--alpha",
         "batch_size": "--batch-size"}
#: Set in the environment of a training the studio starts (``jobs.py``).
STUDIO_JOB = "NMT_STUDIO_JOB"

USER_ERRORS = (CheckpointError, ConfigError, CorpusError, TokenizerError, FileNotFoundError, ValueError)


def cmd_data(args: argparse.Namespace) -> int:
    """Generate a built-in task and write its splits exactly as training would split it."""
    from . import corpus, tasks
    from .splits import split, write_splits

    defaults = DataConfig()
    options = dict(kv.split("=", 1) for kv in args.option)
    options = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in options.items()}
    pairs = tasks.generate(args.task, size=args.size, seed=args.seed, **options)
    cleaned, _ = corpus.clean(pairs, min_len=defaults.min_len, max_len=defaults.max_len)
    splits = split(cleaned, dev_size=args.dev_size, test_size=args.test_size, seed=args.seed)
    write_splits(splits, args.out)
    print(f"wrote {len(splits.train)} train, {len(splits.dev)} dev, {len(splits.test)} test pairs to {args.out}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    """Write a config's train/dev/test pairs exactly as training makes them (the files ``evaluate`` reads)."""
    from .data import export_splits

    cfg = load_config(args.config, args.set)
    splits, report, _ = export_splits(cfg.data, args.out)
    print(json.dumps({"out": str(args.out), **splits.sizes(), "held_out": report["held_out"],
                      "sources": report["sources"]}))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """A shareable copy of a checkpoint: no optimizer state, weights in float32, float16 or int8."""
    from .checkpoint import compact_payload, read_payload, save_checkpoint

    payload = compact_payload(read_payload(args.source), args.weights)
    if args.examples:
        lines = [line.strip() for line in Path(args.examples).read_text(encoding="utf-8").splitlines()]
        payload["examples"] = [line for line in lines if line][:12]
    if args.test_sample:
        from .config import ExperimentConfig
        from .data import make_splits

        splits, report = make_splits(ExperimentConfig.from_dict(payload["config"]).data)
        n = min(args.test_sample, len(splits.test))
        payload["test_sample"] = {"src": splits.test.src[:n], "tgt": splits.test.tgt[:n],
                                  "source": f"the first {n} pairs of the test split ({report['sources']['test']})"}
    if args.attribution:
        payload["attribution"] = args.attribution
    save_checkpoint(payload, args.target)
    size = Path(args.target).stat().st_size
    print(json.dumps({"target": str(args.target), "weights": args.weights, "bytes": size}))
    return 0


def data_overrides(args: argparse.Namespace) -> list[str]:
    """``--dev SRC TGT`` / ``--test SRC TGT`` as config overrides (user files instead of carved splits)."""
    out = []
    for part in ("dev", "test"):
        files = getattr(args, part, None)
        if files:
            spec = {"format": "parallel", "src_path": files[0], "tgt_path": files[1]}
            out.append(f"data.{part}_corpus={json.dumps(spec)}")
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from .distributed import cleanup, launched_by_torchrun
    from .runs import RunDir, run_path
    from .train import Trainer, TrainingError

    run_dir = Path(args.run_dir) if args.run_dir else None
    try:
        cfg = load_config(args.config, args.set + data_overrides(args))
        run_dir = run_dir or run_path("runs", cfg.name)  # a config's name cannot escape runs/
        if os.environ.get("RANK", "0") == "0":  # [distributed] only rank 0 writes into the run folder
            RunDir(run_dir).remove_temp_files()  # half-written checkpoints of a killed predecessor
            if not os.environ.get(STUDIO_JOB):  # started by hand: a STOP left by an earlier run is stale
                RunDir(run_dir).clear_stop()   # (the studio clears it itself, before it starts the process)
        result = Trainer(cfg, run_dir, resume=args.resume, device=args.device).train()
    except Exception as err:
        # Unusable data, a corrupt last.pt, a full disk...: say so in status.json, or the studio could only
        # report that the process "died". main() prints user errors in one line; others keep their traceback.
        _report_failure(run_dir, err)
        if isinstance(err, TrainingError):
            print(f"error: {err}", file=sys.stderr)
            return 1
        if isinstance(err, OSError):  # a full disk, a read-only folder: the user's to fix, in one line
            print(f"error: cannot write in {run_dir}: {err.strerror or err}", file=sys.stderr)
            return 1
        raise
    finally:
        cleanup()  # [distributed] leave the torchrun process group, if any
    if launched_by_torchrun() and os.environ["RANK"] != "0":
        return 0 if result.state != "failed" else 1  # rank 0 alone reports
    print(json.dumps({"run_dir": str(result.run_dir), "state": result.state, "message": result.message,
                      "step": result.step, "best_bleu": result.best_bleu}))
    return 0 if result.state != "failed" else 1


def _report_failure(run_dir: Path | None, err: Exception) -> None:
    """Write state "failed" with the error into an existing run folder's status.json, unless this process
    already did (the trainer reports its own failures). Best effort: on a full disk the log keeps it."""
    from .runs import RunDir

    if run_dir is None or not Path(run_dir).is_dir() or os.environ.get("RANK", "0") != "0":
        return
    run = RunDir(run_dir)
    previous = run.read_status() or {}
    if previous.get("state") == "failed" and previous.get("pid") == os.getpid():
        return
    message = str(err) if isinstance(err, USER_ERRORS) else f"{type(err).__name__}: {err}"
    kept = {k: v for k, v in previous.items() if k not in ("state", "pid", "updated_at", "message")}
    try:
        run.write_status("failed", **{**kept, "message": message})
    except OSError:  # a full disk: an old "finished" must not stay as if this attempt had not happened
        with contextlib.suppress(OSError):
            run.status_file.unlink(missing_ok=True)


def _decoding(args: argparse.Namespace) -> dict:
    """The decoding options shared by translate and evaluate, as Translator keyword arguments."""
    return {"beam_size": args.beam_size, "length_penalty": args.length_penalty, "alpha": args.alpha,
            "max_ratio": args.max_ratio, "prefix": args.prefix, "stopping": args.stopping,
            "fast": FastMode(int8=args.int8, shortlist=args.shortlist)}


def read_input_lines() -> list[str]:
    """stdin as lines. Bytes that are not UTF-8 become lone surrogates here (``surrogateescape``) and
    U+FFFD in the translator, which says so in a notice: one bad byte must not abort a whole file. LF, CRLF
    and CR alone all end a line, as in the corpus readers."""
    stream = sys.stdin
    raw = getattr(stream, "buffer", None)  # a text-only stream (a notebook, a test) has no bytes to decode
    text = raw.read().decode("utf-8", errors="surrogateescape") if raw is not None else stream.read()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def report_notices(translator, lines: list[str]) -> None:
    """One stderr line per input line that the model does not read as it was written (notices.py)."""
    from .notices import one_line

    for n, line in enumerate(lines, start=1):
        notices = translator.prepare(line).notices
        if notices:
            print(f"notice: line {n}: {one_line(notices)}", file=sys.stderr)


def cmd_translate(args: argparse.Namespace) -> int:
    from .translator import Translator, check_decoding

    check_decoding(FLAGS, beam_size=args.beam_size, nbest=args.nbest, max_ratio=args.max_ratio, alpha=args.alpha,
                   batch_size=args.batch_size)  # before reading anything: a bad flag is the first thing to say
    governor = ThreadGovernor.for_setting(args.threads, "--threads")  # fewer threads while others need the cores
    translator = Translator.from_path(args.checkpoint, args.device)
    report_fast_mode(translator, _decoding(args)["fast"])
    lines = read_input_lines()
    report_notices(translator, lines)
    if args.nbest == 1 and not args.trace:
        for out in translator.translate(lines, batch_size=args.batch_size, after_batch=governor.update,
                                        **_decoding(args)):
            print(out)
        return 0
    results = translator.decode(lines, nbest=args.nbest, record=bool(args.trace), trace=bool(args.trace),
                                batch_size=args.batch_size, after_batch=governor.update, **_decoding(args))
    for i, (line, result) in enumerate(zip(lines, results)):
        if args.nbest == 1:
            print(result.best.text if result.hypotheses and line.strip() else "")
            continue
        for rank, hyp in enumerate(result.hypotheses, start=1):  # index, rank, score, logprob, text
            print(f"{i}\t{rank}\t{hyp.score:.4f}\t{hyp.logprob:.4f}\t{hyp.text}")
    if args.trace:
        write_traces(args.trace, args.checkpoint, lines, results)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .corpus import read_parallel
    from .evaluation import corpus_scores
    from .translator import Translator, check_decoding

    check_decoding(FLAGS, beam_size=args.beam_size, max_ratio=args.max_ratio, alpha=args.alpha,
                   batch_size=args.batch_size)
    governor = ThreadGovernor.for_setting(args.threads, "--threads")
    fast = _decoding(args)["fast"]
    if args.record and not fast.exact:  # the model card's scores are the exact model's
        raise ValueError("--record stores the model's own score: evaluate without --int8/--shortlist to record")
    pairs = read_parallel(args.src, args.ref)
    translator = Translator.from_path(args.checkpoint, args.device)
    report_fast_mode(translator, fast)
    affected = Counter(n.kind for s in pairs.src for n in translator.prepare(s).notices)
    if affected:
        print(f"notice: {args.src}: " + ", ".join(f"{k}: {v} line(s)" for k, v in sorted(affected.items()))
              + " (see `translate` for each line)", file=sys.stderr)
    if args.trace:
        results = translator.decode(pairs.src, record=True, batch_size=args.batch_size, after_batch=governor.update,
                                    **_decoding(args))
        hyps = [r.best.text if r.hypotheses else "" for r in results]
        write_traces(args.trace, args.checkpoint, pairs.src, results)
    else:
        hyps = translator.translate(pairs.src, batch_size=args.batch_size, after_batch=governor.update,
                                    **_decoding(args))
    if args.hyp_out:
        Path(args.hyp_out).write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    result = {**corpus_scores(hyps, pairs.tgt), "checkpoint": str(args.checkpoint), "beam_size": args.beam_size,
              "length_penalty": args.length_penalty, "alpha": args.alpha, "stopping": args.stopping,
              "fast": translator.fast_models.describe(_decoding(args)["fast"]), "src": str(args.src),
              "ref": str(args.ref)}
    if args.record:
        from .checkpoint import record_evaluation

        record_evaluation(args.checkpoint, {**result, "checkpoint": None, "notices": dict(affected)},
                          pairs.src, pairs.tgt)
    print(json.dumps(result))
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    """Run one teaching lab and write its tables as CSV (``nmt_core.labs``)."""
    from .device import set_threads
    from .labs import run_lab

    set_threads(args.threads)
    result = run_lab(args.name, budget=args.budget, out_dir=args.out, seed=args.seed,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({"lab": result.name, "budget": result.budget, "out": str(args.out),
                      "tables": sorted(result.tables), "info": result.info}, default=str))
    return 0


def _add_decoding_options(p: argparse.ArgumentParser) -> None:
    """Options of translate and evaluate (see docs/beam-trace.md)."""
    p.add_argument("--beam-size", "--beam", type=int, default=1, dest="beam_size",
                   help="beam size k (default 1: greedy, the fast path)")
    p.add_argument("--length-penalty", choices=("none", "norm", "gnmt"), default="none",
                   help="rank hypotheses by logprob (none), logprob/length (norm) or logprob/((5+len)/6)^alpha "
                        "(gnmt); default none")
    p.add_argument("--alpha", type=float, default=0.6, help="exponent of the gnmt penalty (default 0.6)")
    p.add_argument("--max-ratio", type=float, default=2.0,
                   help="output at most ratio * source length + 5 pieces (default 2.0)")
    p.add_argument("--stopping", choices=("exact", "heuristic", "never"), default="exact",
                   help="when beam search stops a sentence: exact (no live hypothesis can still win; default), "
                        "heuristic (none can win at its next length: faster with a length penalty, what most "
                        "toolkits do) or never (run to the length cap)")
    p.add_argument("--prefix", help="force every translation to start with this target text")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: the physical cores, fewer while other "
                   "processes use them; see docs/training.md, Threads)")
    add_fast_options(p)
    p.add_argument("--trace", metavar="FILE.json",
                   help="write the search trace of every input, with attention and rejected continuations")


def _data_commands(sub) -> None:
    """data, split: write train/dev/test files."""
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

    p = sub.add_parser("split", help="write a config's train/dev/test files exactly as training splits them")
    p.add_argument("config")
    p.add_argument("--out", required=True, help="output directory for {train,dev,test}.{src,tgt}")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.set_defaults(func=cmd_split)


def _training_commands(sub) -> None:
    """train, export: make a model and a shareable file of it."""
    p = sub.add_parser("train", help="train a model from a YAML config")
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set model.hidden_size=128")
    p.add_argument("--run-dir", help="run directory (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from <run-dir>/last.pt")
    p.add_argument("--device", help="cpu | cuda | mps | cuda:N (default: the config's, auto)")
    p.add_argument("--dev", nargs=2, metavar=("SRC", "TGT"), help="your own dev files (instead of carving a dev "
                   "split from the corpus)")
    p.add_argument("--test", nargs=2, metavar=("SRC", "TGT"), help="your own test files (kept out of training)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="a shareable checkpoint: no training state, weights float32/float16/int8")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--weights", choices=("float32", "float16", "int8"), default="int8",
                   help="int8: a quarter of the float32 size, one scale per matrix row (default)")
    p.add_argument("--examples", metavar="FILE", help="example sentences for the studio's chips, one per line")
    p.add_argument("--test-sample", type=int, default=0, metavar="N",
                   help="store the first N test pairs (from the checkpoint's own data config; needs the corpus) so "
                        "the studio can score the model without the corpus")
    p.add_argument("--attribution", help="data licence and attribution shown on the model card")
    p.set_defaults(func=cmd_export)


def _decoding_commands(sub) -> None:
    """translate, evaluate: use a trained model."""
    p = sub.add_parser("translate", help="translate lines from stdin to stdout")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    _add_decoding_options(p)
    p.add_argument("--nbest", type=int, default=1,
                   help="print the N best translations per input as index<TAB>rank<TAB>score<TAB>logprob<TAB>text")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("evaluate", help="BLEU and chrF (sacrebleu) on a source/reference file pair")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--hyp-out", help="also write the translations here")
    p.add_argument("--record", action="store_true",
                   help="store the scores, the data they were measured on and the settings in the checkpoint's "
                        "model card")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    _add_decoding_options(p)
    p.set_defaults(func=cmd_evaluate)


def _lab_command(sub) -> None:
    """lab: run a teaching experiment."""
    from .labs import BUDGETS, LABS

    p = sub.add_parser("lab", help="run a teaching lab and write its tables as CSV")
    p.add_argument("name", choices=sorted(LABS), help="which lab")
    p.add_argument("--budget", default="small", choices=BUDGETS,
                   help="small: a few minutes on a laptop CPU (default); full: the classroom-quality run")
    p.add_argument("--out", default="labs", help="output directory for the CSV files (default labs/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: small recurrent models run fastest on one thread)")
    p.set_defaults(func=cmd_lab)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nmt_core", description="NMT Studio core: data, training, "
                                     "translation and evaluation of recurrent seq2seq models.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_data_commands, _training_commands, _decoding_commands, _lab_command, explainer_commands,
                fast_commands):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
