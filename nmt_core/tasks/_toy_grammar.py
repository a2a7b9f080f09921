"""Derivations of the toy English->Spanish grammar and their realisation into both languages.

A ``Sentence`` is one derivation; ``realize`` writes its English tokens in order and, for each Spanish
token, the English positions it translates, so the two sides and the alignment come from one place.
The rules and alignment conventions are listed in ``toy_en_es``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._toy_lexicon import ADJS, CONJS, DETS, ESTAR, NOUNS, PREPS, PRONOUNS, SER, VERBS, WH, Adj, Noun

# ------------------------------------------------------------------------------------------ derivation


@dataclass(frozen=True)
class NP:
    noun: str = ""                # English lemma; "" when ``pron`` is set
    plural: bool = False
    det: str = ""                 # key of DETS; "" = bare mass noun ("i drink milk")
    adjs: tuple[str, ...] = ()    # English order
    pron: str = ""                # subject pronoun (PRONOUNS) or "who"


@dataclass(frozen=True)
class PP:
    prep: str                     # key of PREPS
    np: NP


@dataclass(frozen=True)
class Clause:
    subj: NP
    verb: str                     # verb lemma, or "be"
    neg: bool = False
    obj: NP | None = None         # object of a transitive verb, goal of a motion verb
    adjs: tuple[str, ...] = ()    # "be" + one or two adjectives joined by "and"
    pp: PP | None = None          # adjunct, or the place after "be"


@dataclass(frozen=True)
class Sentence:
    kind: str                     # "statement" | "fragment" | "yn" | "wh"
    clauses: tuple[Clause, ...] = ()
    conjs: tuple[str, ...] = ()   # statement: the conjunction before clauses[1:]
    wh: str = ""                  # "how" | "where" | "what" | "who"
    np: NP | None = None          # fragment
    pp: PP | None = None          # fragment
    period: bool = False


WHO = NP(pron="who")

NOUN_BY_EN: dict[str, Noun] = {n.en: n for n in NOUNS}
ADJ_BY_EN: dict[str, Adj] = {a.en: a for a in ADJS}
VERB_BY_EN = {v.en: v for v in VERBS}


def en_plural(n: Noun) -> str:
    return n.en_pl or n.en + "s"


def _es_plural(word: str, irregular: str) -> str:
    if irregular:
        return irregular
    return word + ("s" if word[-1] in "aeiouáéíóú" else "es")


def agree(np: NP) -> tuple[int, str, bool]:
    """(person index 0..4 into verb forms, gender, plural) of a subject."""
    if np.pron == "who":
        return 2, "m", False
    if np.pron:
        person, gender = PRONOUNS[np.pron]
        return person, gender, person >= 3
    return (4 if np.plural else 2), NOUN_BY_EN[np.noun].gender, np.plural


def _adj_es(adj: Adj, gender: str, plural: bool) -> str:
    base = adj.es
    if base.endswith("o"):
        return base[:-1] + ("a" if gender == "f" else "o") + ("s" if plural else "")
    return _es_plural(base, adj.es_pl) if plural else base


def en_be(person: int) -> str:
    return {0: "am", 2: "is"}.get(person, "are")


def en_do(person: int) -> str:
    return "does" if person == 2 else "do"


# ---------------------------------------------------------------------------------------- realisation

EsTokens = list[tuple[str, tuple[int, ...]]]  # Spanish token + the English positions it aligns to


class _Builder:
    """Collects English tokens in order; each ``w`` returns the new token's position."""

    def __init__(self) -> None:
        self.en: list[str] = []

    def w(self, token: str) -> int:
        self.en.append(token)
        return len(self.en) - 1


def _np(b: _Builder, np: NP) -> EsTokens:
    noun = NOUN_BY_EN[np.noun]
    es: EsTokens = []
    if np.det:
        number = 3 if np.plural else 1
        det_es = DETS[np.det][number + (1 if noun.gender == "f" else 0)]
        es.append((det_es, (b.w(np.det),)))
    adj_pos = [b.w(a) for a in np.adjs]
    n = b.w(en_plural(noun) if np.plural else noun.en)
    es.append((_es_plural(noun.es, noun.es_pl) if np.plural else noun.es, (n,)))
    for a, i in reversed(list(zip(np.adjs, adj_pos, strict=True))):  # mirror: nearest stays nearest
        es.append((_adj_es(ADJ_BY_EN[a], noun.gender, np.plural), (i,)))
    return es


def _pp(b: _Builder, pp: PP) -> EsTokens:
    en, es, _ = PREPS[pp.prep]
    pos = tuple(b.w(t) for t in en)
    return [(t, pos) for t in es] + _np(b, pp.np)


def _subject(b: _Builder, np: NP) -> tuple[EsTokens, tuple[int, ...]]:
    """Spanish subject tokens and the English positions the verb inherits (a dropped pronoun)."""
    if np.pron == "who":
        return [("quién", (b.w("who"),))], ()
    if np.pron:
        return [], (b.w(np.pron),)
    return _np(b, np), ()


def _adjectives(b: _Builder, adjs: tuple[str, ...], gender: str, plural: bool) -> EsTokens:
    es: EsTokens = []
    for k, a in enumerate(adjs):
        if k:
            es.append(("y", (b.w("and"),)))
        es.append((_adj_es(ADJ_BY_EN[a], gender, plural), (b.w(a),)))
    return es


def _complement(b: _Builder, c: Clause, gender: str, plural: bool) -> EsTokens:
    """What follows "be": one or two adjectives, or a place."""
    if c.adjs:
        return _adjectives(b, c.adjs, gender, plural)
    assert c.pp is not None, "a 'be' clause needs adjectives or a place"
    return _pp(b, c.pp)


def _copula(c: Clause, person: int) -> str:
    estar = c.pp is not None or not c.adjs or ADJ_BY_EN[c.adjs[0]].copula == "estar"
    return (ESTAR if estar else SER)[person]


def _verb(b: _Builder, c: Clause, person: int, pos: tuple[int, ...], *,
          base: bool) -> tuple[str, tuple[int, ...]]:
    """Write the English verb (base form after do/does) and its particle; return the Spanish form,
    aligned to the verb, the particle and the extra positions ``pos`` (pronoun, do/does)."""
    verb = VERB_BY_EN[c.verb]
    pos = pos + (b.w(verb.en if base or person != 2 else verb.en_3sg),)
    if verb.particle:
        pos = pos + (b.w(verb.particle),)
    return verb.es[person], tuple(sorted(pos))


def _rest(b: _Builder, c: Clause) -> EsTokens:
    """Object or goal, then the adjunct phrase."""
    verb = VERB_BY_EN[c.verb]
    es: EsTokens = []
    if verb.kind == "motion":
        es.append((verb.prep[1], (b.w(verb.prep[0]),)))
    if c.obj is not None:
        es += _np(b, c.obj)
    if c.pp is not None:
        es += _pp(b, c.pp)
    return es


def _statement(b: _Builder, c: Clause) -> EsTokens:
    person, gender, plural = agree(c.subj)
    subj_es, pron = _subject(b, c.subj)
    if c.verb == "be":
        be = b.w(en_be(person))
        neg: EsTokens = [("no", (b.w("not"),))] if c.neg else []
        head = [(_copula(c, person), tuple(sorted(pron + (be,))))]
        return subj_es + neg + head + _complement(b, c, gender, plural)
    neg, aux = [], ()
    if c.neg:
        aux = (b.w(en_do(person)),)
        neg = [("no", (b.w("not"),))]
    verb = _verb(b, c, person, pron + aux, base=c.neg)
    return subj_es + neg + [verb] + _rest(b, c)


def _yes_no(b: _Builder, c: Clause) -> EsTokens:
    person, gender, plural = agree(c.subj)
    if c.verb == "be":
        be = b.w(en_be(person))
        subj_es, pron = _subject(b, c.subj)
        head = [(_copula(c, person), tuple(sorted(pron + (be,))))]
        if c.adjs:
            return head + _complement(b, c, gender, plural) + subj_es
        return head + subj_es + _complement(b, c, gender, plural)
    aux = b.w(en_do(person))
    subj_es, pron = _subject(b, c.subj)
    return [_verb(b, c, person, pron + (aux,), base=True)] + subj_es + _rest(b, c)


def _wh(b: _Builder, s: Sentence) -> EsTokens:
    c = s.clauses[0]
    if s.wh == "who":
        return _statement(b, c)
    wh = [(WH[s.wh], (b.w(s.wh),))]
    person = agree(c.subj)[0]
    if c.verb == "be":  # how / where + be + subject
        be = b.w(en_be(person))
        subj_es, pron = _subject(b, c.subj)
        return wh + [(ESTAR[person], tuple(sorted(pron + (be,))))] + subj_es
    aux = b.w(en_do(person))  # where / what + do + subject + verb (the object is the gap)
    subj_es, pron = _subject(b, c.subj)
    return wh + [_verb(b, c, person, pron + (aux,), base=True)] + subj_es


def _contract(es: EsTokens) -> EsTokens:
    """a + el -> al, de + el -> del (aligned to both); y -> e before an i sound."""
    out: EsTokens = []
    for tok, pos in es:
        if tok == "el" and out and out[-1][0] in ("a", "de"):
            prev, prev_pos = out.pop()
            out.append(("al" if prev == "a" else "del", tuple(sorted(set(prev_pos + pos)))))
        else:
            out.append((tok, pos))
    for k in range(len(out) - 1):
        nxt = out[k + 1][0]
        if out[k][0] == "y" and (nxt.startswith("i") or (nxt.startswith("hi") and nxt[2:3] not in "aeé")):
            out[k] = ("e", out[k][1])
    return out


def realize(s: Sentence) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """English tokens, Spanish tokens and alignment links (i, j) of one derivation."""
    b = _Builder()
    es: EsTokens = []
    if s.kind == "statement":
        for k, c in enumerate(s.clauses):
            if k:
                es.append((CONJS[s.conjs[k - 1]], (b.w(s.conjs[k - 1]),)))
            es += _statement(b, c)
    elif s.kind == "fragment":
        es = (_np(b, s.np) if s.np else []) + (_pp(b, s.pp) if s.pp else [])
    else:
        body = _yes_no(b, s.clauses[0]) if s.kind == "yn" else _wh(b, s)
        q = b.w("?")
        es = [("¿", (q,))] + body + [("?", (q,))]
    if s.period:
        es.append((".", (b.w("."),)))
    es = _contract(es)
    en = [("an" if t == "a" and b.en[k + 1][0] in "aeiou" else t) for k, t in enumerate(b.en)]
    links = sorted((i, j) for j, (_, pos) in enumerate(es) for i in pos)
    return en, [t for t, _ in es], links
