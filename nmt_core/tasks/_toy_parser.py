"""English -> derivation of the toy grammar, by recursive descent.

Every English word form has one part of speech in the lexicon, so one token of lookahead (two for
"and" + adjective) decides every step and no backtracking is needed. Agreement is checked (determiner
and noun, subject and verb), word choice plausibility is not: "the red milk" parses.
"""

from __future__ import annotations

from dataclasses import replace

from ._toy_grammar import ADJ_BY_EN, NP, PP, VERB_BY_EN, WHO, Clause, Sentence, agree, en_be, en_do, en_plural
from ._toy_lexicon import CONJS, DETS, NOUNS, PREPS, PRONOUNS, VERBS, Noun

_NOUN_FORMS: dict[str, tuple[Noun, bool]] = {}
for _n in NOUNS:
    _NOUN_FORMS[_n.en] = (_n, False)
    if not _n.mass:
        _NOUN_FORMS[en_plural(_n)] = (_n, True)
_VERB_FORMS = {v.en: (v, False) for v in VERBS} | {v.en_3sg: (v, True) for v in VERBS}
_PREP_START = {en[0]: key for key, (en, _, _) in PREPS.items()}
_BE = ("am", "is", "are")
_DO = ("do", "does")


class _Parser:
    """Recursive descent over English tokens; every word has one part of speech, so no backtracking."""

    def __init__(self, tokens: list[str]):
        self.toks = tokens
        self.i = 0

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ""

    def fail(self, what: str) -> ValueError:
        tok = self.peek() or "end of sentence"
        return ValueError(f"not in the toy grammar: {what} at token {self.i + 1} ({tok!r}) of "
                          f"{' '.join(self.toks)!r}")

    def take(self, *allowed: str) -> str:
        tok = self.peek()
        if not tok or (allowed and tok not in allowed):
            raise self.fail(f"expected {' or '.join(allowed) or 'a word'}")
        self.i += 1
        return tok

    def sentence(self) -> Sentence:
        toks = self.toks
        if toks and toks[-1] == "?":
            s = self.question()
            self.take("?")
        else:
            s = self.statement_or_fragment()
            if self.peek() == ".":
                self.take(".")
                s = replace(s, period=True)
        if self.peek():
            raise self.fail("expected the end of the sentence")
        return s

    def statement_or_fragment(self) -> Sentence:
        if self.peek() in _PREP_START:
            return Sentence("fragment", pp=self.pp())
        if self.peek() in PRONOUNS:
            first = self.predicate(NP(pron=self.take()))
        else:
            np = self.np()
            if self.peek() in ("", "."):
                return Sentence("fragment", np=np)
            if self.peek() in _PREP_START:
                return Sentence("fragment", np=np, pp=self.pp())
            first = self.predicate(np)
        clauses, conjs = [first], []
        while self.peek() in CONJS:
            conjs.append(self.take())
            clauses.append(self.predicate(self.subject()))
        return Sentence("statement", tuple(clauses), tuple(conjs))

    def question(self) -> Sentence:
        first, second = self.peek(), self.peek(1)
        if first in ("how", "where") and second in _BE:
            self.take()
            be = self.take()
            subj = self.subject()
            self.check_be(subj, be)
            return Sentence("wh", (Clause(subj, "be"),), wh=first)
        if first in ("where", "what") and second in _DO:
            self.take()
            subj, verb = self.do_subject_verb()
            kind = "intrans" if first == "where" else "trans"
            if VERB_BY_EN[verb].kind != kind:
                raise self.fail(f"{first!r} questions need a {kind}itive verb")
            if VERB_BY_EN[verb].particle:
                self.take(VERB_BY_EN[verb].particle)
            return Sentence("wh", (Clause(subj, verb),), wh=first)
        if first == "who":
            self.take()
            return Sentence("wh", (self.predicate(WHO, allow_neg=False),), wh="who")
        if first in _BE:
            be = self.take()
            subj = self.subject()
            self.check_be(subj, be)
            clause = self.be_complement(subj, False)
            return Sentence("yn", (clause,))
        if first in _DO:
            subj, verb = self.do_subject_verb()
            return Sentence("yn", (self.verb_rest(subj, verb, False),))
        raise self.fail("unknown kind of question")

    def do_subject_verb(self) -> tuple[NP, str]:
        do = self.take(*_DO)
        subj = self.subject()
        if do != en_do(agree(subj)[0]):
            raise self.fail(f"{do!r} does not agree with the subject")
        tok = self.take()
        if tok not in VERB_BY_EN:
            raise self.fail("expected a verb in its base form")
        return subj, tok

    def check_be(self, subj: NP, be: str) -> None:
        if be != en_be(agree(subj)[0]):
            raise self.fail(f"{be!r} does not agree with the subject")

    def subject(self) -> NP:
        return NP(pron=self.take()) if self.peek() in PRONOUNS else self.np()

    def predicate(self, subj: NP, allow_neg: bool = True) -> Clause:
        person = agree(subj)[0]
        tok = self.peek()
        if tok in _BE:
            self.check_be(subj, self.take())
            neg = allow_neg and self.peek() == "not"
            if neg:
                self.take()
            return self.be_complement(subj, neg)
        if tok in _DO and allow_neg:
            if self.take() != en_do(person):
                raise self.fail("do/does does not agree with the subject")
            self.take("not")
            verb = self.take()
            if verb not in VERB_BY_EN:
                raise self.fail("expected a verb in its base form")
            return self.verb_rest(subj, verb, True)
        if tok in _VERB_FORMS:
            verb, is_3sg = _VERB_FORMS[self.take()]
            if is_3sg != (person == 2):
                raise self.fail(f"verb form {tok!r} does not agree with the subject")
            return self.verb_rest(subj, verb.en, False)
        raise self.fail("expected a verb")

    def be_complement(self, subj: NP, neg: bool) -> Clause:
        if self.peek() in ADJ_BY_EN:
            adjs = [self.take()]
            if self.peek() == "and" and self.peek(1) in ADJ_BY_EN:
                self.take()
                adjs.append(self.take())
                if ADJ_BY_EN[adjs[0]].copula != ADJ_BY_EN[adjs[1]].copula:
                    raise self.fail("coordinated adjectives must take the same copula (ser/estar)")
            return Clause(subj, "be", neg, adjs=tuple(adjs))
        if self.peek() in _PREP_START and self.peek() != "with":
            return Clause(subj, "be", neg, pp=self.pp())
        raise self.fail("expected an adjective or a place after 'be'")

    def verb_rest(self, subj: NP, verb: str, neg: bool) -> Clause:
        v = VERB_BY_EN[verb]
        if v.particle:
            self.take(v.particle)
        obj = None
        if v.kind == "motion":
            self.take(v.prep[0])
            obj = self.np()
        elif v.kind == "trans":
            obj = self.np(bare_ok=True)
        pp = self.pp() if self.peek() in _PREP_START else None
        return Clause(subj, verb, neg, obj, pp=pp)

    def pp(self) -> PP:
        key = _PREP_START[self.peek()]
        for tok in PREPS[key][0]:
            self.take(tok)
        return PP(key, self.np())

    def np(self, bare_ok: bool = False) -> NP:
        det = ""
        if self.peek() in DETS or self.peek() == "an":
            det = "a" if self.take() == "an" else self.toks[self.i - 1]
        adjs = []
        while self.peek() in ADJ_BY_EN:
            adjs.append(self.take())
        tok = self.peek()
        if tok not in _NOUN_FORMS:
            raise self.fail("expected a noun")
        self.take()
        noun, plural = _NOUN_FORMS[tok]
        number = DETS[det][0] if det else "sg"
        if (number == "sg" and plural) or (number == "pl" and not plural):
            raise self.fail(f"determiner {det!r} does not agree with {tok!r}")
        if noun.mass and det in ("a", "some", "two", "three"):
            raise self.fail(f"{tok!r} cannot be counted")
        if not det and not (noun.mass and bare_ok):
            raise self.fail(f"{tok!r} needs a determiner here")
        return NP(noun.en, plural, det, tuple(adjs))


def parse(source: str) -> Sentence:
    """The derivation of a whitespace-tokenised, lowercase English sentence; ValueError if none."""
    return _Parser(source.split()).sentence()
