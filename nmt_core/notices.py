"""What happened to a sentence on its way into the model, said out loud.

A model only sees pieces of its own vocabulary, at most ``MAX_INPUT_PIECES`` of them, after
normalisation. Each of these steps can change the input: invisible characters are removed, invalid
bytes become U+FFFD, words the vocabulary cannot spell become ``<unk>`` (a word-level vocabulary merges
neighbouring unknown words into one ``<unk>``), a long input is cut. A student who types "my grandmother
likes jazz" into the toy model must see that the model read "my <unk>", not wonder at the output.

``check_source`` is the one place these decisions are described; the translator attaches its notices to
every prepared sentence, the CLI prints them on stderr, and the studio shows them above each result
with the affected pieces highlighted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .text import describe_character, normalize, removed_characters
from .tokenizer import UNK_ID, Tokenizer

#: The kinds of notice, in the order they are shown.
KINDS = ("replaced", "removed", "unknown", "truncated", "long")


@dataclass(frozen=True)
class SourceNotice:
    """One decision about the input: ``kind`` (see KINDS), a one-line ``message`` for the user and the
    ``positions`` of the affected source pieces (what a view highlights; empty when none is kept)."""

    kind: str
    message: str
    positions: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckedSource:
    """A sentence as the model will see it."""

    text: str  # normalised
    ids: list[int]  # piece ids, cut to max_pieces
    pieces: tuple[str, ...]  # the surface text of each kept piece ("grandmother likes jazz" for one <unk>)
    truncated: bool
    notices: tuple[SourceNotice, ...]


def _quote(words: list[str], limit: int = 8) -> str:
    shown = ", ".join(f'"{w}"' for w in words[:limit])
    return shown + (f" and {len(words) - limit} more" if len(words) > limit else "")


def check_source(sentence: str, tokenizer: Tokenizer, *, max_pieces: int,
                 max_words: int | None = None) -> CheckedSource:
    """Normalise, tokenise and cut ``sentence``, with a notice for every change and every risk.

    ``max_words`` is the longest sentence (in whitespace words) the model was trained on, when known: a
    longer input gets a "long" notice, because recurrent models degrade quickly past their training
    lengths (the bottleneck lab measures how much)."""
    notices: list[SourceNotice] = []
    replaced = sum("\ud800" <= c <= "\udfff" or c == "\ufffd" for c in sentence)
    if replaced:
        notices.append(SourceNotice("replaced", f"{replaced} character(s) that are not valid text (undecodable "
                                                "bytes) were replaced by \ufffd"))
    removed = removed_characters(sentence)
    if removed:
        counts = Counter(removed)
        names = ", ".join(f"{describe_character(c)}" + (f" ×{n}" if n > 1 else "") for c, n in counts.items())
        notices.append(SourceNotice("removed", f"{len(removed)} invisible character(s) removed: {names}"))
    text = normalize(sentence)
    proto = tokenizer.pieces_with_surface(text)
    ids = [i for i, _ in proto]
    surfaces = [s for _, s in proto]
    unknown = [k for k, i in enumerate(ids) if i == UNK_ID]
    kept = min(len(ids), max_pieces)
    if unknown:
        words = [w for k in unknown for w in surfaces[k].split()]
        merged = len(words) - len(unknown)
        how = f" ({len(words)} words read as {len(unknown)} <unk>)" if merged > 0 else ""
        notices.append(SourceNotice(
            "unknown", f"not in the model's vocabulary, read as <unk>: {_quote(words)}{how}",
            tuple(k for k in unknown if k < kept)))
    if len(ids) > max_pieces:
        dropped = "".join(surfaces[max_pieces:]).strip()
        notices.append(SourceNotice("truncated", f"the sentence has {len(ids)} pieces; only the first {max_pieces} "
                                                 f"are translated (cut: \"{dropped[:60]}"
                                                 f"{'…' if len(dropped) > 60 else ''}\")"))
    words = len(text.split())
    if max_words is not None and words > max_words:
        notices.append(SourceNotice("long", f"{words} words: longer than any sentence the model was trained on "
                                            f"(at most {max_words}); expect a weaker translation"))
    return CheckedSource(text, ids[:max_pieces], tuple(s.strip() or s for s in surfaces[:kept]),
                         len(ids) > max_pieces, tuple(notices))


def one_line(notices: tuple[SourceNotice, ...] | list[SourceNotice]) -> str:
    """All notices of one input in one line (the CLI's stderr format)."""
    return "; ".join(n.message for n in notices)
