"""Lab: greedy decoding vs beam search. Where does committing to the locally best word go wrong?

A model (a given checkpoint, or one trained here on the budget) decodes the dev split twice: greedy
(``beam_search`` with k = 1, the same step function) and beam search with k = ``beam_size``, both with
no length penalty so that "score" is the model's log-probability of the whole output. For every
sentence where the two differ, the lab finds the first output position t where they part: both share
the prefix y_<t, greedy took its argmax there (the higher *local* log-probability) and beam search took
another word that leads to a higher *total* log-probability (or, rarely, a lower one: beam search is
not exact either). Sentence BLEU (sacrebleu) against the reference says whether the better-scoring
output is also the better translation.

Tables: ``sentences`` (every dev sentence), ``wins`` (those where beam's log-probability beats greedy's,
largest gain first) and ``summary`` (counts and corpus BLEU of both).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import sacrebleu
import torch

from ..batching import make_batch, sorted_batches
from ..checkpoint import Checkpoint, load_checkpoint
from ..search import beam_search
from .common import LabResult, Progress, Stopwatch, say, work_folder
from .variants import BUDGETS, Seq2SeqBudget, base_config, bleu, dev_split, train_variant

DEV_SENTENCES = {"tiny": 20, "small": 200, "full": 500}


def run(budget: str | Seq2SeqBudget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
        task: str = "toy-en-es", checkpoint: str | Path | None = None, beam_size: int = 5) -> LabResult:
    """Compare greedy and beam decoding on dev sentences (of ``task``, or of the checkpoint's own data)."""
    name = budget if isinstance(budget, str) else "custom"
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    clock = Stopwatch()
    with work_folder(work_dir) as folder:
        if checkpoint is None:
            trained = train_variant(base_config("greedy-vs-beam", task, b, seed), folder, progress)
            checkpoint = trained.checkpoint
        ckpt = load_checkpoint(checkpoint, "cpu")
    dev = _dev_pairs(ckpt, DEV_SENTENCES.get(name, 200))
    sentences = pd.DataFrame(compare(ckpt, dev.src, dev.tgt, beam_size=beam_size))
    wins, summary = summarise(sentences, beam_size)
    say(progress, f"greedy-vs-beam: {summary.iloc[0].to_dict()}")
    tables = {"wins": wins, "sentences": sentences, "summary": summary}
    info = {"task": ckpt.config.data.task, "beam_size": beam_size, "length_penalty": "none",
            "checkpoint": str(checkpoint) if work_dir is not None else None,
            "budget_settings": asdict(b), "seconds": clock.seconds()}
    return LabResult("greedy-vs-beam", name, tables, "wins", info)


def summarise(sentences: pd.DataFrame, beam_size: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sentences where beam's log-probability beats greedy's (largest gain first), and the counts and
    corpus BLEU of both (references from the ``ref`` column)."""
    wins = sentences[sentences.beam_logprob > sentences.greedy_logprob + 1e-6].copy()
    wins["gain"] = wins.beam_logprob - wins.greedy_logprob
    wins = wins.sort_values("gain", ascending=False, ignore_index=True)
    summary = pd.DataFrame([{
        "sentences": len(sentences), "beam_size": beam_size, "different_output": int(sentences.differs.sum()),
        "beam_higher_logprob": int(len(wins)),
        "beam_lower_logprob": int((sentences.beam_logprob < sentences.greedy_logprob - 1e-6).sum()),
        "beam_better_bleu": int((sentences.beam_bleu > sentences.greedy_bleu).sum()),
        "greedy_better_bleu": int((sentences.greedy_bleu > sentences.beam_bleu).sum()),
        "greedy_corpus_bleu": bleu(sentences.greedy, sentences.ref),
        "beam_corpus_bleu": bleu(sentences.beam, sentences.ref),
    }])
    return wins, summary


def _dev_pairs(ckpt: Checkpoint, limit: int):
    dev = dev_split(ckpt.config)
    return dev.select(range(min(limit, len(dev))))


@torch.no_grad()
def compare(ckpt: Checkpoint, src: list[str], refs: list[str], *, beam_size: int = 5) -> list[dict]:
    """One row per sentence: both outputs, their log-probabilities and sentence BLEU, and the first
    step where they differ with the word each chose there and its log-probability."""
    model, tok = ckpt.model, ckpt.tokenizers
    ids = [tok.src.encode(s)[:200] for s in src]
    rows: list[dict] = [{}] * len(src)
    for index in sorted_batches([len(x) for x in ids], 32):
        batch = make_batch([ids[i] for i in index])
        greedy = beam_search(model, batch.src, batch.src_lengths, beam_size=1)
        beam = beam_search(model, batch.src, batch.src_lengths, beam_size=beam_size)
        for i, g, k in zip(index, greedy, beam):
            rows[i] = _row(src[i], refs[i], g.best, k.best, tok.tgt)
    return rows


def _row(src: str, ref: str, g, k, tgt_tok) -> dict:
    greedy_text, beam_text = tgt_tok.decode(g.output_ids), tgt_tok.decode(k.output_ids)
    step = next((t for t, (a, b) in enumerate(zip(g.tokens, k.tokens)) if a != b), None)
    if step is None and len(g.tokens) != len(k.tokens):
        step = min(len(g.tokens), len(k.tokens))
    piece = lambda toks: tgt_tok.id_to_piece(toks[step]) if step is not None and step < len(toks) else None  # noqa: E731
    logp = lambda h: float(h.token_logprobs[step]) if step is not None and step < len(h.tokens) else None  # noqa: E731
    return {"src": src, "ref": ref, "greedy": greedy_text, "beam": beam_text,
            "greedy_logprob": float(g.logprob), "beam_logprob": float(k.logprob),
            "greedy_bleu": round(sacrebleu.sentence_bleu(greedy_text, [ref]).score, 2),
            "beam_bleu": round(sacrebleu.sentence_bleu(beam_text, [ref]).score, 2),
            "differs": g.tokens != k.tokens, "first_diff_step": step,
            "greedy_word": piece(g.tokens), "beam_word": piece(k.tokens),
            "greedy_word_logprob": logp(g), "beam_word_logprob": logp(k)}
