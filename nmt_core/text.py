"""Text normalisation shared by the corpus readers, the tokenizer and the app.

Why one function: a sentence typed into the app must reach the model in exactly the form the training
data had, so every entry point (corpus cleaning, tokenizer training, translation) calls ``normalize``.
Two strings that look the same on screen must also be the same string, hence Unicode NFC (a decomposed
"e" + combining acute becomes the single code point "é") and one plain space for every whitespace run
(tabs, NBSP, thin spaces, stray carriage returns from Windows files).
"""

from __future__ import annotations

import unicodedata

# Whitespace that ``str.split()`` already treats as a separator; kept out of "control characters" below.
_ALLOWED_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")


def normalize(s: str) -> str:
    """NFC-normalise ``s``, collapse every whitespace run to one space and strip the ends.

    ``str.split()`` with no argument splits on every Unicode whitespace character (NBSP, U+2009,
    U+3000, line separators ...), which is exactly the set we want to collapse, and it is far faster
    than a regex on a million lines. ASCII text skips the NFC call (it is already NFC).
    """
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return " ".join(s.split())


def tokens(s: str) -> list[str]:
    """Whitespace tokens of ``s``: the unit the length filter and word alignments count."""
    return s.split()


def has_control_chars(s: str) -> bool:
    """True if ``s`` holds invisible control or format characters (NUL, zero-width space, BOM ...).

    These survive ``normalize`` (they are not whitespace) and usually mean a mis-encoded file, so
    readers can warn about them; whitespace controls such as TAB are not counted.
    """
    if s.isascii():
        return any((c < " " and c not in _ALLOWED_CONTROLS) or c == "\x7f" for c in s)
    return any(unicodedata.category(c) in ("Cc", "Cf") and c not in _ALLOWED_CONTROLS for c in s)


def replace_surrogates(s: str) -> str:
    """``s`` with every lone surrogate (U+D800..U+DFFF) replaced by U+FFFD.

    Python strings can hold them (``surrogateescape``-decoded stdin or file names, JSON ``"\\udcff"``),
    but they are not text: they cannot be encoded as UTF-8, and sentencepiece raises on them.
    """
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)
    return s
