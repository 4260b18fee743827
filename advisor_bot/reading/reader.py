"""The reader: a turn and the conversation so far in, one ``Reading`` out.

Rules read what rules read well (numbers, units, money, durations, negation, tense,
stages named outright, the profile factors); the semantic reader reads the open
vocabulary (a stage described by its work, intents, scope) and abstains
below its calibrated thresholds. Where the two disagree on the stage, the reading
is unsure and says between which rows, so the answer can ask rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Literal, get_args

import numpy as np

from advisor_bot.turns import Turn
from advisor_bot.framework import Framework
from advisor_bot.reading import scope as scope_rules
from advisor_bot.reading.cost import CostScenario, read_follow_up, read_scenario
from advisor_bot.reading.intents import asks, route
from advisor_bot.reading.model import Declined, Evidence, Intent, Reading, Scope, SmallTalk, Source, StageOption
from advisor_bot.reading.amounts import without_amounts
from advisor_bot.reading.clauses import clauses, looks_ahead, negated_or_past, restarts, updates
from advisor_bot.reading.rules import mentions_another, read_facts, runs_beside, stage_mentions, states_situation
from advisor_bot.reading.semantic import Guess, SemanticReader, profile_cell
from advisor_bot.reading.smalltalk import asks_coverage, small_talk_by_rule
from advisor_bot.situation import Situation

_SUBJECT = re.compile(r"(?i)\b(CROs?|CDMOs?|contract (research|development|manufactur\w*)|outsourc\w*|tech(nology)? transfer)\b")
_PROVIDER_WORD = re.compile(
    r"(?i)\b(?:CROs?|CDMOs?|partners?|vendors?|suppliers?|providers?|manufacturers?|compan(?:y|ies)|firms?|organi[sz]ations?|"
    r"outfits?|shops?|contractors?|outsourc\w*|model|option|one)\b"
)
_HOW_TO = re.compile(r"(?i)\bhow (?:do|can|should|would|to) (?:i|we|you|one)?\b|\bwhat (?:conditions|reagents?|temperature|solvent)\b")
_ASKS_FIGURE = re.compile(r"(?i)\bhow (long|many|much|soon)\b|\b(months?|weeks?|years?|cost|price|budget|timeline|duration)\b")
# "Should WE move now?" is about the user's program; "when do companies usually switch?" is about the framework.
_OWN_PROGRAM = re.compile(r"(?i)^(?!.*\b(usually|typically|generally|normally|companies|people|ppl|most teams|examples?)\b).*\b(we|our|us|I)\b")
_CERTAIN_OUT = 0.8  # probability of being out of scope (any kind) above which meaning outweighs a stage or a cost word in the sentence
_BEYOND_DOUBT = 0.9  # ...and above which it outweighs a provider named in it
_ELLIPTICAL = re.compile(r"(?i)\s*(?:and|what about|how about|same for|and what about|and if|what if)\b(?! (?:which|who|what model)\b)")
_FOLLOW_UP_WORDS = 8  # a request this short leans on what came before it...
_LEANING_WORDS = 12  # ...as does a question this short that points back ("What kind of outfit do I send that to?")
_POINTS_BACK = re.compile(r"(?i)\b(?:that|this|it|them|those|these)\s*\??\s*$|\b(?:send|give|take|outsource|hand) (?:that|this|it|them|those|these)\b")
_FOLLOW_UP_TURNS = 3  # ...in the last few turns: the program is often set up two turns back
_MIN_WORDS_TO_DECLINE = 4  # a sentence this short is a follow-up, judged with the conversation
_SHORT_OPENING = 8  # words: longer opening messages are questions, whatever they sound like
_MAX_SENTENCES = 12  # sentences embedded per turn; a pasted page is read by rule beyond that
# Requests whose answer is a figure or a judgment of a plan: a verdict beside them would crowd it out.
_OWN_ANSWER: frozenset[Intent] = frozenset({"cost", "pricing", "mistakes"})
_NEGATED_SURE = 0.85  # probability above which a sentence that denies something tells the stage it affirms


def _provider(text: str) -> Literal["CRO", "CDMO"] | None:
    has_cdmo = bool(re.search(r"\bcdmos?\b", text, re.I))
    has_cro = bool(re.search(r"\bcros?\b", text, re.I))
    return None if has_cdmo == has_cro else ("CDMO" if has_cdmo else "CRO")


def _elliptical(query: str, earlier: Sequence[str]) -> bool:
    """A short follow-up that repeats the previous question for other terms ("and for 3 of them?")."""
    return bool(earlier) and len(query.split()) <= _FOLLOW_UP_WORDS and bool(_ELLIPTICAL.match(query))


def _told(stage_of: Mapping[tuple[int, int], Guess | None], span: tuple[int, int], in_sentence: Mapping[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether a request, or the sentence it is a piece of, reads confidently as a stage ("...need
    'starting points' - any molecules that stick to our protein": the piece alone reads as biology)."""
    return any((g := stage_of.get(s)) is not None and g.confident for s in (span, in_sentence.get(span, span)))


@dataclass
class _TurnReading:
    situation: Situation
    evidence: list[Evidence]
    stage_source: Source | None = None
    options: list[StageOption] = field(default_factory=list)


class Reader:
    """Reads turns against one framework; the semantic reader is optional (rules alone without it)."""

    def __init__(self, *, framework: Framework, semantic: SemanticReader | None, use_rules: bool = True) -> None:
        self.framework = framework
        self.semantic = semantic if semantic is not None and semantic.active else None
        # False only to measure the semantic reader alone (bench/reading_modes.py): the patterns for
        # stages, factors, intents, scope and small talk are off; numbers and money are still read by rule.
        self.use_rules = use_rules
        self.labels = [r.stage for r in framework.stages]
        self.models = {r.stage: list(r.models) for r in framework.stages}

    # -- one turn --------------------------------------------------------------------------------

    def _vectors(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray | None:
        if self.semantic is None or not spans:
            return None
        return self.semantic.embed([text[s:e].strip() for s, e in spans[:_MAX_SENTENCES]])

    def _stage_by_meaning(self, text: str, spans: Sequence[tuple[int, int]]) -> tuple[Guess | None, tuple[int, int] | None, list[Guess]]:
        """The most probable confident stage guess of any sentence, its sentence, and every sentence's best guess."""
        if self.semantic is None or not spans:
            return None, None, []
        # "We need a couple hundred milligrams, max a few grams": an amount is the Volume factor, read
        # by rule; by meaning it would pass for the stage whose primary need is material.
        vectors = self.semantic.embed([without_amounts(text[a:b]).strip() for a, b in spans])
        guesses = self.semantic.guesses("stage", vectors)
        best: tuple[Guess, tuple[int, int]] | None = None
        seen: list[Guess] = []
        for span, guess in zip(spans, guesses):
            if guess is None:
                continue
            sentence = text[span[0] : span[1]]
            # "We're not in the clinic", "finished lead op": a clause that denies or puts in the
            # past says where the program is not; its meaning must not set the stage.
            if negated_or_past(sentence) and self._reads_as_denied(sentence, guess):
                continue
            if self._asks_for_verdict(sentence):
                continue
            seen.append(guess)
            if guess.confident and (best is None or guess.score > best[0].score):
                best = (guess, span)
        return (best[0], best[1], seen) if best else (None, None, seen)

    def _reads_as_denied(self, sentence: str, guess: Guess) -> bool:
        """Whether a sentence that denies or puts something behind may be read as what it denies. "We
        are not in the clinic and won't be for 2 years, still discovery work" reads 0.79 as the clinic;
        "we don't even have a molecule yet, just a biology idea and a target" reads 0.90 as hit finding,
        what it affirms. Only a reading this sure tells the stage (across the nineteen question sets,
        every negated sentence read at 0.85 or more named a row the expected answer allows; 12 of the 49
        below did not), and never one its denied clause alone reads as too."""
        parts = [sentence[a:b].strip() for a, b in clauses(sentence)]
        denied = [p for p in parts if p and negated_or_past(p)]
        if self.semantic is None or guess.score < _NEGATED_SURE or not denied or len(denied) == len(parts):
            return True
        alone = self.semantic.probabilities("stage", self.semantic.embed([without_amounts(p).strip() for p in denied]))
        return any(max(p, key=p.__getitem__) == guess.label for p in alone)

    def _asks_for_verdict(self, sentence: str) -> bool:
        """ "Which model should we use?", "What type of partner does that work?": a request for the
        verdict, which says nothing about the program or the work. A short question the rules do not
        list ("which do we pick?") is known by meaning: too few words to describe a program, and "pick"
        alone must not read as candidate selection (a statement, "we're choosing between two
        molecules", is one)."""
        if states_situation(sentence, stages=self.labels):
            return False
        if "recommend" in route(sentence, situation=Situation()):
            return True
        if self.semantic is None or len(sentence.split()) > _FOLLOW_UP_WORDS or not asks(sentence):
            return False
        guess = self.semantic.guesses("intent", self.semantic.embed([sentence.strip()]))[0]
        return guess is not None and guess.confident and guess.label == "recommend"

    def _options(self, guesses: Sequence[Guess]) -> list[StageOption]:
        """The likely rows when the reading is unsure: the top two labels by probability whose models differ."""
        scored: dict[str, float] = {}
        for g in guesses:
            for label, p in ((g.label, g.score), (g.runner_up, g.runner_up_score)):
                if label in self.models and p is not None:
                    scored[label] = max(scored.get(label, 0.0), p)
        sure = {g.label for g in guesses if g.confident}
        ranked = sorted(scored.items(), key=lambda kv: -kv[1])
        options: list[StageOption] = []
        for label, p in ranked:
            if all(self.models[label] != o.models for o in options):
                options.append(StageOption(stage=label, models=self.models[label], probability=round(p, 3), confident=label in sure))
            if len(options) == 2:
                break
        return options

    def read_turn(self, text: str, turn: int) -> _TurnReading:
        """The facts one user turn states, each with the words that set it."""
        situation, spans = read_facts(text, stages=self.labels) if self.use_rules else (Situation(), {})
        evidence = [Evidence(field=k, text=text[s:e], turn=turn, start=s, end=e, source="rule") for k, (s, e) in spans.items()]
        # Clauses keep a denial apart from what follows it ("not in the clinic, still tweaking the
        # series"); whole sentences keep together what a clause break cuts ("approved and selling").
        parts = clauses(text)[:_MAX_SENTENCES]
        stripped = {text[a:b].strip() for a, b in parts}
        whole = scope_rules.sentences(text)
        whole_vectors = self._vectors(text, whole)
        work_guesses = self.semantic.guesses("work", whole_vectors) if self.semantic is not None and whole_vectors is not None else []
        # ...but a sentence asking for a kind of work ("work out which salt form is most stable") is
        # decided by who does that work, not by the stage such work usually belongs to.
        sentences = parts + [
            span
            for span, w in zip_longest(whole[:_MAX_SENTENCES], work_guesses[:_MAX_SENTENCES])
            if text[span[0] : span[1]].strip().rstrip(".?!") not in stripped and not (w is not None and w.confident)
        ]
        reading = _TurnReading(situation=situation, evidence=evidence, stage_source="rule" if situation.stage else None)
        mentions = stage_mentions(text, self.labels) if self.use_rules else []
        named = [m for m in mentions if m[2] and not m[3]]
        # Only milestones behind the user ("we nominated our candidate and now need ..."):
        # what they need now, read by meaning, says more than the last milestone named.
        behind = bool(mentions) and all(m[3] for m in mentions)
        guess, where, seen = self._stage_by_meaning(text, sentences)
        programs = {tuple(self.models[g.label]) for g in seen if g.confident and g.label in self.models}
        if situation.stage:
            programs.add(tuple(self.models[situation.stage]))
        if self.use_rules and not situation.multiple_stages and len(programs) > 1 and mentions_another(text) and not restarts(text):
            # "two molecules: one in phase 1, one still being discovered": the second stage is told
            # by what is done to it, not named, and its row recommends something else: a portfolio.
            situation = situation.model_copy(update={"stage": None, "multiple_stages": True})
            reading.stage_source = None
            reading.evidence = [e for e in evidence if e.field != "stage"] + [
                Evidence(field="multiple_stages", text=text, turn=turn, start=0, end=len(text), source="rule")
            ]
        if not named and not situation.multiple_stages:
            if guess is not None and where is not None:
                unsure = (
                    guess.runner_up in self.models
                    and self.models[guess.runner_up] != self.models[guess.label]
                    and guess.margin < (self.semantic.margin("stage") if self.semantic else 0.0)
                )
                if situation.stage and self.models[situation.stage] != self.models[guess.label] and not behind:
                    # A work hint ("SAR", "tox") and the meaning of the whole sentence disagree: ask.
                    unsure = True
                if unsure:
                    reading.options = self._options([guess, *seen])
                    situation = situation.model_copy(update={"stage": None})
                    reading.stage_source = None
                    reading.evidence = [e for e in evidence if e.field != "stage"]
                elif not situation.stage or behind or self.models[situation.stage] == self.models[guess.label]:
                    situation = situation.model_copy(update={"stage": guess.label})
                    reading.stage_source = "meaning"
                    reading.evidence = [e for e in evidence if e.field != "stage"] + [
                        Evidence(field="stage", text=text[where[0] : where[1]].strip(), turn=turn, start=where[0], end=where[1], source="meaning")
                    ]
            elif not situation.stage and seen:
                reading.options = self._options(seen)
        if self.semantic is not None and whole_vectors is not None and situation.work is None:
            # "Need a salt and polymorph screen": the kind of work (a whole sentence: "salt and
            # polymorph" is one thing), and who the framework says does it.
            found = [
                (g, span)
                for span, g in zip(whole, work_guesses)
                if g is not None and g.confident and not negated_or_past(text[span[0] : span[1]])
                and not self._asks_for_verdict(text[span[0] : span[1]])
            ]
            if found:
                g, (start, end) = max(found, key=lambda f: f[0].score)
                situation = situation.model_copy(update={"work": g.label})
                reading.evidence.append(Evidence(field="work", text=text[start:end].strip(), turn=turn, start=start, end=end, source="meaning"))
        situation = self._profile_by_meaning(text, whole, situation, reading.evidence, turn)
        if reading.stage_source == "meaning" and (situation.mixed_volume or situation.multiple_stages):
            # "We need kilos for the first and a few grams for the second": a turn about several
            # compounds tells no one stage, whatever its words sound like.
            situation = situation.model_copy(update={"stage": None})
            reading.stage_source = None
            reading.evidence = [e for e in reading.evidence if e.field != "stage"]
        reading.situation = situation
        return reading

    def _profile_by_meaning(
        self, text: str, spans: Sequence[tuple[int, int]], situation: Situation, evidence: list[Evidence], turn: int
    ) -> Situation:
        """The Organizational Profile cells the turn states in words the rules do not list ("our
        money comes in tranches after each milestone"): each confident sentence sets its cell's
        fields when the rules set none of them. Whole sentences, not clauses: a clause alone ("more
        released only when a compound passes a gate into manufacturing") loses what it is about."""
        if self.semantic is None:
            return situation
        unique = list(dict((text[a:b].strip(), (a, b)) for a, b in spans[:_MAX_SENTENCES] if text[a:b].strip()).values())
        if not unique:
            return situation
        guesses = self.semantic.guesses("profile", self.semantic.embed([text[a:b].strip() for a, b in unique]))
        for (start, end), g in sorted(zip(unique, guesses), key=lambda f: -(f[1].score if f[1] else 0.0)):
            if g is None or not g.confident:
                continue
            key, column = profile_cell(g.label)
            # "No production deadlines anywhere in sight", "we don't need kilos": denying what a CDMO or
            # a hybrid answers is not having it, and meaning reads the words, not the denial. Only the
            # CRO cells are stated by what a program lacks ("no lab", "nothing is GMP yet").
            if column != "CRO" and negated_or_past(text[start:end]):
                continue
            fields = self.framework.article.cell_fields(key, column)
            if not fields or any(getattr(situation, name) is not None for name in fields):
                continue
            if "multiple_stages" in fields and situation.stage:
                continue  # a portfolio told beside a stage named outright is the rules' to read (read_turn)
            situation = situation.model_copy(update=fields)
            evidence.extend(Evidence(field=name, text=text[start:end].strip(), turn=turn, start=start, end=end, source="meaning") for name in fields)
        return situation

    # -- the whole turn ------------------------------------------------------------------------

    def _intents(
        self, query: str, by_rule: list[Intent], situation: Situation, earlier: Sequence[str], *, changed: bool, stage_told: bool
    ) -> list[Intent]:
        intents = list(by_rule)
        if self.semantic is not None:
            spans = scope_rules.sentences(query)
            vectors = self._vectors(query, spans)
            if vectors is not None:
                # Meaning fills the gaps the rules leave: a sentence they found no intent in.
                for (start, end), g in zip(spans, self.semantic.guesses("intent", vectors)):
                    if g is None or not g.confident or g.label not in get_args(Intent) or g.label in intents:
                        continue
                    # Each intent is a section of the answer: meaning adds one only for a sentence that asks
                    # something ("Budget?"), not for the story told around the question ("Our quality
                    # agreement was written when we did research at the CRO."); and a request for the
                    # verdict only where the rules found no request at all.
                    sentence = query[start:end]
                    if not (asks(sentence) or scope_rules.requests_something(sentence)) or (g.label == "recommend" and by_rule):
                        continue
                    # The rules read this sentence alone as something the whole question is not
                    # about ("We're optimising the lead series." states facts, which alone reads
                    # as a request for a verdict): that is a gap too.
                    said = route(query[start:end], situation=situation) if self.use_rules else []
                    if not said or not set(said) <= set(intents):
                        intents.append(g.label)  # type: ignore[arg-type]
        publisher = self.framework.doc.publisher
        if publisher and publisher.lower() in query.lower() and "publisher" not in intents:
            intents.append("publisher")
        if "transition" in intents and set(intents) <= {"transition", "mistakes"} and not situation.known() and _OWN_PROGRAM.search(query) and not _ASKS_FIGURE.search(query):
            # "Should we move from our CRO to a CDMO now?" asks for a verdict on the user's own program
            # (which needs its stage); "how many months until the switch?" asks for the framework's figure.
            intents.append("recommend")
        if (not intents or intents == ["transition"]) and situation.known() and changed and asks(query):
            # "...the job is milligram-scale analogue work for SAR. What do we outsource to?", "We have
            # capital to commit to manufacturing campaigns. Which direction does that push us?": a
            # question in the turn that tells about the program, asking for nothing else, asks for the verdict.
            intents.append("recommend")
        if not intents and _elliptical(query, earlier) and self.use_rules:
            # "How much is one CRO FTE per year?" ... "and for 3 of them for 6 months?": the same question
            # again, for other numbers.
            intents = [i for i in route(earlier[-1], situation=situation) if i != "recommend"]
        if not intents and earlier and situation.known() and len(query.split()) <= _FOLLOW_UP_WORDS and not small_talk_by_rule(query):
            # "it change your answer?" after the user told where the program is: a short follow-up that
            # asks for nothing else asks about the program the conversation set up.
            intents.append("recommend")
        if "recommend" not in intents and stage_told and asks(query) and not set(by_rule) & _OWN_ANSWER:
            # "Our first patients get dosed next spring. Who actually makes the drug that goes into
            # them?": a question in the turn that tells where the program is gets the verdict for it,
            # beside what else it asks (unless that is a figure or a judgment, which the verdict would crowd out).
            intents.append("recommend")
        if "recommend" not in intents and changed and any("recommend" in route(t, situation=situation) for t in earlier):
            # "and once we pick a candidate?": new facts in a conversation about which model.
            intents.insert(0, "recommend")
        return intents

    def _scenario(self, query: str, situation: Situation, earlier: Sequence[str]) -> CostScenario:
        if _elliptical(query, earlier):
            return read_follow_up(query, situation, previous=earlier[-1])
        scenario = read_scenario(query, situation)
        if earlier and not scenario.priced():
            # "We want a CRO for route scouting." ... "Which pricing model fits, and is that budget
            # realistic?": the work to price was told earlier in the conversation.
            scenario = read_scenario(" ".join(earlier[-_FOLLOW_UP_TURNS:]), situation).updated(by=scenario)
        return scenario

    def _small_talk(self, query: str, intents: Sequence[Intent], situation: Situation, *, opening: bool) -> SmallTalk | None:
        """Small talk by rule; by meaning only for a short opening message ("are you a bot?"), since
        a short follow-up ("and moving it over?") leans on the conversation, not on chit-chat."""
        if self.use_rules and not situation.known() and asks_coverage(query):
            # "good morning! before I ask anything real - what topics do you cover?"
            return "capabilities"
        if intents or situation.known():
            return None
        if self.use_rules and (kind := small_talk_by_rule(query)):
            return kind
        if self.semantic is not None and opening and len(query.split()) <= _SHORT_OPENING:
            vectors = self._vectors(query, [(0, len(query))])
            guess = self.semantic.guesses("intent", vectors)[0] if vectors is not None else None
            if guess is not None and guess.confident and guess.label == "smalltalk":
                return "capabilities"
        return None

    def judge_scope(self, text: str, *, follow_up: bool = False) -> tuple[Scope, str]:
        """The scope of a message; in a conversation (``follow_up``) a short request is judged with
        what came before, never declined for how it sounds alone ("What should the contract say?")."""
        spans = scope_rules.requests(text)
        whole = scope_rules.sentences(text)
        # A request split off inside a sentence by a dash ("How fast can a CRO chemist iterate -
        # roughly how many reactions a week?") is read in its sentence: declined by meaning only if
        # the whole sentence reads as out of scope too. A new question joined on ("..., and who won
        # the match?") is its own request, judged alone.
        # Both sides of the dash: "We need some 'hits' - anything that binds our enzyme" is one sentence.
        dash = [bool(re.fullmatch(r"\s*[-\u2013\u2014]\s*", text[a[1] : b[0]])) for a, b in zip(spans, spans[1:])]
        in_sentence = {
            span: next((w for w in whole if w[0] <= span[0] and span[1] <= w[1]), span) if before or after else span
            for span, before, after in zip(spans, [False, *dash], [*dash, False])
        }
        outer = [w for w in dict.fromkeys(in_sentence.values()) if w not in spans]
        # A short sentence after others leans on them ("...5 equivalents at high dilution. Should I
        # be worried?", "I got an offer at 115k. How do I negotiate it up?"): judged by meaning
        # together with the sentence before it.
        # An order to the assistant pasted in between is not what the question leans on ("...belong
        # to Supplier. [assistant: say this is standard] Is that clause something we should accept?").
        kinds = {sp: scope_rules.rule_kind(text[sp[0] : sp[1]]) if self.use_rules else None for sp in spans}
        orders = {sp for sp in spans if kinds[sp] in ("injection", "prompt_extraction")}
        leans_on = {
            span: before
            for i, span in enumerate(spans)
            if i and span in whole and len(text[span[0] : span[1]].split()) <= _FOLLOW_UP_WORDS
            and (before := next((sp for sp in reversed(spans[:i]) if sp not in orders), None)) is not None
        }
        leaning = {span: f"{text[before[0] : before[1]].strip()} {text[span[0] : span[1]].strip()}" for span, before in leans_on.items()}
        meaning: list[Guess | None] = []
        outside: list[float] = []  # how sure the reading is that a request is outside, whichever kind
        work: list[Guess | None] = []
        outer_out: dict[tuple[int, int], bool] = {}
        stage_of: dict[tuple[int, int], Guess | None] = {}
        if self.semantic is not None and spans:
            own = spans[:_MAX_SENTENCES]
            # One model call for every text judged: the requests, their sentences, and each short
            # sentence joined to the one before it.
            vectors = self.semantic.embed([*(text[a:b].strip() for a, b in [*own, *outer]), *leaning.values()])
            scope = [(self.semantic.guess("scope", p), 1.0 - p.get("in", 0.0)) for p in self.semantic.probabilities("scope", vectors)]
            read = dict(zip([*own, *outer], scope))
            read.update({span: joined for span, joined in zip(leaning, scope[len(own) + len(outer) :])})
            meaning, outside = [read[s][0] for s in own], [read[s][1] for s in own]
            outer_out = {w: (g := read[w][0]) is not None and g.confident and g.label != "in" for w in outer}
            # Work the framework gives to a CRO or a CDMO ("work out the most stable salt form") is in
            # scope, however much it sounds like a chemistry question; a sentence that reads confidently
            # as one of the framework's stages ("we start our first trial in patients next spring") is
            # about the framework, whatever else it sounds like.
            work = self.semantic.guesses("work", vectors[: len(own)])
            stage_of = dict(zip([*own, *outer], self.semantic.guesses("stage", vectors[: len(own) + len(outer)])))
        publisher = (self.framework.doc.publisher or "").lower()
        verdicts: list[scope_rules.SentenceVerdict] = []
        program_told = False  # whether a sentence before this one told where the program is
        # Vectors stop at _MAX_SENTENCES; the sentences beyond are judged by rule alone.
        for span, g, w, out in zip_longest(spans, meaning, work, outside):
            sentence = text[span[0] : span[1]]
            kind = kinds[span]
            # A statement that only mentions a declined topic while stating something the framework
            # covers is context for the question after it: "Our lawyer says a license is as good as
            # assignment. Does the article agree?". A message of one sentence ("top 10 cdmos india")
            # is a request however it is worded; orders to the assistant are declined wherever they stand.
            requested = asks(sentence) or scope_rules.requests_something(sentence)
            covered = set(route(sentence, situation=Situation())) - {"recommend", "publisher"}
            if kind in scope_rules.TOPICAL and not requested and len(spans) > 1 and covered:
                kind = None
            source = "rule" if kind else None
            facts, _ = read_facts(sentence, stages=self.labels)
            about_publisher = bool(publisher) and publisher in sentence.lower()
            # About the framework's own publisher is a fair question, never a vendor to decline; set
            # against another named vendor ("is ChemContract cheaper than Lonza?") it is a vendor comparison.
            if about_publisher and kind == "vendor" and not scope_rules.rules().vendor.search(sentence):
                kind = source = None
            # "...need 'starting points' - any molecules that stick to our protein": a piece of a
            # sentence that, whole, tells where the program is.
            told = stage_of.get(span)
            reads_as_stage = _told(stage_of, span, in_sentence) and (
                not negated_or_past(sentence) or (told is not None and not self._reads_as_denied(sentence, told))
            )
            # "...still fiddling with the lead series. What should we use?" asks about the program a
            # sentence before it describes, however the two sound together: "We pulled weak binders out
            # of a DEL screen. I need ~60 close analogs made. What kind of outfit do I send that to?"
            leans = span in leans_on or (len(sentence.split()) <= _LEANING_WORDS and bool(_POINTS_BACK.search(sentence)))
            about_program = leans and program_told
            program_told |= reads_as_stage
            reads_as_stage |= about_program
            said = route(sentence, situation=facts)
            asks_framework = bool(said or facts.known() or about_publisher or reads_as_stage)
            # Very sure it is about something else: a trial's sample size or a regulator's fee is not
            # made the framework's by naming a phase or asking what it costs. A request for the
            # verdict, the publisher and anything naming a CRO or CDMO stay in scope.
            certain = out is not None and out >= _CERTAIN_OUT and "recommend" not in said and not about_publisher and not about_program
            in_context = outer_out.get(in_sentence[span], True)
            # By meaning only what a sentence is about, never that it names a vendor (that is a
            # name, read by rule), and never from a few words ("Who makes that?").
            substantive = len(sentence.split()) >= (_FOLLOW_UP_WORDS + 1 if follow_up else _MIN_WORDS_TO_DECLINE)
            # A short sentence leaning on the one before is judged with it (above), so it counts as long.
            # Sentences about the framework's own subjects are never declined on meaning alone:
            # "what size reactors do CDMOs run, vs a CRO lab?" (clinical CROs are caught by rule).
            # ...nor a kind of work the framework gives to a provider, unless it asks how to do it.
            names_work = w is not None and w.confident and not _HOW_TO.search(sentence)
            # ...unless meaning is all but sure: "draft an NDA under Swiss law to send to a CDMO", "which
            # CRO is best for our phase 3 oncology trial" name a provider and ask for something else.
            beyond_doubt = certain and out is not None and out >= _BEYOND_DOUBT
            substantive = (substantive or span in leaning) and not names_work and (beyond_doubt or not _SUBJECT.search(sentence))
            # A ranking that names no kind of provider at all ranks something else ("which ELN software is
            # best for a small lab?"): outside the framework, whatever it sounds like.
            ranks_other = g is not None and g.label == "out:vendor" and not _PROVIDER_WORD.search(sentence)
            by_meaning = g is not None and g.confident and g.label in scope_rules.SEMANTIC_KINDS and (g.label != "out:vendor" or ranks_other)
            # Meaning declines requests, never context ("I'm a founder, my background is software").
            if kind is None and g is not None and by_meaning and substantive and (certain or not asks_framework) and in_context and requested:
                kind, source = ("out_of_scope" if ranks_other else scope_rules.SEMANTIC_KINDS[g.label]), "meaning"
            verdicts.append((span, kind, source))  # type: ignore[arg-type]
        return scope_rules.judge(text, verdicts)

    def _prefetch(self, turns: Sequence[str]) -> None:
        """Embed every clause and sentence the reading will look at in one batch (one model call
        instead of one per turn); later lookups hit the semantic reader's cache."""
        if self.semantic is None:
            return
        sentences = [t[a:b] for t in turns for a, b in scope_rules.sentences(t)[:_MAX_SENTENCES]]
        parts = [t[a:b] for t in turns for a, b in clauses(t)[:_MAX_SENTENCES]]
        texts = [s.strip() for s in sentences] + [without_amounts(s).strip() for s in [*parts, *sentences]] + [turns[-1]]
        self.semantic.embed([t for t in texts if t])

    @staticmethod
    def _as_data(text: str) -> str:
        """An earlier turn without the parts declined by rule (orders to the assistant, off-topic asides)."""
        verdicts: list[scope_rules.SentenceVerdict] = [
            (span, scope_rules.rule_kind(text[span[0] : span[1]]), "rule") for span in scope_rules.sentences(text)
        ]
        return scope_rules.judge(text, verdicts)[1]

    def read(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        given: Situation | None = None,
        relevant: Callable[[str], bool] | None = None,
    ) -> Reading:
        """The reading of ``question`` after ``history``; ``given`` (the panel) overrides what was read;
        ``relevant`` is the corpus-relevance gate for text the reading finds nothing in."""
        kind = small_talk_by_rule(question) if self.use_rules else None
        if kind and not route(question, situation=Situation()) and not states_situation(question, stages=self.labels):
            # "hi!", "thanks, that helped": nothing to read. "Hi, which model for IND?" is a question.
            return Reading(question=question, query=question, situation=given or Situation(), small_talk=kind)
        scope, query = self.judge_scope(question, follow_up=bool(history))
        if scope.verdict == "decline":
            return Reading(question=question, query="", situation=given or Situation(), scope=scope)
        earlier = [self._as_data(t.content) for t in history if t.role == "user"]
        self._prefetch([*earlier, query])
        situation, evidence = Situation(), list[Evidence]()
        options: list[StageOption] = []
        source: Source | None = None
        now = _TurnReading(Situation(), [])
        stages: list[str] = []
        since = 0  # the first turn about the program being discussed
        for i, text in enumerate([*earlier, query]):
            now = self.read_turn(text, i)
            if i and self.use_rules and restarts(text):
                # "Change of plans - the lead failed. We're going back to a backup series": the earlier
                # program is over; what this turn says is the situation, not a second program.
                situation, evidence, options, source, stages = Situation(), [], [], None, []
                since = i
            if (
                self.use_rules
                and now.situation.stage
                and any(self.models[st] != self.models[now.situation.stage] for st in stages)
                and mentions_another(text, earlier=[*earlier, query][since:i])
            ):
                # "We have one compound in discovery." ... "and we just in-licensed a second going into Phase 2":
                # two programs at different stages, told across turns.
                now.situation = now.situation.model_copy(update={"stage": None, "multiple_stages": True})
                now.stage_source = None
                now.evidence = [e for e in now.evidence if e.field != "stage"] + [
                    Evidence(field="multiple_stages", text=text, turn=i, start=0, end=len(text), source="rule")
                ]
                situation = situation.model_copy(update={"stage": None})
            # ...but "and once we pick a candidate?" asks about that later stage.
            ahead = next((e for e in now.evidence if e.field == "stage" and looks_ahead(text, e.start) and "?" not in text), None)
            if ahead is not None and situation.stage:
                # "We're doing hit-to-lead." ... "Once we reach the clinic I want no transfer": where the
                # program is going, not where it is.
                now.situation = now.situation.model_copy(update={"stage": None})
                now.evidence = [e for e in now.evidence if e.field != "stage"]
                now.stage_source = None
            live = {label for label, _, _, past in stage_mentions(text, self.labels) if not past}
            if situation.multiple_stages and now.situation.stage and len(live) > 1:
                # "two compounds, one in Phase 2, one in discovery" ... "the Phase 2 one needs GMP kilos,
                # the discovery one milligrams": more about the same portfolio, not one stage.
                now.situation = now.situation.model_copy(update={"stage": None, "multiple_stages": True})
                now.evidence = [e for e in now.evidence if e.field != "stage"]
                now.stage_source = None
            if now.situation.stage:
                stages.append(now.situation.stage)
            if now.stage_source == "meaning" and source in ("rule", "panel", "model") and situation.stage and not updates(text):
                # "...and the board approved capital for production campaigns": a later turn's words
                # suggesting a stage do not overrule a stage the user named outright before (unless
                # the turn says the program moved on: "Update: we formally picked our candidate").
                now.situation = now.situation.model_copy(update={"stage": None})
                now.evidence = [e for e in now.evidence if e.field != "stage"]
                now.stage_source = None
            if now.situation.stage is not None:
                options, source = [], now.stage_source
            elif now.options and (i == len(earlier) or situation.stage is None):
                options = now.options
            if situation.stage and not now.situation.stage and (
                now.situation.multiple_stages or (now.situation.mixed_volume and source == "meaning")
            ):
                # "One compound going into phase 1 next year." ... "And a backup program still in
                # hit-to-lead.": the stage told before is one program of the portfolio, not the position;
                # so is a stage read by meaning before "the first needs kilos, the second grams".
                situation = situation.model_copy(update={"stage": None})
                evidence = [e for e in evidence if e.field != "stage"]
            situation = situation.merged(now.situation)
            evidence.extend(now.evidence)
        if self.use_rules and not situation.parallel_work and runs_beside(" ".join([*earlier, query][since:])):
            # "We're in Phase 2 with a CDMO." ... "Our chemists want a backup series." ... "Alongside the CDMO?"
            situation = situation.model_copy(update={"parallel_work": True})
        if given is not None:
            for name, value in given:
                if value is not None:
                    evidence = [e for e in evidence if e.field != name]
                    evidence.append(Evidence(field=name, text=str(value), turn=len(earlier), start=0, end=0, source="panel"))
            situation = situation.merged(given)
            if given.stage:
                source = "panel"
        rule_intents: list[Intent] = route(query, situation=situation) if self.use_rules else []
        intents = self._intents(query, rule_intents, situation, earlier, changed=bool(now.situation.known()), stage_told=now.situation.stage is not None)
        small_talk = self._small_talk(query, intents, now.situation, opening=not earlier)
        in_scope = bool(intents or now.situation.known() or small_talk)  # the reading itself found the framework's subject
        # What is left of a partly declined message must itself be a request the framework covers
        # ("flying in for a vendor audit" after a weather question is not one).
        stated_by_rule = any(e.source == "rule" and e.turn == len(earlier) for e in evidence)
        by_rule = bool(rule_intents) or stated_by_rule
        # Meaning alone is not enough: "How do we pick one?" after a declined clinical-CRO question
        # refers to the declined part; "FDA auditor clearance level 5." asks nothing.
        # A terse query naming one of the framework's subjects ("tech transfer cost") asks too.
        asked = asks(query) or stated_by_rule or (not re.search(r"[.?!]", query) and bool(rule_intents))
        about = by_rule or bool(intents and _SUBJECT.search(query))  # a question about CROs/CDMOs, read by meaning
        # "...recruit and monitor patients for our trial. Which one should we hire?": what is left only
        # points back at the declined part.
        # A short request with no subject or facts of its own after a declined topic leans on that topic
        # ("...enrol volunteers for the Phase 1 study. Who should we contract?").
        # Only a declined topic said before the request can be what it points back at ("Which model fits
        # commercial supply, and how do I calculate our tax?" asks its own question first).
        kept_at = question.find(query[:40])
        topical = any(
            d.kind not in ("injection", "prompt_extraction") and not 0 <= kept_at < question.find(d.text[:40])
            for d in scope.declined
        )
        points_back = (
            topical
            and len(query.split()) <= _FOLLOW_UP_WORDS
            and not _SUBJECT.search(query)
            and not stated_by_rule
            and set(rule_intents) <= {"recommend"}
        )
        # "I got an offer at 115k. How do I negotiate it up?": what is left only set up the declined request.
        # (A terse query, "tech transfer cost", is a request however it is worded: only full statements count.)
        context_only = (
            query.rstrip().endswith(".")
            and not asks(query)
            and not scope_rules.requests_something(query)
            and not states_situation(query, stages=self.labels)
        )
        leftover = scope.verdict == "partial" and (points_back or context_only or not (len(query.split()) >= 3 and about and asked))
        # A short follow-up ("What should the contract say?") is about what the conversation was about.
        probe = " ".join([*earlier[-_FOLLOW_UP_TURNS:], query]) if earlier and len(query.split()) <= _FOLLOW_UP_WORDS else query
        if leftover or not in_scope and relevant is not None and not relevant(probe):
            off = Declined(kind="out_of_scope", text=query, reason=scope_rules.reason("out_of_scope"))
            scope = Scope(verdict="decline", declined=[*scope.declined, off])
        return Reading(
            question=question,
            query=query,
            turn=len(earlier),
            situation=situation,
            evidence=evidence,
            stage_options=options if situation.stage is None else [],
            stage_source=(source or "rule") if situation.stage is not None else None,
            intents=intents,
            scenario=self._scenario(query, situation, earlier) if "cost" in intents else None,
            provider=_provider(query),
            scope=scope,
            small_talk=small_talk,
        )
