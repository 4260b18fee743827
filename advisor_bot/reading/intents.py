"""Which of the framework's tools a question needs, decided by rule before any answer is composed.

An intent is a kind of help the framework's own sections give: a recommendation
from the Decision Matrix, a cost estimate, pricing models, IP terms, regulatory
roles, technology transfer, hybrid and transition models, common mistakes, or
the definitions. A question may need several; one that needs none is answered
from retrieved passages alone.
"""

from __future__ import annotations

import re
from typing import get_args

from advisor_bot.reading.model import Intent
from advisor_bot.reading.clauses import rx
from advisor_bot.reading.rules import states_situation
from advisor_bot.situation import Situation


_ORG = r"(?:an? |the |our )?(?:CRO|CDMO)s?"
_PARTNER = r"(?:partner|provider|vendor|supplier|organi[sz]ation|company|CRO|CDMO|shop|outfit|firm|contractor|setup|set-up|approach|option|structure|arrangement|strategy)s?"
_MODEL = rf"(?:(?:outsourcing|sourcing|partner(?:ing)?|provider|engagement|business) )?(?:model|{_PARTNER})"

_CUES: dict[Intent, re.Pattern[str]] = {
    "recommend": rx(
        # "CRO or CDMO?", "CRO, CDMO or hybrid?", "stay with a cro or bring in a cdmo"
        rf"{_ORG}\s*(?:,\s*{_ORG}\s*,?)?\s*or\s*(?:to |with )?(?:an? |the )?"
        r"(?:CROs?|CDMOs?|hybrid|both|a mix|something else|integrated)",
        # "cro vs cdmo which to choose": a comparison asked to be decided
        rf"{_ORG}\s*(?:vs\.?|versus|/)\s*(?:an? )?(?:CROs?|CDMOs?)\b[^.?!]{{0,12}}\b(?:which|choose|pick|go with|for us|better for)",
        # "What does that mean for CRO vs CDMO?", "Does that point towards a CDMO?", "does that tip it one way?"
        r"\b(?:mean|means|imply|implies|point|points|lean|leans|tip|tips)\b[^.?!]{0,25}\b(?:CROs?|CDMOs?|hybrid|integrated|one way|either way)\b",
        # "Framework recommendation?", "which of the two would you pick?"
        r"(?:framework|guide|your|the)(?:'s)? (?:recommendation|verdict|pick)\s*\?|\bwhich of (?:the|those|these) (?:two|three|both|options)\b",
        r"\b(?:would|do|will) you (?:pick|choose|go with|recommend)\b",
        # "How should we set up the outsourcing?": the arrangement of providers is the model
        r"how (?:should|do|would|can|could) (?:we|i|you) (?:best )?(?:set ?up|organi[sz]e|structure|arrange|approach|split) (?:the |our |this |all )?(?:outsourcing|sourcing|partners?|providers?|suppliers?|vendors?|externali[sz]ation)",
        # "my cofounder says we need a CDMO. is she right?": a model put up for confirmation
        r"(?:need|needs|want|use|go with) (?:an? |the )?(?:CROs?|CDMOs?|hybrid|integrated)\b[^?]{0,40}\b(?:is (?:he|she|that|this|it|they) right|(?:right|correct|true)\s*\?)",
        rf"(?:what|which)(?: \w+)? (?:kind|type|sort)s? of (?:\w+ )?{_MODEL}",
        # but not "which CRO pricing model": that is a pricing question
        rf"(?:what|which) {_MODEL}(?! (?:pricing|price|contract|payment|rate|FTE))",
        r"(?:provider|partner|vendor|supplier) type",
        rf"(?:best|right|ideal|better) (?:fit|choice|{_MODEL})",
        r"who should (?:\w+ )?(?:mak|manufactur|produc|suppl|run|do|be (?:talking|contracting|working))\w*",
        r"which (?:type|kind|model|one|option)(?! of (?:pricing|contract|payment))",
        r"(?:bring|bringing|brought) (?:in )?(?:an? |the |our )?(?:CRO|CDMO)s?",
        r"(?:hire|engage|use|pick) (?:an? |the )?(?:CRO|CDMO) or (?:an? |the )?(?:CRO|CDMO)",
        r"who (?:should|do|would|can) (?:we|i) (?:be )?(?:talk|go|turn|contract|work|partner|use|hire|engage|outsourc)\w*",
        r"(?:should|do|shall) (?:we|i) (?:just |simply |really |then )?(?:go with|hire|engage|switch to|move to|bring in)",
        # "That means a CDMO, doesn't it?", "so CRO, right?": a model put up for confirmation
        r"(?:means?|so|then|meaning) (?:an? |the )?(?:CROs?|CDMOs?|hybrid|integrated(?: partner)?)\b[^.?!]{0,20}\b(?:right|correct|doesn'?t it|isn'?t it|no|yes)\s*\?",
        # "do we keep our med chem CRO", not "do we keep the IP"
        rf"(?:should|do) (?:we|i) (?:just )?(?:use|choose|pick|keep|stay with|stick with) (?:[\w-]+ ){{0,3}}?{_PARTNER}",
        rf"(?:do|does|would) (?:we|i|you) (?:even |really |still )?need {_ORG}(?! ?(?:chemist|engineer|scientist|staff))",
        rf"(?:stay|stick) with {_ORG}|rule (?:out|in) {_ORG}",
        # "is a hybrid model right for us?", "would an integrated partner suit us?"
        rf"(?:is|are|would|will) (?:an? |the )?(?:{_ORG}|hybrid|integrated(?: partner)?)(?: \w+)? "
        r"(?:fine|enough|ok|okay|sufficient|right|the right|suitable|a good (?:fit|choice|idea)|best|suit|fit|work"
        r"|be (?:\w+ )?(?:better|cheaper|faster|enough|fine|right|ok|okay|suitable|sensible|wiser|smarter))",
        r"(?:fits?|suits?|favou?rs?|points? to|tilts?|leans? (?:to|toward|towards)) "
        r"(?:us|both|our (?:situation|portfolio|program|programme|case|needs))",
        r"(?<!pricing )(?<!contract )(?:model|approach|setup|partner|option) "
        r"(?:makes sense|fits|would you (?:recommend|suggest))",
        r"(?:would|do) you (?:recommend|suggest|advise)",
        # "Where should this work go?", "Outsource to who?", "keep using the discovery lab or go elsewhere?"
        r"(?:where|who|whom) (?:should|do|would|can|shall) (?:this|the|that|it|we|i)\b[^.?!]{0,30}\b(?:go|send|place|outsource|give)\w*",
        r"outsourc\w* (?:it |this |that |them |the work )?to (?:who|whom|which|what)",
        r"keep (?:using|working with|with) [^.?!]{0,30}\bor (?:go|switch|move|find|look|bring)\w*",
        r"who (?:makes|will make|should make|can make|could make|would make|manufactures|produces|supplies|does|should do) "
        r"(?:it|that|this|them|those|the (?:\w+ ){0,2}?(?:batch|batches|API|material|lots?|work|compounds?|route))",
        # "candidate selection: hybrid vs integrated partner", "CRO/CDMO?"
        # (CRO vs CDMO alone asks for the difference: a definition)
        r"(?:hybrid|integrated(?: partner)?)\s*(?:vs\.?|versus|/|or)\s*(?:an? )?(?:CROs?|CDMOs?|hybrid|integrated)",
        r"(?:CRO|CDMO)s?\s*(?:vs\.?|versus|/)\s*(?:an? )?(?:hybrid|integrated)",
        r"what does (?:the|this|your) (?:framework|matrix|guide|article) (?:point to|recommend|suggest|say)",
        r"(?:integrated(?: partner)?|hybrid|CROs?|CDMOs?) or (?:something else|another (?:model|option)|a different (?:model|option)|separate)",
        # "moving it to a research-type organisation", "shift manufacturing over to a CDMO": a kind of
        # provider for the work (moving to another of the same kind is a technology transfer)
        r"(?:mov|switch|shift|transferr?|giv|hand|send|outsourc|plac)\w* (?:(?!from\b)[\w-]+ ){1,4}?"
        r"(?:over |back )?to (?!another|a new|a different|a second)(?:an? |the )?(?:[\w-]+ ){0,3}?"
        r"(?:CRO|CDMO|organi[sz]ation|company|partner|provider|manufacturer)s?",
        # "my cofounder says we need a CDMO - is he right?"
        r"(?:says|said|thinks|claims|insists|suggests|told (?:me|us)) (?:that )?(?:we|i) (?:need|should (?:use|go with|hire|get)) "
        r"(?:an? )?(?:CRO|CDMO|hybrid|integrated)",
    ),
    "cost": rx(
        r"how much(?! (?:experience|time|longer|of|material|data|work|control|say|involvement|effort|detail))",
        r"(?<!value for )money|how (?:expensive|pricey|costly)|pricier|more expensive|premium",
        r"what (?:would|will|does|do|did|might|could|should)\b[^.?!]{0,60}\bcost",
        r"costs? (?:us|me|them)|cost estimates?|ballpark|rough (?:budget|cost|figure|number|estimate)",
        r"budget (?:for|estimate)|(?:annual|yearly|hourly|day|going|typical|fte) rates?",
        r"(?<!fixed[- ])(?<!fixed )price (?:per|for|of|range)|per[- ](?:kilo|kg|gram|batch) (?:price|cost)|price tag",
        r"(?<!in )charge\w*",
        # "we've got $1.5M earmarked ... does that fit?", "is our budget enough?"
        r"(?:budget|\$\s?[\d.,]+\s?(?:k|m|mm|million)?)[^.?!]{0,120}(?:fit|enough|cover|left|afford)\w*",
        r"(?:fit|enough|cover|afford)\w*[^.?!]{0,40}(?:budget|money)|what(?:'s| is) left",
    ),
    "pricing": rx(
        r"pricing|price (?:model|structure)|priced",
        r"(?:contract|commercial|payment|fee) (?:models?|structures?|terms|types?)",
        r"FTEs?|full[- ]time equivalents?|fixed[- ](?:price|fee|bid)|T ?& ?M|time[- ](?:and|&)[- ]materials?",
        r"milestone[- ]?(?:based|pricing|payments?|deals?|contracts?|structure)|(?:per|by the)[- ]batch|batch[- ]based",
        r"campaign[- ](?:based|pricing)|cost[- ]plus|take[- ]or[- ]pay|margins?|retainer|billed|billing|cheap\w*",
        r"how (?:do|does) (?:\w+ ){0,5}(?:price|charge|bill)",
    ),
    "ip": rx(
        # "own" as a verb, not "our own chemists"
        r"IP|intellectual property|(?<!our )(?<!their )(?<!its )(?<!my )(?<!your )owns?|owned|ownership|owners?",
        r"patent\w*|inventions?|inventor\w*|know[- ]how|licen[cs]\w*|foreground|background IP|trade secrets?",
        r"confidential\w*|CDA|non[- ]disclosure",
        # contract wording about who gets what: "improvements shall belong exclusively to Supplier"
        r"(?:belong|vest|accrue|revert)\w* (?:exclusively |solely |entirely )?(?:to|in|with) (?:the )?(?:supplier|vendor|contractor|CRO|CDMO|client|sponsor|customer|company|us|them)",
        r"(?:process )?improvements? (?:made|developed|invented)|assign(?:s|ed|ment)? (?:of )?(?:all )?(?:rights|improvements|results|data)",
    ),
    "regulatory": rx(
        r"regulator(?:y|s)?|filings?|file (?:an?|the|our)|submissions?|submit\w*|dossier",
        r"CMC|Module 3|M3|DMF|drug master file|CTD|IND (?:filing|submission|application)|NDA|ANDA|MAA|BLA",
        r"inspect\w*|PAI|pre[- ]approval|FDA|EMA|MHRA|post[- ]approval|variations?",
    ),
    "transfer": rx(
        r"tech(?:nology)?[- ]?transfers?|tech[- ]?xfer|handoffs?|hand[- ]offs?|hand(?:ing)?[- ]?over",
        r"transfer(?:ring)? (?:the |our |a |that )?(?:process|route|method|methods|package|knowledge)",
        r"(?:move|moving|switch\w*|chang\w*) (?:the |our |a )?(?:process|route) (?:to|between|from)",
        r"(?:process|route) (?:moves|is moved|is transferred|transfers) to",
        r"(?:move|moving|switch\w*|chang\w*) to (?:another|a new|a different|a second) (?:CDMO|CRO|vendor|supplier)",
        r"gap analysis|demonstration batch\w*|transfer (?:fee|cost|price|budget|timeline|duration|timing)s?",
    ),
    "transition": rx(
        r"sequential\w*|parallel|integrated|one[- ]stop[- ]shop|both (?:an? )?CROs? and (?:an? )?CDMOs?",
        r"hybrid (?:model|approach|setup|engagement|arrangement)s?|combin\w+ (?:CROs?|CDMOs?|them|both)",
        r"(?:when|what point|right time)\b[^.?!]{0,60}\b(?:move|moving|switch|transition|shift|graduat)\w*"
        r"(?: over| on)?(?: (?:our|the) \w+)? (?:from|to) (?:an? |the )?(?:CRO|CDMO|research|manufactur\w*|GMP)",
        r"while (?:our|the|a) (?:CRO|CDMO)|at the same time|in tandem|simultaneous\w*|concurrent\w*",
        r"(?:move|moving|switch\w*|transition\w*|shift\w*|graduat\w*)(?: over| our \w+)? from\b[^.?!]{0,40}\bto",
        r"(?:one|single|same) (?:company|partner|vendor|provider) (?:do|for|to do) both",
        r"decision\b[^.?!]{0,60}\brevisit|revisit (?:the|this|that|our) (?:decision|choice)",
    ),
    "mistakes": rx(
        r"mistakes?|quality agreements?|pitfalls?|gotchas?|lessons?(?: learned)?|red flags?|warning signs?|traps?",
        r"go(?:es)? wrong|went wrong|goes? bad|bad idea|risks|risky|(?:biggest|main|key|major) risk",
        r"problems?|(?:known|common|typical) issues?|fail\w*|stall\w*|reality check|watch out|look out for",
        r"(?:what|things) (?:to|should (?:we|i)) avoid",
        # a plan judged: "is it smart to sign now?", "good idea?", "is that sensible cost-wise?"
        r"(?:is|was|would|does) (?:it|that|this) (?:be )?(?:a )?(?:smart|wise|sensible|good idea|sound|normal|a mistake|make sense)|^\W*(?:good|smart|wise) (?:idea|move)\b",
    ),
    "definition": rx(
        r"what(?:'?s| is| are) (?:an? |the )?(?:CRO|CDMO|contract research|contract development)s?(?! \w)",
        r"stand for|definitions?|mean by|meaning of|what (?:do|does) (?:an? )?(?:CRO|CDMO)s? (?:actually )?do",
        r"differen\w* between|how (?:is|are|do|does) (?:an? )?(?:CRO|CDMO)s? differ|same thing|interchangeabl\w*",
        r"(?:CRO|CDMO)s? (?:vs\.?|versus) (?:an? )?(?:CRO|CDMO)s?\s*\?\s*$",
    ),
    # Questions about the article itself: who is behind it, what is marketing.
    "publisher": rx(
        r"(?:who|which company) (?:wrote|published|is behind|sponsored|funded)",
        r"(?:the |this )?(?:article|framework|guide)(?:'s)? (?:author|publisher|writer|bias)\w*",
        r"marketing|promotion(?:al)?|advert\w*|sales pitch|biased|objective|self[- ]serving",
    ),
}
# Generic requests for advice: a recommendation only once the conversation has facts to base it on.
_ADVICE = rx(
    r"thoughts|advice|suggestions?|recommendations?|what (?:should|do) (?:we|i) do|what now|where do we go from here",
    r"what do you (?:think|suggest|recommend)|help (?:us|me) (?:decide|choose)",
    # a bare follow-up after facts: "and now?", "so?", "what next?"
    r"^\W*(?:(?:and|so|ok|okay|well),? ?)?(?:now|then|what then|what next|next|so)\W*$",
)
# A question, as opposed to a statement of facts ("We're in Phase 2 and need 40 kg GMP API").
# The question word may open a clause after a preface: "Two things: roughly what does ... cost".
_ASKS = re.compile(
    r"(?i)\?|(?:^|[:;]|,\s*(?:and|but)\b)\s*(?:(?:roughly|so|and|but|also|first|then|ok|okay),?\s+)?"
    r"(?:what|which|who|whom|whose|how|when|where|why|should|can|could|would|will|do|does|did|is|are)\b"
    # "..., how do i fix it": a question clause after a comma, question mark forgotten
    r"|,\s*(?:how|what|which|who|why|where|when) (?:do|does|did|can|could|should|would|is|are|to)\b"
)


# A search-box query that ends on the kind of provider: "first kilo after candidate nomination partner".
_TERSE_WHO = rx(r"^[^.?!]{0,80}\b(?:partner|supplier|vendor|provider|contractor|outsourcing|model)s?(?: type| kind| choice)?\s*\??\s*$")
_WHO = rx(
    r"who(?:m)?(?: should| would| can| could| do we| to)?\s*\?",
    # "Who fits?", "who makes gmp tox batch", "Where do I take this?": the last question asks for a provider
    r"(?:^|(?<=[.?!:;\u2014-] ))\s*(?:who(?:m)?(?! owns| own| is| are| wrote)|where (?:do|should|can|would) (?:i|we) (?:take|send|go|place)|(?:^|\s)who fits)\b[^.?!]*\??\s*$",
)
_PROVIDER_CHOICE = rx(
    r"CROs?|CDMOs?|partners?|vendors?|providers?|suppliers?|contractors?|one-stop shop|model|manufacturers?",
    r"(?:setup|set-up|arrangement|structure)s?",
    # a kind of provider described by what it does: "a research lab or a GMP manufacturer"
    r"(?:research|contract|GMP|manufacturing|development|chemistry|synthesis|process) (?:labs?|laborator(?:y|ies)|organi[sz]ations?|firms?|houses?|compan(?:y|ies)|shops?)",
)
_CHOICE = rx(
    r"or|should|shall|can(?:'?t)?|could|is (?:it|that|our|the|a|there)|are (?:they|we|there)|ok(?:ay)?|fine|enough|"
    r"make sense|"
    r"need|called|which|who|what kind|what type|better"
)


def asks(text: str) -> bool:
    """Whether ``text`` asks something (a question or a request) rather than only stating facts."""
    return bool(_ASKS.search(text) or _ADVICE.search(text) or _REQUEST.search(text))


_REQUEST = rx(r"(?:please |pls |can you |could you )?(?:tell|give|show|explain|list|compare|estimate|outline|summari[sz]e|help)")


def route(question: str, *, situation: Situation) -> list[Intent]:
    """The intents ``question`` needs, in the order it raises them; empty for a general
    question. ``situation`` is the conversation so far, this question included."""
    first: dict[Intent, int] = {}
    for intent, pattern in _CUES.items():
        if found := pattern.search(question):
            first[intent] = found.start()
    if not first and situation.known():
        # "We're in Phase 2 and need 40 kg GMP API." asks for advice without a question word.
        if _ADVICE.search(question) or (not _ASKS.search(question) and states_situation(question)):
            first["recommend"] = 0
    if "recommend" not in first and situation.known() and len(question.split()) <= 8 and _TERSE_WHO.search(question):
        first["recommend"] = 0
    if "recommend" not in first and situation.known() and _WHO.search(question):
        # Facts, then "who?": who should do it is which kind of provider.
        first["recommend"] = _WHO.search(question).start()  # type: ignore[union-attr]
    if "recommend" not in first and situation.known() and _ASKS.search(question):
        # A question about which kind of provider, once the facts are on the table: "is our
        # discovery CRO ok for that?", "CDMO obviously?", "what's that model called?".
        if (found := _PROVIDER_CHOICE.search(question)) and (not first or _CHOICE.search(question)):
            first["recommend"] = found.start()
        elif situation.single_partner and states_situation(question):
            first["recommend"] = 0
    if _DURATION.search(question) and _WHEN_MOVING.search(question):
        # "How long does the CRO part last before we move over to the CDMO?" asks when the move
        # comes in the framework's sequence, not which model to choose; "how long I should plan
        # the CRO part before transfer?" asks it before the transfer itself.
        if "recommend" in first:
            first.setdefault("transition", first.pop("recommend"))
        elif "transfer" in first:
            first.setdefault("transition", first["transfer"] - 1)
    order = get_args(Intent)
    return sorted(first, key=lambda intent: (first[intent], order.index(intent)))


_DURATION = rx(r"how long|how many (?:months|weeks|years)|(?:typical |usual )?(?:duration|timeframe|time frame)")
_WHEN_MOVING = rx(
    r"(?:before|until|by the time|once|when|after) (?:we|you|they|it|the \w+)(?:'d|'ll| would| will| can| should| need to)? (?:mov|switch|shift|transfer|hand|go)\w*",
    r"(?:before|until|prior to) (?:the |a |any )?(?:tech(?:nology)? )?(?:transfer|switch|move|hand-?over|transition)\b",
)
