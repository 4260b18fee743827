"""What the user has told us about their program, read by rule into a Situation.

Deterministic on purpose: a recommendation must be reproducible and testable, so
every fact comes from a pattern a reviewer can read here, never from a model.
The stage is read in ``stage_rules``; the profile, quantity, GMP and partner facts here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from advisor_bot.reading.amounts import mixed_volume_span, needed_quantity
from advisor_bot.reading.clauses import Span, negated, rx
from advisor_bot.reading.stage_rules import STAGE_KEYS, read_stage, spanning
from advisor_bot.situation import Column, Situation

# -- Organizational Profile rows -----------------------------------------------------------
_Cues = tuple[tuple[Column, re.Pattern[str]], ...]
_FEW = r"no|zero|0|one|1|two|2|a couple of|only a couple of"
_SEVERAL = r"[3-9]|\d\d+|three|four|five|six|seven|eight|nine|ten|a few|several|a handful of"
_CHEMISTS = r"(?:[\w-]+ ){0,2}\w*chemists?"
# A count of chemists is the team's own only after "we have", "team of", "only"...: "What would two
# chemists cost?" is about hiring a CRO's.
_HAVE = r"(?:have|'ve got|got|only|just|team is|team of|team has|employ|[\u2014\u2013:,-])\s+(?:about |around |roughly )?"
_ON_STAFF = r"(?:in[- ]house|internal|on[- ]staff)[\w\s-]{0,15}?chem(?:ist)?s?"
_IN_HOUSE: _Cues = (
    ("CRO", rx(
        rf"{_HAVE}(?:{_FEW}) {_CHEMISTS}|(?:{_FEW}) {_ON_STAFF}",
        rf"(?:{_FEW}) {_CHEMISTS} (?:in[- ]house|on staff|internally|of our own)",
        rf"(?:no|zero|not a single|without|don'?t have|do not have|lack)(?: any)? {_CHEMISTS}",
        r"no (?:in[- ]house |internal )?(?:chemistry|lab|labs|wet lab)|(?:all|only|just) biologists",
        r"virtual (?:biotech|company|pharma|model)|limited (?:in[- ]house |internal )?chemistry",
    )),
    ("CDMO", rx(
        r"strong (?:in[- ]house |internal )?process (?:chemistry|chemists|group|team|R&D)",
        r"(?:in[- ]house|internal|our own) process (?:chem\w* |R&D )?(?:group|team|chemists|department)",
        r"process (?:chem\w* )?(?:group|team) (?:is (?:strong|solid|experienced)|already has|has the route)",
        # "good process chemists in house"
        r"(?:good|strong|experienced|solid|capable|our own) process (?:chemists|chemistry|team|group)\b[^.?!,;]{0,12}\b(?:in[- ]house|internally|on staff)",
    )),
    ("Hybrid", rx(
        rf"{_HAVE}(?:{_SEVERAL}) {_CHEMISTS}|(?:{_SEVERAL}) {_ON_STAFF}|a bit of process experience",
        rf"(?:{_SEVERAL}) {_CHEMISTS} (?:in[- ]house|on staff|internally|of our own)",
        # the team's own ("we have some chemistry in house"), not what is sent out ("outsource some chemistry")
        r"(?:moderate|some|modest) (?:in[- ]house|internal) (?:R&D|chemistry|chemists|med chem)",
        rf"{_HAVE}(?:moderate|some|modest) (?:R&D|chemistry|chemists|med chem)",
        r"(?:moderate|some|modest) (?:R&D|chemistry|chemists|med chem) (?:in[- ]house|internally|of our own|capabilit\w*|capacity|expertise)",
        r"small (?:in[- ]house |internal )?(?:med(?:icinal)? )?(?:chemistry|chem) (?:team|group)",
        # "our internal R&D is moderate"
        r"(?:in[- ]house|internal) (?:R&D|chemistry|chemists|capabilit\w*|capacity) (?:is|are) (?:only )?(?:moderate|modest|medium|mid-sized|limited but real)",
    )),
)  # fmt: skip
_BUDGET: _Cues = (
    ("CRO", rx(
        r"opex|operating (?:expense|expenditure|budget|cost)s?|operational expenses?|pay[- ]as[- ]you[- ]go",
        r"no (?:big |large |major |significant )?(?:up[- ]?front|capital|capex)",
    )),
    ("CDMO", rx(
        r"capex|capital (?:expenditure|budget|commitment)s?|capital (?:is )?(?:available|set aside|allocated)",
        r"(?:have|has|with) (?:the )?capital|up[- ]?front (?:campaign )?commitments?|campaign commitments?",
        r"commit\w* (?:to )?(?:[\w-]+ ){0,5}?(?:campaigns?|batches)|commit\w* (?:the |our |some )?capital",
        r"(?:ring[- ]?fenced|set aside|earmarked|approved|committed) capital|capital (?:is |was )?(?:ring[- ]?fenced|approved|earmarked)",
    )),
    ("Hybrid", rx(
        r"mixed budget|budget is mixed|stage[- ]gat(?:ed|es?|ing)|tranches?|gated on (?:data|results|milestones)",
        r"(?:stage|phase|milestone|gate)[- ]by[- ](?:stage|phase|milestone|gate)",
        r"(?:released|unlocked|funded|allocated|comes?|paid|arrives?|flows?) (?:in |out )?(?:per|at|by|on|with|against) (?:each |every |the )?milestones?",
        r"milestone[- ](?:based|driven|gated|linked) (?:funding|budget|money|financing|tranches?)",
    )),
)  # fmt: skip
_TIMELINE: _Cues = (
    ("CRO", rx(
        r"rapid (?:iteration|cycles|turn[- ]?around|design)\w*|(?:fast|quick|rapid|short) (?:research )?turn[- ]?arounds?",
        r"turn(?:ed)? around (?:fast|quickly)|turn[- ]?arounds? (?:in|of|within) (?:a few )?(?:days|weeks)",
        r"design[- ]make[- ]test(?:[- ]analy[sz]e)?(?: cycles?)?|DMTA|weeks,? not months",
        r"every (?:week|few weeks|couple of weeks)|weekly|within (?:a few )?weeks",
    )),
    ("CDMO", rx(
        r"(?:production|supply|manufacturing|delivery|clinical|hard|firm|fixed) deadlines?|deadlines?",
        r"months (?:out|away|from now)|months,? not weeks|(?:in|within) (?:a few |several |the next |\d+ |\w+ )?months",
        r"by (?:next )?(?:spring|summer|fall|autumn|winter|year[- ]end|end of (?:the )?(?:year|quarter)|Q[1-4])",
    )),
    ("Hybrid", rx(
        r"both (?:research[- ])?speed and (?:supply )?deadlines",
        # "both fast research answers AND supply deadlines for another program"
        r"(?:fast|quick|rapid|speed|iterat)\w*\b[^.?!]{0,50}\b(?:and|but also|while|plus|as well as)\b[^.?!]{0,40}\b(?:supply|production|delivery|manufacturing) deadlines?",
    )),
)  # fmt: skip
_IP: _Cues = (
    ("CRO", rx(
        r"novel (?:compounds?|scaffolds?|chemotypes?|chemistry|structures?|chemical matter)|proprietary SAR",
        r"(?:very|highly|extremely|super|really) (?:IP[- ])?sensitive|(?:high|very high) IP sensitivity",
        r"IP sensitivity is (?:very |really |extremely )?high",
    )),
    ("CDMO", rx(
        r"process,? not (?:the )?structure|structure (?:is )?(?:already )?patented|protect(?:ing)? (?:the|our) process",
        r"composition[- ]of[- ]matter (?:patent|is (?:already )?(?:patented|filed|covered))",
        r"structure (?:is )?(?:already )?(?:public|published|disclosed|patented|in (?:our|the|a) patent)",
        r"(?:value|IP|edge|advantage|secret|know-how) (?:is |lies |sits )?(?:now |really |mostly )*in (?:the|our) (?:manufacturing |production )?process",
        # "the molecule is off-patent; our whole edge is a cheaper manufacturing process"
        r"(?:value|IP|edge|advantage|moat|differentiat\w*) (?:is|lies|sits) (?:in )?(?:a |the |our )?(?:[\w-]+ ){0,2}(?:manufacturing|production) (?:process|route)",
        r"off[- ]patent|generic molecule|(?:structure|molecule) (?:is|was) (?:old|known|public)",
    )),
    ("Hybrid", rx(
        r"(?:varies|variable|differs|mixed) (?:across|between|by) (?:the |our )?(?:portfolio|programs|compounds|assets)",
        r"IP sensitivity (?:varies|is mixed)",
    )),
)  # fmt: skip


def _column(text: str, cues: _Cues) -> tuple[Column | None, Span | None]:
    """The matrix column of a row; cues in both the CRO and CDMO column make the Hybrid
    cell ("mixed budget", "both speed and deadlines", "variable across portfolio")."""
    found = sorted(
        (m.span(), column) for column, pattern in cues for m in pattern.finditer(text) if not negated(text, m.start(), m.end())
    )
    columns = {column for _, column in found}
    if "Hybrid" in columns:
        # "stage-gated, some opex and some committed spend": the mixed cell was named outright.
        return "Hybrid", next(span for span, column in found if column == "Hybrid")
    if {"CRO", "CDMO"} <= columns:
        return "Hybrid", (found[0][0][0], found[-1][0][1])
    return (found[-1][1], found[-1][0]) if found else (None, None)


# -- Yes/no facts --------------------------------------------------------------------------
# "no GMP suite", "our GMP plant": a facility the user has or lacks, not material they need.
_GMP_YES = rx(
    r"c?GMP(?:[- ]grade| material| API| batch(?:es)?| manufactur\w*| compliant| compliance| quality)?"
    r"(?! (?:suite|facilit\w*|plant|site|capabilit\w*|capacit\w*|lab|labs|space|infrastructure))(?![- ](?:capable|certified|compliant vendor))"
)
_GMP_NO = rx(r"research[- ]grade|non[- ]?c?GMP")
_ONE_PARTNER = rx(
    # "one accountable partner" (not "one more partner", "one other supplier")
    r"(?:one|single|a single|the same|same)[- ](?:(?!more|other|new|additional|extra)[\w-]+ )?(?:partner|vendor|provider|supplier|source)s?",
    r"(?:one|a single|the same) (?:company|organi[sz]ation) (?:for|to|that|doing|handling)",  # not "name one company"
    r"(?:a single|single|the same|same) (?:CRO|CDMO)(?! ?(?:chemist|scientist|staff|team))",
    r"one[- ]stop[- ]shop|under one roof|end[- ]to[- ]end (?:partner|provider)|do both",
    r"(?:one|single|a single) (?:company|organi[sz]ation|partner|vendor|provider)s? (?:from|through|across|all the way|end[- ]to[- ]end)",
    r"(?:the )?same (?:team|group|company|organi[sz]ation|partner|vendor|provider) (?:to |for |from |through |all the way)",
    r"(?:with )?no (?:hand-?offs?|hand-?overs?|tech(?:nology)? transfers?)(?: at all)?",
    # "nobody has to hand the process over", "without handing anything over"
    r"(?:nobody|no one|no-one|never|without) (?:[\w-]+ ){0,3}?hand(?:s|ing|ed)? (?:[\w-]+ ){0,3}?(?:over|off)\b",
    # "one contract covering route research all the way to commercial supply"
    r"(?:one|a single|single) (?:contract|agreement|relationship|MSA) (?:covering|that covers|to cover|for everything|from|through|across|all the way)",
    r"integrated (?:CRO ?[/+] ?CDMO )?(?:partner|provider|CDMO)",
    r"(?:avoid|skip|eliminat|bypass|minimi[sz])\w* (?:the |any |a )?(?:(?:tech(?:nology)?|process) transfer|hand-?offs?|hand-?overs?)",
    # "a model that avoids the transfer altogether", "what setup avoids that entirely?"
    r"(?:avoid|skip|eliminat|bypass)\w* (?:the |any |that |this |it )?(?:transfer |hand-?over |hand-?off )?(?:entirely|altogether|completely|for good)",
    # a transfer that went wrong before: "burned by a failed tech transfer"
    r"(?:burn(?:ed|t)|bitten|scarred) by (?:a |an |the |our )?(?:\w+ )?(?:tech(?:nology)? transfer|hand-?over|hand-?off)",
    r"(?:rather not|not want to|don'?t want to|never again|refus(?:e|es|ed|ing) to|unwilling to|won'?t) (?:[\w-]+ ){0,3}?(?:a |any |another |the )?"
    r"(?:CRO ?(?:->|→|to) ?CDMO )?(?:hand-?over|hand-?off|tech(?:nology)? transfer)",
)
_SEVERAL_PARTNERS = rx(
    # ("a transfer between two separate companies" says what a transfer is, not a wish for two)
    r"(?<!between )(?<!between two )separate (?:vendors|partners|providers|companies|suppliers)|best[- ]of[- ]breed",
    r"specialist (?:[\w-]+ ){0,2}(?:CROs?|CDMOs?|vendors?|partners?|providers?)",
    r"(?:two|different|multiple|several) (?:vendors|partners|providers|suppliers)|dual[- ]sourc\w*|second source",
    r"(?:willing|happy|ok|okay|fine|prepared|comfortable)(?: to)? (?:manag|handl|accept|do|run)\w* (?:a |the |one )?(?:[\w-]+ )?(?:hand-?over|hand-?off|tech(?:nology)? transfer)",
)


def _flags(text: str, yes: re.Pattern[str], no: re.Pattern[str]) -> list[tuple[Span, bool]]:
    """Spans and polarity of every cue; a negated cue counts for the other side."""
    return sorted(
        [(m.span(), not negated(text, m.start(), m.end())) for m in yes.finditer(text)]
        + [(m.span(), negated(text, m.start(), m.end())) for m in no.finditer(text)]
    )


def _gmp(text: str) -> tuple[bool | None, Span | None]:
    # The latest statement wins: "moving from research-grade to GMP material" needs GMP.
    # "no GMP manufacturing" is a facility the user lacks, not material they do not need. Research-grade
    # is denied only right before it ("not research grade"): in "no gmp needed research grade" the
    # "no" belongs to GMP.
    needs = [(m.span(), not negated(text, m.start(), m.end())) for m in _GMP_YES.finditer(text)]
    needs = [(span, yes) for span, yes in needs if yes or "manufactur" not in text[span[0] : span[1]].lower()]
    research = [(m.span(), bool(_DENIED_HERE.search(text, 0, m.start()))) for m in _GMP_NO.finditer(text)]
    flags = sorted(needs + research)
    return (flags[-1][1], flags[-1][0]) if flags else (None, None)


_DENIED_HERE = re.compile(r"(?i)\b(?:not|isn'?t|aren'?t|no longer|non|never)(?: really| quite| just| only| yet| fully)?\W{0,2}$")
# Research work beside a CDMO that already manufactures: the framework's parallel engagement.
_PARALLEL_WORK = rx(
    r"back[- ]?up routes?|alternative routes?|second(?:ary)? routes?|route (?:backup|alternatives?)|second[- ]generation (?:route|process)s?",
    r"back[- ]?up (?:series|compounds?|molecules?)",
    r"impurit\w* (?:investigation|mechanism|work|problem|issue)s?|(?:investigat|fix|solv|work(?:ing)? out|sort(?:ing)? out|understand|tackl|address)\w* (?:[\w-]+ ){0,4}?impurit\w*",
    # "bring a CRO in alongside", "chemists beside the CDMO"
    r"(?:CROs?|chemists?|research (?:partner|lab|shop)s?)\b[^.?!]{0,20}\b(?:alongside|in parallel|at the same time)\b",
    r"follow[- ]on (?:programs?|programmes?|analogs?|analogues?|series|compounds?)",
)
_PARALLEL_CUE = rx(
    r"in parallel|alongside|at the same time|meanwhile|simultaneous\w*|in case the current",
    r"(?:our|the|a) CDMO (?:is|are|makes|making|manufactur\w*|produc\w*|runs|running)",
    r"made (?:at|by) (?:a|our|the) CDMO|current (?:route|process)",
)


def runs_beside(text: str) -> bool:
    """Whether ``text`` (a turn or a conversation) describes research work running beside a CDMO's manufacturing."""
    return _parallel(text) is not None


def _parallel(text: str) -> Span | None:
    # The cue first: it is the rarer, and a quarter of the cost to look for (2.8 against 11.6 ms over a
    # conversation of twenty 1,900-character turns, read whole at every answer).
    if not _PARALLEL_CUE.search(text):
        return None
    work = _PARALLEL_WORK.search(text)
    return work.span() if work else None


_TRANSITION = rx(
    r"(?:from|covering) (?:route|research|discovery|lead|early|first synthesis)[\w\s-]{0,20}? (?:all the way )?(?:through|to|into|until) (?:c?GMP|manufactur\w*|commercial|the clinic|clinical)",
    r"(?:mov\w*|transition\w*|go(?:ing)?|shift\w*|switch\w*|progress\w*) (?:from|out of) research[- ]grade",
    r"from (?:pure |basic |early |discovery )?research(?:[- ]grade)?(?: material| work)? (?:to|into|towards?) (?:regulated|c?GMP)",
    r"research[- ]grade (?:to|->|→) (?:regulated|c?GMP)",
    # "mid-way between research and regulated work"
    r"between research(?:[- ]grade)?(?: work| material)? and (?:regulated|c?GMP)",
    # looking ahead from research: "when we get to manufacturing", "once we reach the clinic"
    r"(?:when|once|after|by the time) (?:we|it|the \w+) (?:(?:get|gets|move|moves|go|goes|make it) (?:in)?to|reach|reaches|enter|enters) "
    r"(?:c?GMP|manufactur\w*|commercial|the clinic|clinical|scale[- ]?up)",
)


_OPTION = re.compile(r"(?i)\bor\b|\bvs\.?\b|\bversus\b")
_NAMES_OPTION = rx(r"integrated (?:CRO ?[/+] ?CDMO )?(?:partner|provider|CDMO)", r"one[- ]stop[- ]shop")
# "who should do the backup route, the same CDMO?": a partner offered as the answer to a question
_OFFERED = re.compile(r"\s*(?:too|as well|again|then|maybe|perhaps)?\s*\?")
_YES_NO = re.compile(r"(?i)\s*(?:would|will|is|are|does|do|could|can|might|should|shall)\b[^.?!]*\?")


def _around(text: str, span: Span) -> str:
    """Where an "or" makes a cue one option of several: close by, or anywhere before it in a question
    ("Could both happen at once, or must we pick one partner?")."""
    before = 40 if "?" in _sentence_at(text, span[0]) else 12
    start = max(0, span[0] - before, max(text.rfind(c, 0, span[0]) for c in ".?!\n") + 1 if before > 12 else 0)
    return text[start : span[1] + 12]


def _sentence_at(text: str, at: int) -> str:
    start = max(text.rfind(c, 0, at) for c in ".?!\n") + 1
    stops = [i for i in (text.find(c, at) for c in ".?!\n") if i >= 0]
    return text[start : min(stops) + 1 if stops else len(text)]


def _single_partner(text: str) -> tuple[bool | None, Span | None]:
    # Both kinds of cue usually mean a comparison ("one-stop shop vs separate vendors"),
    # not a preference, so that says nothing.
    # "Hybrid or integrated partner?" names an option to compare, not a wish for one partner.
    # "Would an integrated partner suit us?" asks about the option; it states no wish either.
    flags = [
        f
        for f in _flags(text, _ONE_PARTNER, _SEVERAL_PARTNERS)
        if not _OPTION.search(_around(text, f[0]))
        and not (_NAMES_OPTION.fullmatch(text[f[0][0] : f[0][1]]) and _YES_NO.match(_sentence_at(text, f[0][0])))
        and not (_OFFERED.match(text, f[0][1]) and re.match(r"(?i)(?:the )?same\b", text[f[0][0] : f[0][1]]))
    ]
    polarities = {polarity for _, polarity in flags}
    return (polarities.pop(), flags[0][0]) if len(polarities) == 1 else (None, None)


# -- Entry points --------------------------------------------------------------------------
def read_facts(text: str, *, stages: Sequence[str]) -> tuple[Situation, dict[str, Span]]:
    """The facts ``text`` states, and the span of ``text`` that set each one;
    ``stages`` are the Project Stage Decision Matrix row labels."""
    situation, spans = _read_facts(text, tuple(stages))
    return situation, dict(spans)


# A turn's text is read several times (the turn, each sentence for its scope, each again for whether
# it asks for the verdict): a quarter of an answer's CPU once the model's vectors are cached.
_READ_CACHE = 2048


@lru_cache(maxsize=_READ_CACHE)
def _read_facts(text: str, stages: tuple[str, ...]) -> tuple[Situation, dict[str, Span]]:
    text = text.replace("\u2019", "'")  # phones type "don’t": same length, so spans still fit
    stage, multiple_stages, stage_span = read_stage(text, stages)
    quantity, quantity_span = needed_quantity(text)
    gmp, gmp_span = _gmp(text)
    single, single_span = _single_partner(text)
    transition = _TRANSITION.search(text) or spanning(text, stages)
    mixed = mixed_volume_span(text)
    parallel = _parallel(text)
    columns = {name: _column(text, cues) for name, cues in (("budget", _BUDGET), ("timeline", _TIMELINE), ("in_house", _IN_HOUSE), ("ip_sensitivity", _IP))}
    situation = Situation(
        stage=stage,
        quantity=quantity,
        gmp=gmp,
        multiple_stages=multiple_stages,
        single_partner=single,
        transitioning=True if transition else None,
        mixed_volume=True if mixed else None,
        parallel_work=True if parallel else None,
        **{name: value for name, (value, _) in columns.items()},
    )
    spans = {
        "stage": stage_span, "multiple_stages": stage_span, "quantity": quantity_span, "gmp": gmp_span,
        "single_partner": single_span, "transitioning": transition.span() if transition else None, "mixed_volume": mixed, "parallel_work": parallel,
        **{name: span for name, (_, span) in columns.items()},
    }  # fmt: skip
    return situation, {k: v for k, v in spans.items() if v is not None and getattr(situation, k) is not None}


def extract_situation(text: str, *, stages: Sequence[str]) -> Situation:
    """The facts ``text`` states; ``stages`` are the Project Stage Decision Matrix row labels."""
    return read_facts(text, stages=stages)[0]


def states_situation(text: str, *, stages: Sequence[str] = STAGE_KEYS) -> bool:
    """Whether ``text`` states any fact extract_situation reads (by default whatever the row
    labels: each synonym key is its own label, so every stage term counts)."""
    return bool(extract_situation(text, stages=stages).known())
