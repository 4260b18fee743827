"""One user turn read alone: the facts it states, each with the words that set it.

Rules read what they read well (numbers, units, negation, tense, stages named outright, the profile
factors in the words they list); the semantic reader reads a stage described by its work, the kind
of work asked for and profile cells told in other words, abstaining below its calibrated thresholds.
Where the two disagree on the stage, the turn is unsure and says between which rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from advisor_bot.framework import Framework
from advisor_bot.reading import scope as scope_rules
from advisor_bot.reading.amounts import without_amounts
from advisor_bot.reading.clauses import clauses, negated_or_past, restarts
from advisor_bot.reading.intents import asks, route
from advisor_bot.reading.model import Evidence, Source, StageOption
from advisor_bot.reading.rules import read_facts, states_situation
from advisor_bot.reading.stage_rules import mentions_another, stage_mentions
from advisor_bot.reading.semantic import Guess, SemanticReader, profile_cell
from advisor_bot.situation import Situation

FOLLOW_UP_WORDS = 8  # a request this short leans on what came before it
MAX_SENTENCES = 12  # sentences embedded per turn; a pasted page is read by rule beyond that
_NEGATED_SURE = 0.85  # probability above which a sentence that denies something tells the stage it affirms


@dataclass
class TurnReading:
    situation: Situation
    evidence: list[Evidence]
    stage_source: Source | None = None
    options: list[StageOption] = field(default_factory=list)

    def without_stage(self, **update: object) -> None:
        """Forget the stage this turn told (and set ``update``): it is not where the program is."""
        self.situation = self.situation.model_copy(update={"stage": None, **update})
        self.evidence = [e for e in self.evidence if e.field != "stage"]
        self.stage_source = None


class TurnReader:
    """Reads one turn against one framework; the semantic reader is optional (rules alone without it)."""

    def __init__(self, *, framework: Framework, semantic: SemanticReader | None, use_rules: bool) -> None:
        self.framework = framework
        self.semantic = semantic
        self.use_rules = use_rules
        self.labels = [r.stage for r in framework.stages]
        self.models = {r.stage: list(r.models) for r in framework.stages}

    def vectors(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray | None:
        if self.semantic is None or not spans:
            return None
        return self.semantic.embed([text[s:e].strip() for s, e in spans[:MAX_SENTENCES]])

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
            if negated_or_past(sentence) and self.reads_as_denied(sentence, guess):
                continue
            if self.asks_for_verdict(sentence):
                continue
            seen.append(guess)
            if guess.confident and (best is None or guess.score > best[0].score):
                best = (guess, span)
        return (best[0], best[1], seen) if best else (None, None, seen)

    def reads_as_denied(self, sentence: str, guess: Guess) -> bool:
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

    def asks_for_verdict(self, sentence: str) -> bool:
        """ "Which model should we use?", "What type of partner does that work?": a request for the
        verdict, which says nothing about the program or the work. A short question the rules do not
        list ("which do we pick?") is known by meaning: too few words to describe a program, and "pick"
        alone must not read as candidate selection (a statement, "we're choosing between two
        molecules", is one)."""
        if states_situation(sentence, stages=self.labels):
            return False
        if "recommend" in route(sentence, situation=Situation()):
            return True
        if self.semantic is None or len(sentence.split()) > FOLLOW_UP_WORDS or not asks(sentence):
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

    def read(self, text: str, turn: int) -> TurnReading:
        """The facts one user turn states, each with the words that set it."""
        situation, spans = read_facts(text, stages=self.labels) if self.use_rules else (Situation(), {})
        evidence = [Evidence(field=k, text=text[s:e], turn=turn, start=s, end=e, source="rule") for k, (s, e) in spans.items()]
        # Clauses keep a denial apart from what follows it ("not in the clinic, still tweaking the
        # series"); whole sentences keep together what a clause break cuts ("approved and selling").
        parts = clauses(text)[:MAX_SENTENCES]
        stripped = {text[a:b].strip() for a, b in parts}
        whole = scope_rules.sentences(text)
        whole_vectors = self.vectors(text, whole)
        work_guesses = self.semantic.guesses("work", whole_vectors) if self.semantic is not None and whole_vectors is not None else []
        # ...but a sentence asking for a kind of work ("work out which salt form is most stable") is
        # decided by who does that work, not by the stage such work usually belongs to.
        sentences = parts + [
            span
            for span, w in zip_longest(whole[:MAX_SENTENCES], work_guesses[:MAX_SENTENCES])
            if text[span[0] : span[1]].strip().rstrip(".?!") not in stripped and not (w is not None and w.confident)
        ]
        reading = TurnReading(situation=situation, evidence=evidence, stage_source="rule" if situation.stage else None)
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
                and not self.asks_for_verdict(text[span[0] : span[1]])
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
        unique = list(dict((text[a:b].strip(), (a, b)) for a, b in spans[:MAX_SENTENCES] if text[a:b].strip()).values())
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
