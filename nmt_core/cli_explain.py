"""The explainer commands: ``inspect`` (attention, gates and gradient flow of one sentence as JSON), ``lesson``
(one sentence, every view, one offline HTML file) and ``replay`` (what a run's snapshots show for chosen sentences,
stored beside a checkpoint so a shipped model carries its replay).

Kept apart from ``cli.py`` (data, training, decoding) so each file holds one family of commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .limits import check

MAX_REPLAY_SENTENCES = 32  # a shipped replay file stays a few hundred KB


def cmd_lesson(args: argparse.Namespace) -> int:
    """Write the lesson file of one sentence; its notices (unknown words, a cut) go to stderr."""
    from .inspection.training_replay import load_json
    from .lesson import lesson_html, make_lesson
    from .translator import Translator

    check("attribution_steps", args.ig_steps, "--ig-steps")
    check("beam_size", args.beam_size, "--beam-size")
    translator = Translator.from_path(args.checkpoint, args.device)
    for notice in translator.prepare(args.src).notices:
        print(f"notice: {notice.message}", file=sys.stderr)
    stored = Path(args.checkpoint).with_suffix(".replay.json")
    replay = next((r for r in load_json(stored) if r.sentence == args.src), None) if stored.is_file() else None
    page = lesson_html(make_lesson(translator, args.src, beam_size=args.beam_size, ig_steps=args.ig_steps,
                                   replay=replay))
    Path(args.out).write_text(page, encoding="utf-8")
    extra = ", with its training replay" if replay else ""
    print(f"wrote {args.out} ({len(page.encode('utf-8')) / 1e6:.1f} MB{extra})")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay each sentence through a run's snapshots and store the result (``<checkpoint>.replay.json``)."""
    from .checkpoint import load_checkpoint
    from .inspection.training_replay import save_json, training_replay
    from .snapshots import list_snapshots

    if not 1 <= args.max_sentences <= MAX_REPLAY_SENTENCES:
        raise ValueError(f"--max-sentences must be in 1..{MAX_REPLAY_SENTENCES} (each adds every snapshot's "
                         "attention and gradients to the file)")
    run = Path(args.run_dir)
    final = load_checkpoint(args.checkpoint or run / "best.pt", "cpu")
    snapshots = [s.load() for s in list_snapshots(run) if s.step < final.step]
    foreign = [s.step for s in snapshots if s.config.model != final.config.model
               or s.tokenizers.src.vocab_size != final.tokenizers.src.vocab_size
               or s.tokenizers.tgt.vocab_size != final.tokenizers.tgt.vocab_size]
    if foreign:
        raise ValueError(f"the snapshots at steps {foreign} are of another model than the final checkpoint")
    if not snapshots:
        raise ValueError(f"{run} has no snapshots before step {final.step}: train with train.snapshots > 0")
    sentences = [line.strip() for line in Path(args.sentences).read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")][: args.max_sentences]
    replays = []
    for sentence in sentences:
        try:
            replays.append(training_replay(snapshots, final, sentence))
        except ValueError as err:  # e.g. the final model translates it to nothing: say so, keep the others
            print(f"skipped {sentence!r}: {err}", file=sys.stderr)
    if not replays:
        raise ValueError("no sentence could be replayed")
    save_json(replays, args.out)
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out}: {len(replays)} sentences x {len(snapshots) + 1} frames, {size / 1e3:.0f} KB")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Attention, gates and gradient flow for one sentence, as JSON (``nmt_core.inspection``)."""
    from .checkpoint import load_checkpoint
    from .inspection import inspect_sentence

    bundle = inspect_sentence(load_checkpoint(args.checkpoint, "cpu"), args.src, args.tgt)
    for notice in bundle["notices"]:
        print(f"notice: {notice['message']}", file=sys.stderr)
    text = json.dumps(bundle, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def explainer_commands(sub) -> None:
    """inspect, lesson, replay."""
    p = sub.add_parser("inspect", help="attention, gates and gradient flow for one sentence, as JSON")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--src", required=True, help="source sentence")
    p.add_argument("--tgt", help="target to teacher-force on (default: the model's greedy translation)")
    p.add_argument("--out", help="write the JSON here (default: stdout)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("lesson", help="every view of one sentence as one HTML file that opens offline")
    p.add_argument("checkpoint")
    p.add_argument("src", help="the source sentence")
    p.add_argument("--out", default="lesson.html")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--ig-steps", type=int, default=16, help="integrated gradients' path steps (1-256)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_lesson)

    p = sub.add_parser("replay", help="store what a run's snapshots show for chosen sentences beside a checkpoint")
    p.add_argument("run_dir", help="a training run with snapshots (train.snapshots > 0)")
    p.add_argument("sentences", help="a text file: one source sentence per line ('#' lines are skipped)")
    p.add_argument("--checkpoint", help="the final model (default: the run's best.pt)")
    p.add_argument("--out", required=True, help="e.g. checkpoints/toy-en-es.replay.json")
    p.add_argument("--max-sentences", type=int, default=12)
    p.set_defaults(func=cmd_replay)
