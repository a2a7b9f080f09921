"""Subword tokenisation with sentencepiece, kept inside the checkpoint.

Why sentencepiece: it handles unigram, BPE, character and word vocabularies with one API, trains in
memory in seconds, and its model is a small byte string we store *inside* the checkpoint, so a
checkpoint is one self-contained file (no side-car vocabulary to lose).

Special ids are fixed for every model: pad 0, unk 1 (<unk>, the lecture's rare-word token),
bos 2 (<s>), eos 3 (</s>).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import sentencepiece as spm

from .text import normalize, replace_surrogates

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_PIECES = {PAD_ID: "<pad>", UNK_ID: "<unk>", BOS_ID: "<s>", EOS_ID: "</s>"}


class TokenizerError(ValueError):
    """A tokenizer could not be trained or loaded."""


class Tokenizer:
    """A trained sentencepiece model plus the project's conventions (normalisation, special ids)."""

    def __init__(self, model_proto: bytes):
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except Exception as err:  # sentencepiece raises RuntimeError/OSError with C++ text
            raise TokenizerError(f"not a sentencepiece model: {err}") from None
        if self._sp.pad_id() != PAD_ID or self._sp.unk_id() != UNK_ID or self._sp.bos_id() != BOS_ID \
                or self._sp.eos_id() != EOS_ID:
            raise TokenizerError("sentencepiece model does not use the fixed ids pad=0 unk=1 bos=2 eos=3")

    @classmethod
    def train(cls, sentences: Iterable[str], *, model_type: str = "unigram", vocab_size: int = 8000,
              character_coverage: float = 1.0) -> Tokenizer:
        """Train on an iterable of sentences (the train split only). ``vocab_size`` is an upper
        bound: small corpora and word/char models get the vocabulary the data supports."""
        sentences = [normalize(s) for s in sentences]
        if not any(sentences):
            raise TokenizerError("cannot train a tokenizer on an empty corpus")
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences), model_writer=buffer, model_type=model_type,
                vocab_size=max(vocab_size, 8), hard_vocab_limit=False, character_coverage=character_coverage,
                pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
                pad_piece="<pad>", unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
                normalization_rule_name="identity", split_digits=False, minloglevel=2,
                input_sentence_size=2_000_000, shuffle_input_sentence=True, num_threads=2,
                max_sentence_length=1 << 16, train_extremely_large_corpus=False,
            )
        except RuntimeError as err:
            raise TokenizerError(f"sentencepiece training failed: {err}") from None
        return cls(buffer.getvalue())

    # ---- conversion
    def encode(self, text: str) -> list[int]:
        """Normalised text -> piece ids (no bos/eos)."""
        return self._sp.EncodeAsIds(_clean(text))

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text, ignoring pad/bos and stopping at the first eos."""
        out = []
        for i in ids:
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(int(i))
        return self._sp.DecodeIds(out)

    def pieces(self, text: str) -> list[str]:
        """The pieces a sentence is split into, as the model sees them ("▁" marks a word start)."""
        return self._sp.EncodeAsPieces(_clean(text))

    def pieces_with_surface(self, text: str) -> list[tuple[int, str]]:
        """(id, surface text) per piece: an ``<unk>`` piece keeps the text it replaced, so a notice can
        name the words the model could not read."""
        proto = self._sp.Encode(_clean(text), out_type="proto")
        return [(p.id, p.surface) for p in proto.pieces]

    def id_to_piece(self, i: int) -> str:
        return SPECIAL_PIECES.get(int(i)) or self._sp.IdToPiece(int(i))

    def display_pieces(self, ids: Iterable[int]) -> list[str]:
        """Pieces for labels in charts: the word-start marker removed where it stands alone."""
        return [self.id_to_piece(i).replace("▁", "") or "▁" for i in ids]

    @property
    def vocab_size(self) -> int:
        return self._sp.GetPieceSize()

    def to_bytes(self) -> bytes:
        return self._proto

    def model_type(self) -> str:
        from sentencepiece import sentencepiece_model_pb2 as pb  # local: only needed for the model card

        proto = pb.ModelProto()
        proto.ParseFromString(self._proto)
        return pb.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type).lower()


def _clean(text: str) -> str:
    """What sentencepiece sees: normalised text; lone surrogates (not encodable) become U+FFFD."""
    text = normalize(text)
    return text if text.isascii() else replace_surrogates(text)


@dataclass(frozen=True)
class TokenizerPair:
    """Source and target tokenizers; the same object twice for a joint vocabulary."""

    src: Tokenizer
    tgt: Tokenizer

    @property
    def joint(self) -> bool:
        return self.src is self.tgt


def train_tokenizers(src: list[str], tgt: list[str], *, model_type: str, vocab_size: int, joint: bool,
                     character_coverage: float = 1.0) -> TokenizerPair:
    """Train on the training split only (dev/test never leak into the vocabulary)."""
    kwargs = dict(model_type=model_type, vocab_size=vocab_size, character_coverage=character_coverage)
    if joint:
        shared = Tokenizer.train(list(src) + list(tgt), **kwargs)
        return TokenizerPair(shared, shared)
    return TokenizerPair(Tokenizer.train(src, **kwargs), Tokenizer.train(tgt, **kwargs))
