"""Where the program is, read by rule: the stage a turn names or hints at, and whether it
speaks of several programs at once (a portfolio, "another compound", "Programme B").

Stage names are not retyped from the framework: synonyms are keyed by a short phrase that is
resolved against the Decision Matrix row labels at call time, so a row the corpus drops is simply
no longer recognised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from advisor_bot.reading.amounts import mixed_volume_span
from advisor_bot.reading.clauses import PAST_AFTER, PAST_BEFORE, Span, clause_end, clause_start, denied, negated, restart_end, restarts, rx

_IN_LICENSED = rx(r"in[- ]?licen[cs]ed|acquired (?:a|another) (?:compound|asset|program)")

def mentions_another(text: str, *, earlier: Sequence[str] = ()) -> bool:
    """Whether ``text`` brings in another compound or program ("a second compound", "another asset"),
    or names a program by a label no earlier turn used ("Programme B: hit-to-lead." ... "Programme A:
    just entered Phase I.": the letters need not come in order)."""
    if _SAME_STAGE.search(text):
        return False
    before = {label for turn in earlier for label in program_labels(turn)}
    # "Asset C just moved into Phase 1" after "Asset C is in hit-to-lead": the same program, moved on.
    fresh = _LABEL.sub(lambda m: " " if m.group(1).upper() in before else m.group(0), text)
    if _ANOTHER.search(fresh) or _IN_LICENSED.search(fresh):
        return True
    labels = program_labels(text)
    return bool(labels and before and not labels & before)


_LABEL = re.compile(r"(?i)\b(?:compound|molecule|asset|program|programme|project|candidate)\s+([A-H]|[1-9])\b(?!-)")


def program_labels(text: str) -> set[str]:
    """The labels programs are named by in ``text`` ("Programme A", "asset 2")."""
    return {m.group(1).upper() for m in _LABEL.finditer(text)}


# -- Stage ---------------------------------------------------------------------------------
class _StageTerms(NamedTuple):
    names: re.Pattern[str]  # the stage named outright: "lead op", "Phase 2", "IND-enabling"
    hints: re.Pattern[str]  # work typical of the stage: "SAR", "tox batches"; weaker than a name


_PHASE_1_2 = r"(?:1|2|i{1,2}|one|two)[ab]?"
_STAGE_TERMS: dict[str, _StageTerms] = {
    "hit identification": _StageTerms(rx(
        r"hit[- ]?(?:identification|id|finding|discovery|generation)",
        r"(?:early[- ](?:stage )?|drug |lead |hit )?discovery(?: stage| phase| chemistry| program(?:me)?)?",
    ), rx(
        r"HTS|high[- ]throughput screen\w*|(?:first|initial|primary) screens?",
        r"(?:focused|screening|diversity|compound|DEL|DNA[- ]encoded) librar(?:y|ies)|library (?:design|synthesis)",
        r"(?:brand[- ]new|new|novel|validated) target|target (?:is |was |has been |just )?validated",
        r"no (?:molecules|compounds|hits|chemical matter|chemistry) yet",
        r"(?:first|initial) (?:set of |batch of )?(?:compounds|molecules) to (?:screen|test)",
    )),
    "hit-to-lead": _StageTerms(rx(
        r"hit[- ]?(?:to|2)[- ]?lead(?: optimi[sz]ation)?|H2L|HtL|hit expansion",
    ), rx(
        r"(?<!proprietary )SAR(?: stud(?:y|ies)| work| campaign| exploration)?",
        r"analog(?:ue)?s?(?: synthesis| series| work| turnarounds?)?",
    )),
    "lead optimization": _StageTerms(rx(
        r"lead[- ]?op(?:t|s)?|lead[- ]?optim\w*|(?-i:LO)",  # optim\w*: also "optimzation", "optimsation"
        r"(?:optimi[sz]|tweak|tun|refin|polish)\w* (?:our|the|a|this|that) (?:lead |chemical |compound )?(?:series|scaffold|chemotype)",
        r"(?:lead|series|scaffold|chemotype|leads)(?: series| compounds?| molecules?)? (?:is |are )?(?:still |currently |now )?"
        r"being (?:optimi[sz]ed|tweaked|tuned|refined|polished)",
        r"optimi[sz]\w* (?:our|the|a) leads?",
    ), rx(r"process[- ]relevant route")),
    "preclinical candidate": _StageTerms(rx(
        r"(?:pre[- ]?clinical|development) candidate(?: selection| nomination)?|PCC",
        r"candidate (?:selection|nomination|nominat\w*|selected|pick\w*|choice|declaration)",
        # "picking a clinical candidate", "selecting our lead candidate": one qualifier before the noun
        r"(?:nominat|select|pick|choos|declar)\w* (?:a |an |our |the )?(?:[\w-]+ )?candidate",
    ), rx(r"pre[- ]?clinical(?: stage| development| phase| work)?")),
    "ind-enabling": _StageTerms(rx(
        r"(?:pre[- ]?)?IND(?:/CTA)?(?:[- ]enabling)?(?: studies| work| package| stage| filing)?|CTA|IMPD",
    ), rx(
        r"(?:pre[- ]?clinical |GLP[- ]?)?tox\w*(?: stud(?:y|ies)| batch(?:es)?| lots?| material| supply| work)?",
        r"GLP(?: stud(?:y|ies)| batch(?:es)?)?",
    )),
    "phase i/ii": _StageTerms(rx(
        # "Ph2" but not "pH 2" or "phi"
        rf"(?:phase[\s-]?{_PHASE_1_2}|ph\.?[12][ab]?)(?:\s*(?:/|-|&|and|or|to)\s*{_PHASE_1_2})?",
        r"first[- ]in[- ](?:human|man|patients?)|FIH|FTIH|(?:into|toward|towards|entering|enter|reach\w*|for) the clinic",
        r"first (?:patient|subject|participant|volunteer)s? (?:is |are |will be |gets? |was )?(?:dosed|enrolled|treated)",
        r"first[- ]patient[- ]in|FPI|dos(?:e|ing) (?:the|our) first (?:patient|subject)s?",
        r"early[- ](?:stage )?clinical(?: development| trials?| stud(?:y|ies))?",
        r"(?:in|into|entering|entered) clinical development",
    ), rx(
        r"clinical (?:supply|supplies|trial material|material|trials?|stud(?:y|ies)|batch(?:es)?|API|lots?)",
        r"CTM|(?:proof[- ]of[- ]concept|PoC) (?:trial|study)",
    )),
    "phase iii": _StageTerms(rx(
        r"(?:phase[\s-]?(?:iii|three)|(?:phase[\s-]?|ph\.?)3)[ab]?|phase[\s-]?(?:2|ii)[ab]?\s*/\s*(?:3|iii)",
        r"pivotal(?: trials?| stud(?:y|ies)| phase)?|(?:approved|marketed) (?:product|drug|API)",
        r"(?:product |commercial |market |pre[- ]?)launch|launch(?:ing)? (?:next|this|in|early|late|by)|we launch",
        r"(?:for|before|at|toward|towards|until) (?:the |our )?(?:product )?launch",
        r"commerciali[sz]\w*|commercial (?:stage|phase|launch)",
    ), rx(
        r"commercial (?:supply|manufactur\w*|scale|production|product|API|material|batch(?:es)?|volumes?)",
        r"registration(?:al)?(?: batch(?:es)?| trials?| stud(?:y|ies)| lots?)?",
        r"PPQ|process (?:performance )?(?:validation|qualification)|validation (?:batch(?:es)?|campaign|lots?|runs?)",
    )),
}  # fmt: skip
# Every synonym key: each is its own label when no row labels are given.
STAGE_KEYS: tuple[str, ...] = tuple(_STAGE_TERMS)
# Several programs at once: the Hybrid column's "multiple compounds at different stages".
_PORTFOLIO = rx(
    r"portfolio|pipeline|(?:different|various|several) stages",
    # "IP exposure differs across programs": needs that vary from one program to the next
    r"(?:differ|vary|varies|mixed|changes?)\w* (?:a lot |widely |a great deal )?(?:across|between|from one to the other|by) (?:our |the )?(?:programs|programmes|projects|assets|compounds|molecules)",
    r"\bsome (?:of them |of our \w+ )?(?:are|is|need|needs)\b[^.?!]{0,80}\bothers?\b(?! than)",
    r"(?:two|three|four|several|multiple|[2-9]|\d\d+) (?:programs|programmes|assets|projects|drug candidates|candidates)",
    r"(?:follow[- ]on|back[- ]?up) (?:programs?|programmes?|compounds?|series|molecules?)",
)
_SAME_STAGE = rx(
    r"(?:both|all)(?: of them| of our \w+| three| two| four)? (?:are |is )?(?:now |currently |still )?(?:in|at) (?:the same|phase|ph\.?\s?\d|hit|lead|IND|pre)",
    r"(?:all|both)(?: of them)? (?:at|in) the same (?:point|stage|phase|place)|(?:same|identical) (?:point|stage|phase)",
)
# Only with two different stages mentioned: "one in hit-to-lead, another in Phase 1".
_ANOTHER = rx(
    r"another (?:one|compound|program|programme|asset|molecule|project|series|in|at|is|heading|entering|going)",
    # "now we have also second project in phase 2": the article is often dropped
    r"(?:the other|second|third|additional) (?:one|compound|program|programme|asset|molecule|project|series)|the other is|others? (?:is|are) in",
    # "Compound B is in hit-to-lead", "series B is still in lead op": a letter or number past the first names another
    # (a "Series B" is a funding round unless the series is said to be somewhere: "series B is still in lead op")
    r"\b(?:compound|molecule|asset|program|programme|project|candidate)\s+(?:[B-H]|[2-9]|II|III)\b(?!-)",
    r"\bseries\s+(?:[B-H]|[2-9])\s+(?:is|are|in|still|has|now|compounds?|analog\w*)\b",
    # "compounds in discovery and one in preclinical"
    r"\b(?:and|plus|but|while|with) (?:one|another)(?: (?:compound|molecule|asset|program|programme|project|series))? (?:is )?(?:in|at|being|heading|entering|going)\b",
    # "three compounds: one in discovery, one being optimized and one in phase 1"
    r"(?:two|three|four|five|several|multiple|[2-9]) (?:compounds|molecules|series|assets|programs|programmes|projects)",
    r"one (?:in|at|is|being|heading|entering)\b[^.?!]{0,60}\bone (?:in|at|is|being|heading|entering)",
)


_DESCRIBES_PROVIDER = re.compile(
    r"(?i)[ -](?:chemistry |chem )?(?:CRO|CDMO|partner|vendor|provider|supplier|contractor|shop|lab|labs|firm|outfit)s?(?!\w)"
)


# ...or listed in a terse query ("candidate selection cro cdmo integrated?")
_OPTIONS = re.compile(r"(?i)[ -](?:chemistry |chem )?(?:CRO|CDMO)s?\s*(?:(?:or|vs\.?|versus|/)\s|,?\s+(?:CRO|CDMO|hybrid|integrated)\b)")
# "commercial api supplier type": the kind of provider asked for, for that stage
_KIND_ASKED = re.compile(r"(?i)[ -](?:CRO|CDMO|partner|vendor|provider|supplier|contractor)s?\s+(?:type|kind|model|category)s?\b")
_DETERMINER = re.compile(r"(?i)\b(?:our|the|my|their|your|this|that|a|an|its)\s+$")


class _Mention(NamedTuple):
    start: int
    end: int
    key: str
    named: bool


def _norm(label: str) -> str:
    # The framework is American; accept a British rewording of a label too.
    return " ".join(label.lower().replace("isation", "ization").split())


def _resolve(stages: Sequence[str]) -> dict[str, str]:
    """Synonym key -> row label (read only: shared). A prefix match beats a substring match, and
    a label is claimed by one key only, so "lead optimization" never lands on "Hit-to-lead
    optimization" when the "Lead optimization" row is missing."""
    return _resolved(tuple(stages))


@lru_cache(maxsize=16)  # the row labels of the frameworks loaded: asked for at every mention
def _resolved(stages: tuple[str, ...]) -> dict[str, str]:
    resolved = {key: s for key in _STAGE_TERMS for s in reversed(stages) if _norm(s).startswith(key)}  # first wins
    for key in _STAGE_TERMS:
        unclaimed = [s for s in stages if key in _norm(s) and s not in resolved.values()]
        if key not in resolved and unclaimed:
            resolved[key] = unclaimed[0]
    return resolved


@lru_cache(maxsize=256)  # a turn is looked at for its stage several times per reading
def _mentions(text: str) -> tuple[_Mention, ...]:
    found = [
        _Mention(m.start(), m.end(), key, named)
        for key, terms in _STAGE_TERMS.items()
        for named, pattern in ((True, terms.names), (False, terms.hints))
        for m in pattern.finditer(text)
    ]
    # "our discovery CRO", "the clinical CDMO" describe a provider, not where the program is.
    # But "lead discovery chemistry CRO or CDMO?" names the options: without "our"/"the" before it,
    # a stage followed by "CRO or ..." is the stage, and the rest the choice.
    found = [
        m for m in found
        if not (
            _DESCRIBES_PROVIDER.match(text, m.end)
            and (_DETERMINER.search(text, 0, m.start) or not (_OPTIONS.match(text, m.end) or _KIND_ASKED.match(text, m.end)))
        )
    ]
    # Of overlapping readings the longer wins: "hit-to-lead optimization", "preclinical tox".
    found.sort(key=lambda m: (m.start, m.start - m.end))
    kept: list[_Mention] = []
    for mention in found:
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return tuple(kept)


def _is_past(text: str, mention: _Mention, previous_end: int) -> bool:
    # Look back only to the previous mention: in "moving from lead op into IND" the "from"
    # belongs to lead op, not to IND.
    before = text[max(clause_start(text, mention.start), previous_end) : mention.start]
    after = text[mention.end : clause_end(text, mention.end)]
    return bool(PAST_BEFORE.search(before) or PAST_AFTER.match(after))


def read_stage(text: str, stages: Sequence[str]) -> tuple[str | None, bool | None, Span | None]:
    """(stage, multiple_stages). The stage the user is in or heading into: the rightmost
    mention not in a past-tense clause, names before hints; if every mention is past
    ("we've finished lead op"), the latest of them, as the last known position."""
    labels = _resolve(stages)
    mentions = [m for m in _mentions(text) if m.key in labels]
    # "the lead failed in Phase II; we're going back to a backup series": a stage in the past is not
    # a second program.
    ends = [0] + [m.end for m in mentions]
    live = [m for m, prev in zip(mentions, ends) if not _is_past(text, m, prev) and not denied(text, m.start, m.end)]
    distinct = {labels[m.key] for m in live}
    # After "the lead failed", the backup series is the one program left, not a second one; and
    # "three programs, all at the same point" or "two compounds, both in phase 2" are one stage.
    portfolio = None if restarts(text) or _SAME_STAGE.search(text) else _PORTFOLIO.search(text)
    # A stage named beside amounts given per program ("grams for two discovery programs, kilograms
    # for our lead") is one program of several.
    if found := portfolio or (len(distinct) > 1 and _ANOTHER.search(text)) or (distinct and mixed_volume_span(text)):
        span = found.span() if isinstance(found, re.Match) else (mentions[0].start, mentions[-1].end)
        return None, True, span
    if not mentions:
        return None, None, None
    # "We're not doing discovery anymore" says where the program is not: no position at all; nor
    # does the stage of a program the turn says is over ("the lead failed in Phase II.").
    over = restart_end(text)
    mentions = [m for m in mentions if not denied(text, m.start, m.end) and m.start >= over]
    if not mentions:
        return None, None, None
    ends = [0] + [m.end for m in mentions]
    # ...unless the turn says that program is over ("the lead failed in Phase II"): then no position.
    current = [m for m, prev in zip(mentions, ends) if not _is_past(text, m, prev)] or mentions
    chosen = ([m for m in current if m.named] or current)[-1]
    return labels[chosen.key], None, (chosen.start, chosen.end)


def stage_mentions(text: str, stages: Sequence[str]) -> list[tuple[str, Span, bool, bool]]:
    """Every stage term in ``text``: (row label, span, named outright, past or negated)."""
    return list(_stage_mentions(text, tuple(stages)))


# Earlier turns are read again at every new turn: twenty 1,900-character turns cost 21 ms a reading.
@lru_cache(maxsize=1024)
def _stage_mentions(text: str, stages: tuple[str, ...]) -> tuple[tuple[str, Span, bool, bool], ...]:
    labels = _resolve(stages)
    mentions = [m for m in _mentions(text) if m.key in labels]
    ends = [0] + [m.end for m in mentions]
    return tuple(
        (labels[m.key], (m.start, m.end), m.named, _is_past(text, m, prev) or negated(text, m.start, m.end))
        for m, prev in zip(mentions, ends)
    )


# a span of work ("all the way through", "until"), not a move ("moving from lead op into IND")
_FROM_TO = re.compile(
    r"(?i)\b(?:from|cover\w*)\b[^.?!;]{3,60}?\b(?:all the way (?:to|into|through)|through|until|up to)\b[^.?!;,]{3,50}"
)


def spanning(text: str, stages: Sequence[str]) -> re.Match[str] | None:
    """ "from candidate nomination all the way through Phase 2 supply": one span of work from an
    earlier row of the matrix into a later one."""
    labels = _resolve(stages)
    order = {label: i for i, label in enumerate(stages)}
    for m in _FROM_TO.finditer(text):
        inside = [labels[x.key] for x in _mentions(text[m.start() : m.end()]) if x.key in labels]
        if len({order[s] for s in inside}) > 1:
            return m
    return None
