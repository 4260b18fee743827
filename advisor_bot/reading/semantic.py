"""Reading by meaning, on the embedder that is already loaded.

Each task (stage, intents, scope, the kind of work asked for, the Organizational Profile
cell a sentence states) has a bank of example phrasings in ``data/examples/<task>.jsonl``;
the stage, work and profile tasks also learn the corpus's own wording (each matrix row's name
and primary need; the lists of what a CRO and a CDMO do; each profile cell), so a changed
corpus changes the reader too. A logistic regression over the
sentence embeddings of that bank (scikit-learn: a maintained, well-calibrated linear
classifier; it beat nearest-neighbour voting by 1-10 points in cross-validation on every
task) gives each label a probability. Below the label's threshold, calibrated on
held-out folds (``data/thresholds.json``, written by ``reading.calibrate``), the reader
abstains: an unsure reading must ask, not guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from advisor_bot.embeddings import RecentVectors
from advisor_bot.framework import Framework, sentence_spans
from advisor_bot.index import EmbeddingModel
from advisor_bot.reading.rules import extract_situation, states_situation
from advisor_bot.situation import Column

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

Task = Literal["stage", "intent", "scope", "work", "profile"]
TASKS: tuple[Task, ...] = ("stage", "intent", "scope", "work", "profile")
# The framework's own lists of what each provider does: the "work" task's prototypes.
DATA = Path(__file__).parent / "data"
CLASSIFIERS = DATA / "classifiers.npz"
NONE = "none"
# A corpus prototype ("Process validation: demonstrating that a manufacturing process ...") is the
# framework's own definition of a label: it weighs as much as this many phrasings from the bank.
CORPUS_WEIGHT = 5.0  # the label of texts that state nothing of a task's kind
_BORROWED_WEIGHT = 0.25  # a stage or work example used as a profile negative
_CACHE_SIZE = 2048  # text vectors kept: a conversation's earlier turns are not embedded again


class Example(BaseModel):
    text: str = Field(min_length=1)
    label: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0, description="Training weight: the corpus's own wording counts more.")


class Guess(BaseModel):
    """The best label for a text, how close it came, and the runner-up."""

    label: str
    score: float
    runner_up: str | None = None
    runner_up_score: float | None = None
    confident: bool = Field(description="At or above the label's calibrated threshold.")

    @property
    def margin(self) -> float:
        return self.score - (self.runner_up_score if self.runner_up_score is not None else -1.0)


class Thresholds(BaseModel):
    """Per-task, per-label cosine scores at or above which a guess is trusted."""

    model: str = Field(description="The embedding model the thresholds were calibrated on.")
    bank_digest: str
    labels: dict[str, dict[str, float]]
    margins: dict[str, float] = Field(default_factory=dict, description="Per task: a lead smaller than this is a tie.")
    negatives_digest: str = Field(
        default="", description="The texts fitted as 'none': they are chosen by the rules, so a rule change changes them (tests compare)."
    )


def load_examples(task: Task) -> list[Example]:
    path = DATA / "examples" / f"{task}.jsonl"
    return [Example.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_prototypes(task: Task, framework: Framework) -> list[Example]:
    """The corpus's own wording of each label, so a changed matrix changes the reader too."""
    if task == "stage":
        return [Example(text=f"{r.stage}: {r.primary_need}", label=r.stage, weight=CORPUS_WEIGHT) for r in framework.stages]
    if task == "work":
        doc = framework.doc
        return [
            Example(text=doc.text[start:end].removeprefix("- "), label=provider, weight=CORPUS_WEIGHT)
            for provider, key in framework.article.work.items()
            for start, end in sentence_spans(doc, framework.section(key))
            if doc.text.startswith("- ", start)
        ]
    if task == "profile":
        # "Internal chemistry capability: Limited or no in-house chemistry", labelled "internal:CRO".
        return [
            Example(text=f"{row.factor}: {cell.text}", label=f"{key}:{column}", weight=CORPUS_WEIGHT)
            for key, row in ((k, framework.profile_row(k)) for k in framework.article.profile_rows)
            for column, cell in row.cells.items()
        ]
    return []


def profile_cell(label: str) -> tuple[str, Column]:
    """A profile label ("budget:CRO") as its row key and column."""
    key, _, column = label.partition(":")
    return key, column  # type: ignore[return-value]  # the labels are written "<row key>:<column>" by corpus_prototypes and the bank


def bank(framework: Framework) -> dict[Task, list[Example]]:
    return {task: load_examples(task) + corpus_prototypes(task, framework) for task in TASKS}


def bank_digest(examples: dict[Task, list[Example]]) -> str:
    h = hashlib.sha256()
    for task in TASKS:
        for e in examples[task]:
            h.update(f"{task}\t{e.label}\t{e.text}\n".encode())
    return h.hexdigest()[:16]


def negatives_digest(examples: dict[Task, list[Example]]) -> str:
    """A digest of every task's ``none`` examples borrowed from other banks (``negatives``)."""
    h = hashlib.sha256()
    for task in TASKS:
        for e in negatives(task, examples):
            h.update(f"{task}\t{e.weight}\t{e.text}\n".encode())
    return h.hexdigest()[:16]


def load_thresholds() -> Thresholds | None:
    path = DATA / "thresholds.json"
    return Thresholds.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None


def negatives(task: Task, examples: dict[Task, list[Example]]) -> list[Example]:
    """Texts that state nothing of this task's kind, as its ``none`` label: the stage classifier
    must learn that a bare "which model should we use?" names no stage (the intent bank's
    questions in which the rules find no fact at all)."""
    if task == "work":
        # A company, a budget, a question about IP: no kind of work to give to anyone.
        return [Example(text=e.text, label=NONE) for e in examples["stage"] if e.label == NONE] + [
            Example(text=e.text, label=NONE) for e in examples["intent"] if e.label not in ("recommend", "regulatory")
        ]
    stages = [e.label for e in examples["stage"] if e.label != NONE]
    questions = [Example(text=e.text, label=NONE) for e in examples["intent"] if not states_situation(e.text, stages=stages)]
    if task == "stage":
        return questions
    if task == "profile":
        # ...that a question about GMP or budgets in general states nothing of the user's own; nor does
        # a sentence telling only the stage or the work ("we're optimising the lead series", "need a
        # route scouted"), unless the rules read a profile fact in it.
        # Those borrowed sentences outnumber each cell's examples thirty to one: weighed down, so
        # "none" does not win every sentence that also tells where the program is.
        told = [e.text for e in examples["stage"] + examples["work"] if e.label != NONE]
        return questions + [Example(text=t, label=NONE, weight=_BORROWED_WEIGHT) for t in told if not _states_profile(t, stages)]
    return []


def _states_profile(text: str, stages: Sequence[str]) -> bool:
    facts = extract_situation(text, stages=stages)
    return any(v is not None for k, v in facts if k not in ("stage", "work", "parallel_work", "single_partner"))


# The inverse regularisation strength per task. 16 scored best of 1/4/16 in 5-fold cross-validation on
# the bank for every task; but scope's bank holds near-twins on both sides ("budget for the handover"
# in scope, "budget for shipping the samples" out), and at 16 a question between them was read with
# 0.9 confidence for whichever side's wording it shared. At 4 the held-out precision is the same and
# the eval sets' refusals gain (recall 95.3 -> 97.0 on 2,053 questions, measured with the bank of 2026-12).
STRENGTH: dict[Task, float] = {"stage": 16.0, "work": 16.0, "intent": 16.0, "scope": 4.0, "profile": 16.0}


def train(vectors: np.ndarray, examples: Sequence[Example], *, task: Task) -> LogisticRegression:
    # Imported here: only calibration trains; a start loads the fitted weights, and scikit-learn
    # (with SciPy) was a third of the server's start-up.
    from sklearn.linear_model import LogisticRegression

    weights = np.asarray([e.weight for e in examples])
    return LogisticRegression(C=STRENGTH[task], max_iter=3000).fit(vectors, np.asarray([e.label for e in examples]), sample_weight=weights)


class Classifier:
    """A fitted multinomial logistic regression, reduced to what prediction needs, so a start loads
    weights instead of training (``reading.calibrate`` fits and writes them with the thresholds)."""

    def __init__(self, *, classes: Sequence[str], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes = list(classes)
        self.coef = coef
        self.intercept = intercept

    @classmethod
    def fitted(cls, model: LogisticRegression) -> Classifier:
        return cls(classes=[str(c) for c in model.classes_], coef=model.coef_.astype(np.float32), intercept=model.intercept_.astype(np.float32))

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def save_classifiers(classifiers: dict[Task, Classifier], path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    for task, c in classifiers.items():
        arrays[f"{task}.classes"] = np.array(c.classes)
        arrays[f"{task}.coef"] = c.coef
        arrays[f"{task}.intercept"] = c.intercept
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]  # numpy's stub: a **dict might hold allow_pickle


def load_classifiers(path: Path) -> dict[Task, Classifier]:
    with np.load(path) as data:
        return {
            task: Classifier(classes=data[f"{task}.classes"].tolist(), coef=data[f"{task}.coef"], intercept=data[f"{task}.intercept"])
            for task in TASKS
        }


class SemanticReader:
    """One classifier per task over the bank; thread-safe, with a cache of text vectors."""

    def __init__(self, *, embedder: EmbeddingModel, framework: Framework, thresholds: Thresholds | None) -> None:
        self.embedder = embedder
        self.examples = bank(framework)
        self.digest = bank_digest(self.examples)
        self.model_name = str(getattr(embedder, "name", type(embedder).__name__))
        # The calibration holds only for the model and bank it was made on: with any other (a
        # test's fake embedder, a bank edited without re-running reading.calibrate) the reader
        # abstains and the rules read alone.
        usable = thresholds is not None and thresholds.model == self.model_name and thresholds.bank_digest == self.digest
        self.thresholds = thresholds if usable and CLASSIFIERS.exists() else None
        self._cache = RecentVectors(_CACHE_SIZE)
        self.classifiers: dict[Task, Classifier] = load_classifiers(CLASSIFIERS) if self.thresholds is not None else {}

    @property
    def active(self) -> bool:
        return self.thresholds is not None

    def bank_vectors(self) -> dict[Task, np.ndarray]:
        """Unit vectors of every bank text (negatives included), per task."""
        out: dict[Task, np.ndarray] = {}
        for task in TASKS:
            out[task] = normalised(self.embedder.embed_documents([e.text for e in self.examples[task] + negatives(task, self.examples)]))
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, embedding only those not seen recently."""
        rows = self._cache.vectors(texts, lambda missing: normalised(self.embedder.embed_documents(missing)))
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)

    def probabilities(self, task: Task, vectors: np.ndarray) -> list[dict[str, float]]:
        clf = self.classifiers[task]
        return [dict(zip(clf.classes, row.tolist())) for row in clf.proba(vectors)]

    def guesses(self, task: Task, vectors: np.ndarray) -> list[Guess | None]:
        """The best label of each vector, or None when the reader is inactive or the best is ``none``."""
        if self.thresholds is None or len(vectors) == 0:
            return [None] * len(vectors)
        return [self.guess(task, probs) for probs in self.probabilities(task, vectors)]

    def guess(self, task: Task, probs: dict[str, float]) -> Guess | None:
        """The best label of one row of ``probabilities``, or None when it is ``none`` (or nothing is calibrated)."""
        if self.thresholds is None:
            return None
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        label, score = ranked[0]
        second = ranked[1] if len(ranked) > 1 else (None, None)
        if label == NONE:
            return None
        threshold = self.thresholds.labels.get(task, {}).get(label, 1.0)
        return Guess(label=label, score=score, runner_up=second[0], runner_up_score=second[1], confident=score >= threshold)

    def margin(self, task: Task) -> float:
        return self.thresholds.margins.get(task, 0.0) if self.thresholds else 0.0


def normalised(rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    if m.size == 0:
        return m.reshape(0, 1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)
