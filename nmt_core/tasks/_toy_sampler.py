"""Random derivations of the toy grammar: which words and constructions, how often.

Every choice goes through one seeded ``random.Random`` and lists in lexicon order (never sets), so a
seed gives the same sentences on every machine and Python version with the same ``random`` algorithm.
Noun tags keep sentences plausible: people read books, dogs do not.
"""

from __future__ import annotations

import itertools
import random

from ._toy_grammar import NOUN_BY_EN, NP, PP, WHO, Clause, Sentence
from ._toy_lexicon import ADJS, NOUNS, PREPS, PRONOUNS, VERBS, Adj, Noun

_ALL_TAGS = frozenset().union(*(n.tags for n in NOUNS))
_VERBS_BY_KIND = {k: [v for v in VERBS if v.kind == k] for k in ("trans", "intrans", "motion")}


class _Weighted:
    """Keys with cumulative weights, precomputed once for ``random.choices``."""

    def __init__(self, *pairs: tuple[str, int]):
        self.keys = [k for k, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))


_SG_DETS = _Weighted(("the", 45), ("a", 20), ("this", 5), ("that", 5), ("my", 5), ("your", 5),
                     ("his", 5), ("her", 4), ("our", 3), ("their", 3))
_PL_DETS = _Weighted(("the", 45), ("some", 12), ("these", 6), ("those", 5), ("two", 7), ("three", 5),
                     ("my", 5), ("your", 4), ("his", 4), ("her", 3), ("our", 2), ("their", 2))
_MASS_DETS = _Weighted(("the", 50), ("this", 5), ("that", 5), ("my", 5), ("your", 4), ("his", 3),
                       ("her", 3), ("our", 2), ("their", 2))
_N_ADJS = _Weighted(("0", 50), ("1", 40), ("2", 10))
_CLAUSE_KINDS = _Weighted(("trans", 34), ("intrans", 18), ("motion", 10), ("be_adj", 26), ("be_loc", 12))
_SENTENCE_KINDS = _Weighted(("statement", 58), ("yn", 12), ("wh", 14), ("fragment", 16))
_N_CLAUSES = _Weighted(("1", 72), ("2", 23), ("3", 5))
_CONJ_WEIGHTS = _Weighted(("and", 60), ("but", 25), ("because", 15))
_FRAGMENTS = _Weighted(("np", 55), ("np_pp", 25), ("pp", 20))
_WH_KINDS = _Weighted(("how", 25), ("where_be", 20), ("where_do", 15), ("what", 20), ("who", 20))
_WHO_KINDS = _Weighted(("trans", 40), ("intrans", 25), ("motion", 10), ("be_adj", 15), ("be_loc", 10))


class Sampler:
    """Draws derivations; every choice goes through one seeded ``random.Random``."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._nouns: dict[frozenset[str], list[Noun]] = {}
        self._adjs: dict[frozenset[str], list[Adj]] = {}

    def pick(self, weighted: _Weighted) -> str:
        return self.rng.choices(weighted.keys, cum_weights=weighted.cum)[0]

    def nouns(self, tags: frozenset[str]) -> list[Noun]:
        if tags not in self._nouns:
            self._nouns[tags] = [n for n in NOUNS if n.tags & tags]
        return self._nouns[tags]

    def adj_pool(self, tags: frozenset[str]) -> list[Adj]:
        if tags not in self._adjs:
            self._adjs[tags] = [a for a in ADJS if a.tags & tags]
        return self._adjs[tags]

    def adjs(self, tags: frozenset[str], k: int) -> tuple[str, ...]:
        """``k`` (0-2) compatible adjectives from different groups, in English prenominal order."""
        if k == 0:
            return ()
        pool = self.adj_pool(tags)
        first = self.rng.choice(pool)
        if k == 1:
            return (first.en,)
        second = self.rng.choice([a for a in pool if a.group != first.group])
        return tuple(a.en for a in sorted((first, second), key=lambda a: a.group))

    def np(self, tags: frozenset[str], *, bare_ok: bool = False) -> NP:
        rng = self.rng
        noun = rng.choice(self.nouns(tags))
        plural = not noun.mass and rng.random() < 0.3
        if noun.mass:
            det = "" if bare_ok and rng.random() < 0.3 else self.pick(_MASS_DETS)
        else:
            det = self.pick(_PL_DETS if plural else _SG_DETS)
        k = self.pick(_N_ADJS)
        return NP(noun.en, plural, det, self.adjs(noun.tags, int(k)))

    def subject(self, tags: frozenset[str], p_pron: float = 0.35) -> NP:
        if "person" in tags and self.rng.random() < p_pron:
            return NP(pron=self.rng.choice(list(PRONOUNS)))
        return self.np(tags)

    def pp(self, preps: tuple[str, ...]) -> PP:
        prep = self.rng.choice(preps)
        return PP(prep, self.np(PREPS[prep][2]))

    def clause(self, kind: str, *, subj: NP | None = None, neg: bool = False) -> Clause:
        rng = self.rng
        if kind in ("be_adj", "be_loc"):
            subj = subj or self.subject(_ALL_TAGS)
            if kind == "be_loc":
                return Clause(subj, "be", neg, pp=self.pp(("in", "on", "under", "near", "behind", "next")))
            tags = frozenset({"person"}) if subj.pron else NOUN_BY_EN[subj.noun].tags
            pool = self.adj_pool(tags)
            first = rng.choice(pool)
            adjs = (first.en,)
            if rng.random() < 0.15:  # "the car is red and new": same copula, different groups
                more = [a for a in pool if a.copula == first.copula and a.group != first.group]
                adjs += (rng.choice(more).en,) if more else ()
            return Clause(subj, "be", neg, adjs=adjs)
        verb = rng.choice(_VERBS_BY_KIND[kind])
        subj = subj or self.subject(verb.subj)
        obj, pp = None, None
        if kind == "trans":
            obj = self.np(verb.obj, bare_ok=True)
            pp = self.pp(tuple(PREPS)) if rng.random() < 0.2 else None
        elif kind == "motion":
            obj = self.np(verb.obj)
            pp = self.pp(("with",)) if rng.random() < 0.15 else None
        else:
            pp = self.pp(tuple(PREPS)) if rng.random() < 0.5 else None
        return Clause(subj, verb.en, neg, obj, pp=pp)

    def clause_kind(self) -> str:
        return self.pick(_CLAUSE_KINDS)

    def sentence(self) -> Sentence:
        rng = self.rng
        kind = self.pick(_SENTENCE_KINDS)
        if kind == "statement":
            n = int(self.pick(_N_CLAUSES))
            clauses = tuple(self.clause(self.clause_kind(), neg=rng.random() < 0.12) for _ in range(n))
            conjs = tuple(self.pick(_CONJ_WEIGHTS) for _ in range(n - 1))
            return Sentence("statement", clauses, conjs, period=rng.random() < 0.5)
        if kind == "yn":
            return Sentence("yn", (self.clause(self.clause_kind()),))
        if kind == "fragment":
            form = self.pick(_FRAGMENTS)
            np = None if form == "pp" else self.np(_ALL_TAGS)
            pp = None if form == "np" else self.pp(tuple(PREPS))
            return Sentence("fragment", np=np, pp=pp, period=rng.random() < 0.2)
        return self.wh_question()

    def wh_question(self) -> Sentence:
        wh = self.pick(_WH_KINDS)
        if wh == "who":
            kind = self.pick(_WHO_KINDS)
            return Sentence("wh", (self.clause(kind, subj=WHO),), wh="who")
        if wh in ("how", "where_be"):
            subj = self.subject(frozenset({"person", "animal"}) if wh == "how" else _ALL_TAGS, 0.5)
            return Sentence("wh", (Clause(subj, "be"),), wh="how" if wh == "how" else "where")
        verb = self.rng.choice(_VERBS_BY_KIND["intrans" if wh == "where_do" else "trans"])
        subj = self.subject(verb.subj, 0.5)
        return Sentence("wh", (Clause(subj, verb.en),), wh="where" if wh == "where_do" else "what")
