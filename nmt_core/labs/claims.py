"""What each lab claims (the lecture's words) and what its own numbers say, as text generated from the tables.

Why generated: a caption typed next to a chart goes stale the day the chart's data changes; the Compare page once
showed "attention helps most on long sentences" under a table where it did not. ``verdict(lab, tables)`` reads
the numbers and returns whether they support the lecture's claim and a sentence that quotes them; the Labs page
prints that sentence, and ``tests/test_labs_page.py`` checks each verdict against its table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Verdict:
    claim: str  # the lecture's (or the tutorial's) claim
    supported: bool | None  # None: the tables cannot tell
    measured: str  # what the numbers say, with the numbers


CLAIMS = {
    "vanishing": "A vanilla RNN carries information about 7 steps, an LSTM about 100 (CS224N lecture 6).",
    "clipping": "Gradient clipping keeps training stable when gradients explode (Pascanu et al. 2013).",
    "bottleneck": "Without attention one vector must hold the whole sentence, so long sentences suffer most "
                  "(Bahdanau et al. 2015).",
    "bottleneck-en-de": "Without attention one vector must hold the whole sentence, so long sentences suffer most "
                        "(Bahdanau et al. 2015), on real English-German.",
    "depth": "2 layers are often much better than 1 (Britz et al. 2017); a bidirectional encoder helps.",
    "greedy-vs-beam": "Beam search finds more probable translations than greedy decoding.",
    "greedy-vs-beam-en-de": "Beam search finds more probable translations than greedy decoding, on real "
                            "English-German.",
    "tbptt": "Truncated BPTT windows the sequence but still carries the hidden state forward: a dependency "
             "longer than the window gets no gradient.",
}


def verdict(lab: str, tables: dict[str, pd.DataFrame]) -> Verdict:
    """The claim of ``lab`` and what ``tables`` (as the lab wrote them) say about it."""
    judge = {"vanishing": _vanishing, "clipping": _clipping, "bottleneck": _bottleneck,
             "bottleneck-en-de": _bottleneck, "depth": _depth, "greedy-vs-beam": _greedy_vs_beam,
             "greedy-vs-beam-en-de": _greedy_vs_beam, "tbptt": _tbptt}[lab]
    try:
        supported, measured = judge(tables)
    except (KeyError, ValueError, IndexError):
        supported, measured = None, "The stored tables do not hold what this check needs."
    return Verdict(CLAIMS[lab], supported, measured)


def _longest_learned(acc: pd.DataFrame, threshold: float) -> dict[str, int]:
    """Per variant, the longest lag learned above ``threshold`` accuracy (0 if none)."""
    return {v: int(part[part.accuracy >= threshold].lag.max()) if (part.accuracy >= threshold).any() else 0
            for v, part in acc.groupby("variant", sort=False)}


def _vanishing(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    longest = _longest_learned(t["accuracy"], 0.9)
    rnn, lstm = longest["rnn"], max(v for k, v in longest.items() if k.startswith("lstm"))
    tried = sorted(t["accuracy"].lag.unique())
    text = "; ".join(f"{v}: up to lag {n}" if n else f"{v}: no lag" for v, n in longest.items())
    plain = longest.get("lstm")
    if plain is not None and plain <= rnn < lstm:  # say which LSTM carried the claim, so the mark cannot mislead
        carrier = next(k for k, v in longest.items() if k.startswith("lstm") and v == lstm)
        text += f". Only the {carrier} reaches further than the RNN; the plain LSTM does not, at this budget"
    return lstm > rnn, (f"Longest lag learned to 90% accuracy (lags tried: {', '.join(map(str, tried))}): {text}.")


def _clipping(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    s = t["summary"].set_index("variant")
    free, clipped = s.loc["no clipping"], s.loc[[v for v in s.index if v.startswith("clip")][0]]
    better = clipped.final_loss < free.final_loss and clipped.dev_bleu >= free.dev_bleu
    return bool(better), (f"Without clipping the largest gradient norm reached {free.max_grad_norm:.3g} and training "
                          f"ended at loss {free.final_loss:.2f} (dev BLEU {free.dev_bleu:.1f}); with clipping the "
                          f"norm peaked at {clipped.max_grad_norm:.3g}, final loss {clipped.final_loss:.2f} "
                          f"(dev BLEU {clipped.dev_bleu:.1f}).")


def _bottleneck(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    table = t["bleu_by_length"]
    wide = table.pivot_table(index="lo", columns="variant", values="bleu").sort_index().dropna()
    if len(wide) < 2:
        raise ValueError("one length bucket: nothing to compare")
    shortest, longest = wide.iloc[0], wide.iloc[-1]
    gap_short = shortest["attention"] - shortest["no attention"]
    gap_long = longest["attention"] - longest["no attention"]
    labels = table.drop_duplicates("lo").set_index("lo").bucket
    text = (f"Shortest sentences ({labels[wide.index[0]]} words): attention {shortest['attention']:.1f} BLEU, none "
            f"{shortest['no attention']:.1f}; longest ({labels[wide.index[-1]]} words): attention "
            f"{longest['attention']:.1f}, none {longest['no attention']:.1f}. Attention's lead: {gap_short:.1f} BLEU "
            f"on the shortest, {gap_long:.1f} on the longest (the verdict's measure)")
    if shortest["attention"] > 0 and longest["attention"] > 0:  # the same lead relative to attention's own BLEU
        text += (f"; without attention the shortest keep {shortest['no attention'] / shortest['attention']:.0%} of "
                 f"attention's BLEU, the longest {longest['no attention'] / longest['attention']:.0%}")
    text += "."
    return bool(gap_long > 0 and gap_long >= gap_short), text


def _depth(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    m = t["models"]
    one, two = m[m.layers == 1], m[m.layers == 2]
    best_one, best_two = one.test_bleu.max(), two.test_bleu.max()
    bi = m[m.bidirectional.astype(str) == "True"].test_bleu.max()
    uni = m[m.bidirectional.astype(str) == "False"].test_bleu.max()
    text = (f"Best test BLEU with 1 layer {best_one:.2f}, with 2 layers {best_two:.2f}; best bidirectional "
            f"{bi:.2f}, best unidirectional {uni:.2f} (same budget each).")
    return bool(best_two > best_one), text


def _greedy_vs_beam(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    s = t["summary"].iloc[0]
    text = (f"Of {int(s.sentences)} sentences, beam search (k = {int(s.beam_size)}) found a more probable output for "
            f"{int(s.beam_higher_logprob)} and a less probable one for {int(s.beam_lower_logprob)}; corpus BLEU "
            f"greedy {s.greedy_corpus_bleu:.2f}, beam {s.beam_corpus_bleu:.2f}.")
    return bool(s.beam_higher_logprob > s.beam_lower_logprob), text


def _tbptt(t: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    acc = t["accuracy"]
    lstm = acc[acc.cell.str.startswith("lstm")]
    reach = {}
    for window, part in lstm.groupby("window"):
        learned = part[part.accuracy >= 0.5]
        reach[int(window)] = int(learned.lag.max()) if len(learned) else 0
    windows = sorted(reach)
    grows = all(reach[a] <= reach[b] for a, b in zip(windows, windows[1:])) and reach[windows[-1]] > reach[windows[0]]
    text = "LSTM, longest lag learned to 50% accuracy by window: " + ", ".join(
        f"k = {w}{' (full BPTT)' if w == max(windows) else ''}: {reach[w]}" for w in windows) + "."
    return bool(grows), text
