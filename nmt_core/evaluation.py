"""Scores: BLEU and chrF from sacrebleu, and the validation the trainer runs on the dev split.

Why sacrebleu and never our own BLEU: scores must be comparable with every paper and toolkit that reports
"sacreBLEU" (13a tokenisation, one reference), and tests/test_translator_cli.py checks ours against it.
"""

from __future__ import annotations

import math
from typing import Any

import sacrebleu
import torch

from .batching import make_batch, sorted_batches
from .config import ExperimentConfig
from .data import PreparedData
from .device import autocast
from .model import Seq2Seq
from .search import greedy_search


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """BLEU and chrF from sacrebleu (the reference implementation; never re-implemented here)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    # force=True: our corpora are whitespace-tokenised on purpose (word-level tokenizers, attention over
    # words); sacrebleu's 13a tokenisation still applies, the flag only silences its warning about that.
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], force=True)
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2), "sentences": len(hypotheses)}


@torch.no_grad()
def validate(model: Seq2Seq, data: PreparedData, cfg: ExperimentConfig, device: torch.device) -> dict[str, Any]:
    """Dev loss/perplexity on the whole dev split; greedy BLEU/chrF on the first N dev sentences."""
    was_training = model.training
    model.eval()
    total, tokens = torch.zeros((), device=device), torch.zeros((), device=device)
    for index in sorted_batches([len(s) for s in data.dev_src], 128):
        batch = make_batch([data.dev_src[i] for i in index], [data.dev_tgt[i] for i in index]).to(device)
        with autocast(device, cfg.train.amp):
            loss, n = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        total += loss.float()
        tokens += n
    dev_loss = (total / tokens.clamp(min=1)).item()
    scores, hyps, refs = dev_bleu(model, data, cfg, device, cfg.train.dev_bleu_sentences)
    samples = [{"src": data.splits.dev.src[i], "ref": refs[i], "hyp": hyps[i]} for i in range(min(4, len(hyps)))]
    model.train(was_training)
    return {"dev_loss": dev_loss, "dev_ppl": math.exp(min(dev_loss, 50.0)), "bleu": scores["bleu"],
            "chrf": scores["chrf"], "samples": samples}


@torch.no_grad()
def dev_bleu(model: Seq2Seq, data: PreparedData, cfg: ExperimentConfig, device: torch.device,
             sentences: int) -> tuple[dict[str, float], list[str], list[str]]:
    """Greedy BLEU/chrF on the first ``sentences`` dev sentences: (scores, hypotheses, references)."""
    was_training = model.training
    model.eval()
    n_bleu = min(sentences, len(data.dev_src))
    hyps = [""] * n_bleu
    for index in sorted_batches([len(s) for s in data.dev_src[:n_bleu]], 128):
        batch = make_batch([data.dev_src[i] for i in index]).to(device)
        for i, ids in zip(index, greedy_search(model, batch.src, batch.src_lengths,
                                               max_ratio=cfg.train.max_decode_ratio)):
            hyps[i] = data.tokenizers.tgt.decode(ids)
    refs = data.splits.dev.tgt[:n_bleu]
    model.train(was_training)
    return corpus_scores(hyps, refs), hyps, refs
