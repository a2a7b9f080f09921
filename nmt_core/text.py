"""Text normalisation shared by the corpus readers, the tokenizer and the app.

Why one function: a sentence typed into the app must reach the model in exactly the form the training
data had, so every entry point (corpus cleaning, tokenizer training, translation) calls ``normalize``.
Two strings that look the same on screen must also be the same string, hence Unicode NFC (a decomposed
"e" + combining acute becomes the single code point "é") and one plain space for every whitespace run
(tabs, NBSP, thin spaces, stray carriage returns from Windows files).
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

# Whitespace that ``str.split()`` already treats as a separator; kept out of "control characters" below.
_ALLOWED_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")


def normalize(s: str) -> str:
    """NFC-normalise ``s``, remove invisible control and format characters, collapse every whitespace
    run to one space and strip the ends.

    ``str.split()`` with no argument splits on every Unicode whitespace character (NBSP, U+2009,
    U+3000, line separators ...), which is exactly the set we want to collapse, and it is far faster
    than a regex on a million lines. ASCII text skips the NFC call (it is already NFC). Control and
    format characters (NUL, U+200B zero-width space, a stray BOM ...) are invisible on screen, yet they
    changed translations when they reached the tokenizer; they are removed here, for training data and
    typed input alike, and ``removed_characters`` lets every entry point say so.
    """
    if s.isascii():
        if _ASCII_CONTROLS.search(s):
            s = _ASCII_CONTROLS.sub("", s)
    else:
        s = unicodedata.normalize("NFC", s)
        if _invisible().search(s):
            s = _invisible().sub("", s)
    return " ".join(s.split())


_ASCII_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f]")


@functools.cache
def _invisible() -> re.Pattern[str]:
    """Every control (Cc) and format (Cf) code point that is not whitespace, as one character class
    (built once, on the first non-ASCII text: about 0.2 s)."""
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        hit = unicodedata.category(c) in ("Cc", "Cf") and c not in _ALLOWED_CONTROLS
        if hit and start is None:
            start = cp
        if not hit and start is not None:
            ranges.append((start, prev))
            start = None
        prev = cp
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


def removed_characters(s: str) -> list[str]:
    """The characters ``normalize`` removes from ``s`` (in order, with repeats), for notices."""
    if s.isascii():
        return _ASCII_CONTROLS.findall(s)
    return _invisible().findall(unicodedata.normalize("NFC", s))


def describe_character(c: str) -> str:
    """``U+0000 NULL``-style name of a character, for messages (invisible characters cannot be shown)."""
    name = unicodedata.name(c, None) or _CONTROL_NAMES.get(c, "control character")
    return f"U+{ord(c):04X} {name}"


_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "BACKSPACE", "\x1b": "ESCAPE", "\x7f": "DELETE"}


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
