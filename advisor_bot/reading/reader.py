"""The reader: a turn and the conversation so far in, one ``Reading`` out.

Each turn is read alone (``turn_reader``) and the message's scope judged (``scope_judge``); here
the turns become one situation (a correction restarts it, a second program makes a portfolio, a
later turn's wording does not overrule a stage named outright), and the intents, the cost
scenario and small talk are read from the question in that situation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal, get_args

from advisor_bot.turns import Turn
from advisor_bot.framework import Framework
from advisor_bot.reading import scope as scope_rules
from advisor_bot.reading.cost import CostScenario, read_follow_up, read_scenario
from advisor_bot.reading.intents import asks, route
from advisor_bot.reading.model import Declined, Evidence, Intent, Reading, Scope, SmallTalk, Source, StageOption
from advisor_bot.reading.amounts import without_amounts
from advisor_bot.reading.clauses import clauses, looks_ahead, restarts, updates
from advisor_bot.reading.rules import runs_beside, states_situation
from advisor_bot.reading.stage_rules import mentions_another, stage_mentions
from advisor_bot.reading.scope_judge import SUBJECT, ScopeJudge
from advisor_bot.reading.semantic import SemanticReader
from advisor_bot.reading.smalltalk import asks_coverage, small_talk_by_rule
from advisor_bot.reading.turn_reader import FOLLOW_UP_WORDS, MAX_SENTENCES, TurnReader, TurnReading
from advisor_bot.situation import Situation

_ASKS_FIGURE = re.compile(r"(?i)\bhow (long|many|much|soon)\b|\b(months?|weeks?|years?|cost|price|budget|timeline|duration)\b")
# "Should WE move now?" is about the user's program; "when do companies usually switch?" is about the framework.
_OWN_PROGRAM = re.compile(r"(?i)^(?!.*\b(usually|typically|generally|normally|companies|people|ppl|most teams|examples?)\b).*\b(we|our|us|I)\b")
_ELLIPTICAL = re.compile(r"(?i)\s*(?:and|what about|how about|same for|and what about|and if|what if)\b(?! (?:which|who|what model)\b)")
_FOLLOW_UP_TURNS = 3  # ...in the last few turns: the program is often set up two turns back
_SHORT_OPENING = 8  # words: longer opening messages are questions, whatever they sound like
# Requests whose answer is a figure or a judgment of a plan: a verdict beside them would crowd it out.
_OWN_ANSWER: frozenset[Intent] = frozenset({"cost", "pricing", "mistakes"})


def _provider(text: str) -> Literal["CRO", "CDMO"] | None:
    has_cdmo = bool(re.search(r"\bcdmos?\b", text, re.I))
    has_cro = bool(re.search(r"\bcros?\b", text, re.I))
    return None if has_cdmo == has_cro else ("CDMO" if has_cdmo else "CRO")


def _elliptical(query: str, earlier: Sequence[str]) -> bool:
    """A short follow-up that repeats the previous question for other terms ("and for 3 of them?")."""
    return bool(earlier) and len(query.split()) <= FOLLOW_UP_WORDS and bool(_ELLIPTICAL.match(query))


class Reader:
    """Reads turns against one framework; the semantic reader is optional (rules alone without it)."""

    def __init__(self, *, framework: Framework, semantic: SemanticReader | None, use_rules: bool = True) -> None:
        self.framework = framework
        self.semantic = semantic if semantic is not None and semantic.active else None
        # False only to measure the semantic reader alone (bench/reading_modes.py): the patterns for
        # stages, factors, intents, scope and small talk are off; numbers and money are still read by rule.
        self.use_rules = use_rules
        self.turns = TurnReader(framework=framework, semantic=self.semantic, use_rules=use_rules)
        self.scope_judge = ScopeJudge(self.turns)

    # -- the whole turn ------------------------------------------------------------------------

    def _intents(
        self, query: str, by_rule: list[Intent], situation: Situation, earlier: Sequence[str], *, changed: bool, stage_told: bool
    ) -> list[Intent]:
        intents = list(by_rule)
        if self.semantic is not None:
            spans = scope_rules.sentences(query)
            vectors = self.turns.vectors(query, spans)
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
        if not intents and earlier and situation.known() and len(query.split()) <= FOLLOW_UP_WORDS and not small_talk_by_rule(query):
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
            vectors = self.turns.vectors(query, [(0, len(query))])
            guess = self.semantic.guesses("intent", vectors)[0] if vectors is not None else None
            if guess is not None and guess.confident and guess.label == "smalltalk":
                return "capabilities"
        return None

    def _embedded(self, turns: Sequence[str]) -> list[str]:
        """Every clause and sentence the reading will look at, to embed in one batch (one model call
        instead of one per turn); later lookups hit the semantic reader's cache."""
        if self.semantic is None:
            return []
        sentences = [t[a:b] for t in turns for a, b in scope_rules.sentences(t)[:MAX_SENTENCES]]
        parts = [t[a:b] for t in turns for a, b in clauses(t)[:MAX_SENTENCES]]
        texts = [s.strip() for s in sentences] + [without_amounts(s).strip() for s in [*parts, *sentences]] + [turns[-1]]
        return [t for t in texts if t]

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
        if kind and not route(question, situation=Situation()) and not states_situation(question, stages=self.turns.labels):
            # "hi!", "thanks, that helped": nothing to read. "Hi, which model for IND?" is a question.
            return Reading(question=question, query=question, situation=given or Situation(), small_talk=kind)
        earlier = [self._as_data(t.content) for t in history if t.role == "user"]
        # Most questions are in scope whole, so what the reading will embed goes into the scope
        # judge's model run: the same texts cost ~1.7 ms more in two runs (docs/security.md, session 11).
        scope, query = self.scope_judge.judge(question, follow_up=bool(history), along=self._embedded([*earlier, question]))
        if scope.verdict == "decline":
            return Reading(question=question, query="", situation=given or Situation(), scope=scope)
        if self.semantic is not None:
            # What the judge did not embed along: the query is the question less what it declined.
            self.semantic.embed(self._embedded([*earlier, query]))
        situation, evidence = Situation(), list[Evidence]()
        options: list[StageOption] = []
        source: Source | None = None
        now = TurnReading(Situation(), [])
        stages: list[str] = []
        since = 0  # the first turn about the program being discussed
        for i, text in enumerate([*earlier, query]):
            now = self.turns.read(text, i)
            if i and self.use_rules and restarts(text):
                # "Change of plans - the lead failed. We're going back to a backup series": the earlier
                # program is over; what this turn says is the situation, not a second program.
                situation, evidence, options, source, stages = Situation(), [], [], None, []
                since = i
            if (
                self.use_rules
                and now.situation.stage
                and any(self.turns.models[st] != self.turns.models[now.situation.stage] for st in stages)
                and mentions_another(text, earlier=[*earlier, query][since:i])
            ):
                # "We have one compound in discovery." ... "and we just in-licensed a second going into Phase 2":
                # two programs at different stages, told across turns.
                now.without_stage(multiple_stages=True)
                now.evidence += [
                    Evidence(field="multiple_stages", text=text, turn=i, start=0, end=len(text), source="rule")
                ]
                situation = situation.model_copy(update={"stage": None})
            # ...but "and once we pick a candidate?" asks about that later stage.
            ahead = next((e for e in now.evidence if e.field == "stage" and looks_ahead(text, e.start) and "?" not in text), None)
            if ahead is not None and situation.stage:
                # "We're doing hit-to-lead." ... "Once we reach the clinic I want no transfer": where the
                # program is going, not where it is.
                now.without_stage()
            live = {label for label, _, _, past in stage_mentions(text, self.turns.labels) if not past}
            if situation.multiple_stages and now.situation.stage and len(live) > 1:
                # "two compounds, one in Phase 2, one in discovery" ... "the Phase 2 one needs GMP kilos,
                # the discovery one milligrams": more about the same portfolio, not one stage.
                now.without_stage(multiple_stages=True)
            if now.situation.stage:
                stages.append(now.situation.stage)
            if now.stage_source == "meaning" and source in ("rule", "panel", "model") and situation.stage and not updates(text):
                # "...and the board approved capital for production campaigns": a later turn's words
                # suggesting a stage do not overrule a stage the user named outright before (unless
                # the turn says the program moved on: "Update: we formally picked our candidate").
                now.without_stage()
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
        about = by_rule or bool(intents and SUBJECT.search(query))  # a question about CROs/CDMOs, read by meaning
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
            and len(query.split()) <= FOLLOW_UP_WORDS
            and not SUBJECT.search(query)
            and not stated_by_rule
            and set(rule_intents) <= {"recommend"}
        )
        # "I got an offer at 115k. How do I negotiate it up?": what is left only set up the declined request.
        # (A terse query, "tech transfer cost", is a request however it is worded: only full statements count.)
        context_only = (
            query.rstrip().endswith(".")
            and not asks(query)
            and not scope_rules.requests_something(query)
            and not states_situation(query, stages=self.turns.labels)
        )
        leftover = scope.verdict == "partial" and (points_back or context_only or not (len(query.split()) >= 3 and about and asked))
        # A short follow-up ("What should the contract say?") is about what the conversation was about.
        probe = " ".join([*earlier[-_FOLLOW_UP_TURNS:], query]) if earlier and len(query.split()) <= FOLLOW_UP_WORDS else query
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
