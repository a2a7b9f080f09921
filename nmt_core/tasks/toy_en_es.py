"""toy-en-es: a small synchronous English->Spanish grammar with gold word alignments.

Why a grammar and not a corpus: a student model trained for minutes on a laptop can reach near 100 BLEU
on it, and every phenomenon the lectures mention is present and countable: adjective-noun reordering
("the red car" -> "el coche rojo"), gender and number agreement (el/la/los/las, rojo/roja/rojos/rojas),
pro-drop with verb conjugation ("i eat an apple" -> "como una manzana"), ser/estar, inverted questions
("is the car red ?" -> "¿ es rojo el coche ?"), contractions (al, del) and clause coordination up to 25
tokens. The vocabulary is in ``_toy_lexicon``.

One derivation (``Sentence``) is realised into English, Spanish and the alignment together, so they
can never disagree. ``parse`` turns English back into the derivation, which gives ``translate`` for
any sentence of the grammar, and a test checks ``translate(src) == (tgt, align)`` for generated pairs:
the target is a function of the source.

Deterministic rules where Spanish needs information English does not give:
  * "is"/"are" + adjective takes the copula fixed per adjective (tired -> estar, red -> ser); "be" +
    place and "how/where is ..." always take estar.
  * "i", "you", "we", "they" are generic masculine for predicate adjectives ("i am tired" -> "estoy
    cansado"); "you" is always singular informal (tú), "we"/"they" are dropped so their gender never
    shows.
  * "his", "her", "their" all become "su"/"sus".
  * yes/no questions with an adjective put it before the subject ("¿ es rojo el coche ?"), with a
    place after it ("¿ está el perro en la casa ?"); other questions put the subject after the verb
    ("¿ dónde vive el niño ?").
  * "y" becomes "e" before a word starting with an i sound ("cansado e inteligente").

Alignment conventions (Pharaoh "i-j", English position i, Spanish position j):
  * every Spanish token is aligned to at least one English token, and vice versa;
  * a dropped subject pronoun aligns to the Spanish verb (its ending carries the person), and so do
    "do"/"does" and the particle of "look for";
  * "¿" and "?" both align to the English "?";
  * "al"/"del" align to the preposition and to "the"; multi-word prepositions ("next to" ->
    "al lado de", "under" -> "debajo de") align all-to-all.
"""

from __future__ import annotations

import random

from ..corpus import ParallelCorpus
from ..text import normalize
from ._toy_grammar import Sentence, realize
from ._toy_parser import parse
from ._toy_sampler import Sampler
from .base import TaskInfo, pharaoh, sample_unique

NAME = "toy-en-es"
__all__ = ["EXAMPLES", "INFO", "NAME", "Sentence", "generate", "parse", "realize", "translate"]


def translate(source: str) -> tuple[str, str]:
    """Gold Spanish translation and Pharaoh alignment of an English sentence of the grammar.

    Tolerates capitals and punctuation glued to words ("How are you?"); raises ValueError for
    sentences outside the grammar.
    """
    text = normalize(source).lower()
    for p in "?.":
        text = text.replace(p, f" {p} ")
    _, es, links = realize(parse(text))
    return " ".join(es), pharaoh(links)


# ---------------------------------------------------------------------------------------- task entry

EXAMPLES = [
    "the red car is fast",
    "the red car",
    "how are you ?",
    "the small dogs eat the green apples",
    "i eat an apple",
    "she is tired",
    "is the car red ?",
    "the big red car is in the garden",
    "the girl goes to the park with her brother",
    "where does your sister live ?",
]

INFO = TaskInfo(
    name=NAME,
    description="English -> Spanish from a small synchronous grammar: adjective reordering, gender and "
                "number agreement, pro-drop, ser/estar, questions; gold word alignments.",
    source_lang="en",
    target_lang="es",
    examples=EXAMPLES,
    has_alignment=True,
    recommended_tokenizer="word",
    options={"min_len": 3, "max_len": 25},
)


def generate(size: int, seed: int, *, min_len: int = 3, max_len: int = 25) -> ParallelCorpus:
    """``size`` pairs with distinct sources of ``min_len``..``max_len`` English tokens."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    sampler = Sampler(random.Random(seed))

    def draw() -> tuple[str, str, str] | None:
        en, es, links = realize(sampler.sentence())
        if not min_len <= len(en) <= max_len:
            return None
        return " ".join(en), " ".join(es), pharaoh(links)

    return sample_unique(draw, size, with_alignment=True, what=NAME)
