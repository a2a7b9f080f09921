"""Using a trained model: text in, text out, and corpus-level scores.

The facade the CLI, the studio and notebooks share (JoeyNMT's hub_interface idea): it owns the
conventions (normalisation, length caps, batching, detokenisation) so callers pass plain strings and
get back the search's own result objects (``nmt_core.hypotheses``) with texts and pieces filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from .batching import make_batch, sorted_batches
from .checkpoint import Checkpoint, load_checkpoint
from .decoding import Constraints
from .device import pick_device
from .fast_mode import (
    EXACT,
    FastMode,
    FastModels,
    PositionPieces,
    constraint_ids,
    map_constraints,
    map_greedy,
    map_result,
    to_positions,
)
from .hypotheses import BeamResult, Diagnosis, Hypothesis, TokenScores, diagnose
from .limits import LimitError, check
from .notices import CheckedSource, check_source
from .sampling import sample
from .scoring import score_translation
from .search import beam_search, greedy_search
from .text import normalize
from .tokenizer import EOS_ID, UNK_ID

#: Inputs longer than this many pieces are cut (with a notice), keeping decode time bounded.
MAX_INPUT_PIECES = 200
#: A translation to score or a forced prefix longer than this is refused: teacher forcing and forced decoding
#: take one decoder step per piece, so without a cap a pasted novel would hold the server for minutes.
MAX_TARGET_PIECES = 1000


def check_decoding(labels: dict[str, str] | None = None, **values: float) -> None:
    """Every decoding option inside its bound (``limits.BOUNDS``), checked in the order given, with one line
    naming the first that is not (beam size before n-best: an n-best above a bad beam size is not the problem);
    n-best may not exceed the beam size. The same check serves the CLI (``labels`` maps names to its flags), the
    Python API and the studio."""
    label = lambda name: (labels or {}).get(name, name)  # noqa: E731
    for name, value in values.items():
        check(name, value, label(name))
    if "nbest" in values and values["nbest"] > values.get("beam_size", values["nbest"]):
        raise LimitError(f"{label('nbest')}={values['nbest']} is more than {label('beam_size')}="
                         f"{values['beam_size']}: a beam of k keeps at most k complete hypotheses")


class Translator:
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device | None = None):
        self.checkpoint = checkpoint
        self.device = torch.device(device) if device is not None else next(checkpoint.model.parameters()).device
        self.model = checkpoint.model.to(self.device).eval()
        self.tokenizers = checkpoint.tokenizers
        # Built now (cheap: the stored shortlist is parsed only when a fast mode asks for it), so sessions
        # sharing this Translator share one FastModels and its one int8 copy.
        self.fast_models = FastModels(self.model, checkpoint.extra.get("shortlist"),
                                      str(checkpoint.path or "checkpoint"))

    @classmethod
    def from_path(cls, path: str | Path, device: str = "auto") -> Translator:
        dev = pick_device(device)
        return cls(load_checkpoint(path, dev), dev)

    def prepare(self, sentence: str) -> CheckedSource:
        """The sentence as the model sees it, with a notice for everything changed on the way
        (``notices.check_source``): removed or replaced characters, unknown words, a cut, a length
        beyond the training data."""
        return check_source(sentence, self.tokenizers.src, max_pieces=MAX_INPUT_PIECES,
                            max_words=self.checkpoint.training_max_words)

    def source_pieces(self, ids: list[int]) -> tuple[str, ...]:
        """Labels for the encoder positions: the pieces and the final </s> the encoder sees."""
        return tuple(self.tokenizers.src.id_to_piece(i) for i in [*ids, EOS_ID])

    def _target_ids(self, text: str, what: str) -> list[int]:
        ids = self.tokenizers.tgt.encode(text)
        if len(ids) > MAX_TARGET_PIECES:
            raise ValueError(f"the {what} has {len(ids)} pieces; at most {MAX_TARGET_PIECES} are accepted")
        return ids

    def _prefix_ids(self, prefix: str | None) -> list[int] | None:
        return self._target_ids(prefix, "forced prefix") if prefix else None

    def target_piece(self, text: str) -> tuple[int, str, str | None]:
        """The one target piece a what-if forces or blocks, from what the user typed: (id, piece, note). A word
        the vocabulary spells with several pieces uses its first (the note says so); one it cannot spell, or
        nothing at all, is refused."""
        pieces = self.tokenizers.tgt.pieces_with_surface(text)
        if not pieces:
            raise ValueError("type the target word or piece to force or block")
        token, surface = pieces[0]
        if token == UNK_ID:
            raise ValueError(f"{surface.strip()!r} is not in the model's target vocabulary (it would be <unk>)")
        piece = self.tokenizers.tgt.id_to_piece(token)
        note = None if len(pieces) == 1 else (f"{text.strip()!r} is {len(pieces)} pieces for this model; the first, "
                                              f"{piece!r}, is used")
        return token, piece, note

    def _finish(self, hyp: Hypothesis) -> Hypothesis:
        return replace(hyp, text=self.tokenizers.tgt.decode(hyp.output_ids))

    # ---- corpus-level
    @torch.no_grad()
    def translate(self, sentences: list[str], *, batch_size: int = 64, max_ratio: float = 2.0, beam_size: int = 1,
                  length_penalty: str = "none", alpha: float = 0.6, prefix: str | None = None,
                  stopping: str = "exact", fast: FastMode = EXACT,
                  after_batch: Callable[[], object] | None = None) -> list[str]:
        """Best translations, in input order. Empty inputs give empty outputs. ``beam_size=1`` without a
        prefix runs the greedy fast path; anything else runs ``decode``. ``after_batch`` is called after every
        batch (the CLI's thread governor, ``threads.py``)."""
        check_decoding(beam_size=beam_size, max_ratio=max_ratio, alpha=alpha, batch_size=batch_size)
        if beam_size > 1 or prefix:
            results = self.decode(sentences, beam_size=beam_size, length_penalty=length_penalty, alpha=alpha,
                                  max_ratio=max_ratio, prefix=prefix, batch_size=batch_size, stopping=stopping,
                                  fast=fast, trace=False, after_batch=after_batch)
            return [r.best.text if r.hypotheses and normalize(s) else "" for s, r in zip(sentences, results)]
        prepared = [self.prepare(s) for s in sentences]
        outputs = [""] * len(prepared)
        todo = [i for i, p in enumerate(prepared) if p.ids]
        for chunk in sorted_batches([len(prepared[i].ids) for i in todo], batch_size):
            index = [todo[k] for k in chunk]
            batch = make_batch([prepared[i].ids for i in index]).to(self.device)
            model, kept = self.fast_models.for_batch(fast, batch.src)
            found = greedy_search(model, batch.src, batch.src_lengths, max_ratio=max_ratio)
            for i, ids in zip(index, found if kept is None else map_greedy(found, kept)):
                outputs[i] = self.tokenizers.tgt.decode(ids)
            if after_batch is not None:
                after_batch()
        return outputs

    @torch.no_grad()
    def decode(self, sentences: list[str], *, beam_size: int = 5, nbest: int = 1, length_penalty: str = "none",
               alpha: float = 0.6, max_ratio: float = 2.0, prefix: str | None = None, record: bool = False,
               top_n_rejected: int = 5, batch_size: int = 64, stopping: str = "exact",
               constraints: Constraints = None, fast: FastMode = EXACT, trace: bool = True,
               after_batch: Callable[[], object] | None = None) -> list[BeamResult]:
        """Batched beam search over many sentences, results in input order, each hypothesis with its
        text and pieces and each trace with source pieces. (An empty input is searched as the bare </s>.)
        ``stopping``: see ``search.beam_search`` ("heuristic" is faster with a length penalty). ``constraints``
        force or block a token at a step (``{step: {"force": id}}`` / ``{step: {"block": [ids]}}``, step 0 = the
        first target token): the token what-ifs. ``fast``: opt-in approximations (``fast_mode.py``). ``trace=False``:
        hypotheses only, no search tree (text output: ``translate``, ``evaluate``; 3–6% faster, docs/benchmarks.md)."""
        check_decoding(beam_size=beam_size, nbest=nbest, max_ratio=max_ratio, alpha=alpha, batch_size=batch_size,
                       top_n_rejected=top_n_rejected)
        prepared = [self.prepare(s) for s in sentences]
        results: list[BeamResult | None] = [None] * len(prepared)
        prefix_ids = self._prefix_ids(prefix)
        for index in sorted_batches([len(p.ids) for p in prepared], batch_size):
            batch = make_batch([prepared[i].ids for i in index]).to(self.device)
            model, kept = self.fast_models.for_batch(fast, batch.src, (prefix_ids or []) + constraint_ids(constraints))
            pieces = self.tokenizers.tgt if kept is None else PositionPieces(self.tokenizers.tgt, kept)
            found = beam_search(model, batch.src, batch.src_lengths, beam_size=beam_size, nbest=nbest,
                                length_penalty=length_penalty, alpha=alpha, max_ratio=max_ratio, record=record,
                                top_n_rejected=top_n_rejected, tgt_tokenizer=pieces, stopping=stopping,
                                prefix=prefix_ids if kept is None or not prefix_ids else to_positions(kept, prefix_ids),
                                constraints=constraints if kept is None else map_constraints(constraints, kept),
                                trace=trace)
            if kept is not None:
                found = [map_result(r, kept) for r in found]
            for i, result in zip(index, found):
                src_pieces = self.source_pieces(prepared[i].ids)
                tree = None if result.trace is None else replace(result.trace, source_pieces=src_pieces)
                results[i] = BeamResult([self._finish(h) for h in result.hypotheses], tree, src_pieces,
                                        None if kept is None else int(kept.numel()))
            if after_batch is not None:
                after_batch()
        return results

    # ---- one sentence, for the studio
    def beam_search(self, sentence: str, *, beam_size: int = 5, nbest: int = 5, record: bool = True,
                    **options) -> BeamResult:
        """One sentence through beam search with everything recorded (the Beam Search page)."""
        return self.decode([sentence], beam_size=beam_size, nbest=min(nbest, beam_size), record=record, **options)[0]

    @torch.no_grad()
    def score(self, sentence: str, translation: str, *, length_penalty: str = "none",
              alpha: float = 0.6) -> TokenScores:
        """Log-prob of a given translation, token by token, with the model's own choice at each step."""
        src = self.prepare(sentence)
        return score_translation(self.model, src.ids, self._target_ids(translation, "translation to score"),
                                 length_penalty=length_penalty, alpha=alpha, tgt_tokenizer=self.tokenizers.tgt)

    def diagnose(self, sentence: str, reference: str, *, beam_size: int = 5, length_penalty: str = "none",
                 alpha: float = 0.6, **options) -> Diagnosis:
        """Search error or model error? Beam-search the sentence and score the reference the same way."""
        result = self.beam_search(sentence, beam_size=beam_size, nbest=1, record=False,
                                  length_penalty=length_penalty, alpha=alpha, **options)
        return diagnose(self.score(sentence, reference, length_penalty=length_penalty, alpha=alpha), result.best)

    @torch.no_grad()
    def sample(self, sentence: str, *, n: int = 5, temperature: float = 1.0, top_k: int = 0, seed: int | None = None,
               max_ratio: float = 2.0, prefix: str | None = None) -> list[Hypothesis]:
        """``n`` random translations (ancestral sampling), for comparison with search."""
        check_decoding(samples=n, temperature=temperature, max_ratio=max_ratio)
        src = self.prepare(sentence)
        batch = make_batch([src.ids]).to(self.device)
        samples = sample(self.model, batch.src, batch.src_lengths, n=n, temperature=temperature, top_k=top_k,
                         seed=seed, max_ratio=max_ratio, prefix=self._prefix_ids(prefix),
                         tgt_tokenizer=self.tokenizers.tgt)[0]
        return [self._finish(h) for h in samples]
