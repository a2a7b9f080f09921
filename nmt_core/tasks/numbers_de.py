"""numbers-de: English number words -> German number words, units before tens.

Why: German says 27 as "siebenundzwanzig" (seven-and-twenty), so the model must swap the order of
units and tens, a short crossing alignment that is easy to see in an attention plot. German compounds
are written as separate tokens so the alignment is word to word:
"three hundred and forty two" -> "drei hundert zwei und vierzig".

Rules: "eins" only as the very last word ("one" -> "eins", "one hundred and one" -> "ein hundert
eins"), "ein" before "hundert", "tausend" and "und" ("one hundred" -> "ein hundert", "twenty one" ->
"ein und zwanzig"). English uses the British "and" before the last two digits.

Alignment (Pharaoh, English i - German j): units, teens and tens words align one to one; German "und"
aligns to the English tens word (it belongs to the compound "and-twenty"); the British "and" has no
German counterpart and stays unaligned.
"""

from __future__ import annotations

import random

from ..corpus import ParallelCorpus
from .base import TaskInfo, pharaoh, sample_unique

NAME = "numbers-de"
MAX_SUPPORTED = 999_999

EN_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
DE_UNITS = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
            "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn",
            "neunzehn")
DE_TENS = ("", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig")

_Links = list[tuple[str, tuple[int, ...]]]  # German token + aligned English positions


class _Words:
    def __init__(self) -> None:
        self.en: list[str] = []
        self.de: _Links = []

    def w(self, token: str) -> int:
        self.en.append(token)
        return len(self.en) - 1


def _unit(n: int, last: bool) -> str:
    return "ein" if n == 1 and not last else DE_UNITS[n]


def _below_100(out: _Words, n: int, last: bool) -> None:
    if n < 20:
        out.de.append((_unit(n, last), (out.w(EN_UNITS[n]),)))
        return
    tens, units = divmod(n, 10)
    t = out.w(EN_TENS[tens])
    if units:
        out.de.append((_unit(units, False), (out.w(EN_UNITS[units]),)))
        out.de.append(("und", (t,)))
    out.de.append((DE_TENS[tens], (t,)))


def _below_1000(out: _Words, n: int, last: bool) -> None:
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out.de.append((_unit(hundreds, False), (out.w(EN_UNITS[hundreds]),)))
        out.de.append(("hundert", (out.w("hundred"),)))
        if rest:
            out.w("and")
    if rest:
        _below_100(out, rest, last)


def words(n: int) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """English tokens, German tokens and alignment links (i, j) for 0 <= n <= 999,999."""
    if not 0 <= n <= MAX_SUPPORTED:
        raise ValueError(f"numbers-de supports 0..{MAX_SUPPORTED}, got {n}")
    out = _Words()
    if n == 0:
        out.de.append(("null", (out.w("zero"),)))
    thousands, rest = divmod(n, 1000)
    if thousands:
        _below_1000(out, thousands, last=False)
        out.de.append(("tausend", (out.w("thousand"),)))
        if 0 < rest < 100:
            out.w("and")  # "one thousand and five"
    if rest:
        _below_1000(out, rest, last=True)
    links = sorted((i, j) for j, (_, pos) in enumerate(out.de) for i in pos)
    return out.en, [t for t, _ in out.de], links


_EN_VALUE = {w: v for v, w in enumerate(EN_UNITS)} | {w: 10 * v for v, w in enumerate(EN_TENS) if w}


def parse_english(source: str) -> int:
    """The value of English number words as ``words`` writes them; ValueError otherwise."""
    total = current = 0
    for tok in source.split():
        if tok in _EN_VALUE:
            current += _EN_VALUE[tok]
        elif tok == "hundred":
            current *= 100
        elif tok == "thousand":
            total, current = (total + current) * 1000, 0
        elif tok != "and":
            raise ValueError(f"not an English number word: {tok!r}")
    value = total + current
    if value > MAX_SUPPORTED or " ".join(words(value)[0]) != source.strip():
        raise ValueError(f"not a number in the task's canonical form: {source!r}")
    return value


def translate(source: str) -> tuple[str, str]:
    """German words and Pharaoh alignment for English number words ("twenty one" -> "ein und zwanzig")."""
    _, de, links = words(parse_english(" ".join(source.lower().split())))
    return " ".join(de), pharaoh(links)


EXAMPLES = [
    "twenty seven",
    "three hundred and forty two",
    "one hundred and one",
    "twenty one thousand",
    "one thousand two hundred and thirty four",
    "seventeen",
]

INFO = TaskInfo(
    name=NAME,
    description="English number words -> German number words, units before tens "
                "(\"twenty seven\" -> \"sieben und zwanzig\"); gold word alignments.",
    source_lang="en",
    target_lang="de",
    examples=EXAMPLES,
    has_alignment=True,
    recommended_tokenizer="word",
    options={"max_value": MAX_SUPPORTED},
)


def generate(size: int, seed: int, *, max_value: int = MAX_SUPPORTED) -> ParallelCorpus:
    """``size`` distinct numbers in 0..max_value. The digit count is drawn uniformly first, so short
    numbers are as common as long ones (a uniform draw would be 90% six-digit numbers)."""
    if not 0 <= max_value <= MAX_SUPPORTED:
        raise ValueError(f"max_value must be in 0..{MAX_SUPPORTED}, got {max_value}")
    if size > max_value + 1:
        raise ValueError(f"only {max_value + 1} distinct numbers in 0..{max_value}, {size} requested")
    rng = random.Random(seed)
    digits = len(str(max_value))

    def draw() -> tuple[str, str, str]:
        d = rng.randint(1, digits)
        lo = 0 if d == 1 else 10 ** (d - 1)
        n = rng.randint(lo, min(10**d - 1, max_value))
        en, de, links = words(n)
        return " ".join(en), " ".join(de), pharaoh(links)

    return sample_unique(draw, size, with_alignment=True, what=NAME,
                         max_tries=max(200 * size, 10_000))
