"""Calibrate the semantic reader on held-apart data: ``python -m advisor_bot.reading.calibrate``.

Five-fold cross-validation over the example bank: each example's probabilities come
from a classifier that never saw it. Each label's threshold is the lowest probability
at which that label's held-out guesses still reach the target precision; the task's
margin is the lead of the best label over the runner-up below which guesses fall
under a higher precision (a tie, to be asked about rather than decided). Fits the
classifiers on the whole bank, writes them to ``data/classifiers.npz`` beside
``data/thresholds.json``, and prints the table quoted in the closing note.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np
from sklearn.model_selection import StratifiedKFold

from advisor_bot.config import Settings, enforce_offline
from advisor_bot.framework import Framework
from advisor_bot.reading.semantic import (
    CLASSIFIERS,
    DATA,
    NONE,
    TASKS,
    Classifier,
    SemanticReader,
    Task,
    Thresholds,
    negatives,
    negatives_digest,
    save_classifiers,
    train,
)

# A stage, a kind of work or a profile cell read by meaning can decide the verdict, and a wrong verdict
# is worse than a question: those tasks are held to a higher precision than intents and scope.
TARGET_PRECISION: dict[Task, float] = {"stage": 0.95, "work": 0.95, "profile": 0.95, "intent": 0.9, "scope": 0.9}
# A profile cell read by meaning sets a factor of the verdict; the bank's sentences state one cell
# each, real sentences mix a need with a fact ("we need ~200 g and someone to start on a scalable
# process" read 0.35 as a strong process group). A cell must be likelier than every other reading together.
FLOOR: dict[Task, float] = {"profile": 0.5}
MARGIN_PRECISION = 0.95
FOLDS = 5


def _same(task: Task, predicted: str, true: str, models: Mapping[str, tuple[str, ...]]) -> bool:
    """A stage guess is right for the verdict when its row recommends what the true row does
    (Phase I/II read as Phase III still means a CDMO); other tasks need the exact label."""
    if task == "stage" and predicted in models and true in models:
        return models[predicted] == models[true]
    return predicted == true


def _threshold(rows: list[tuple[float, bool]], target: float) -> float:
    """Lowest score whose guesses at or above it are at least ``target`` precise (1.0: never trusted)."""
    rows = sorted(rows, key=lambda r: -r[0])
    best = 1.0
    hits = 0
    for n, (score, correct) in enumerate(rows, 1):
        hits += correct
        if hits / n >= target:
            best = score
    return round(float(best), 4)


def held_out(reader: SemanticReader, task: Task, vectors: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Out-of-fold probabilities of every bank example of ``task``: (probabilities, classes, true labels)."""
    examples = reader.examples[task] + negatives(task, reader.examples)
    labels = np.array([e.label for e in examples])
    classes = sorted(set(labels.tolist()))
    probs = np.zeros((len(labels), len(classes)))
    for fit, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(vectors, labels):
        clf = train(vectors[fit], [examples[i] for i in fit], task=task)
        cols = [classes.index(c) for c in clf.classes_]
        probs[np.ix_(test, cols)] = clf.predict_proba(vectors[test])
    return probs, classes, labels


def calibrate(reader: SemanticReader, framework: Framework) -> tuple[Thresholds, dict[Task, Classifier], list[str]]:
    models = {r.stage: tuple(r.models) for r in framework.stages}
    vectors = reader.bank_vectors()
    fitted: dict[Task, Classifier] = {}
    labels_out: dict[str, dict[str, float]] = {}
    margins: dict[str, float] = {}
    report = [
        "| task | label | examples | threshold | held-out precision at it | held-out recall at it |",
        "|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        probs, classes, labels = held_out(reader, task, vectors[task])
        fitted[task] = Classifier.fitted(train(vectors[task], reader.examples[task] + negatives(task, reader.examples), task=task))
        guesses = []  # predicted, probability, lead over the runner-up, right for the verdict
        for row, true in zip(probs, labels):
            order = np.argsort(-row)
            predicted = classes[order[0]]
            guesses.append((predicted, float(row[order[0]]), float(row[order[0]] - row[order[1]]), _same(task, predicted, true, models)))
        labels_out[task] = {}
        for name in classes:
            if name == NONE:
                continue
            rows = [(s, c) for p, s, _, c in guesses if p == name]
            t = max(_threshold(rows, TARGET_PRECISION[task]), FLOOR.get(task, 0.0))
            labels_out[task][name] = t
            kept = [c for s, c in rows if s >= t]
            support = int((labels == name).sum())
            precision = f"{sum(kept) / len(kept):.2f}" if kept else "n/a"
            recall = sum(1 for (p, s, _, c), true in zip(guesses, labels) if p == name and s >= t and true == name) / support
            report.append(f"| {task} | {name} | {support} | {t:.3f} | {precision} | {recall:.2f} |")
        if task == "stage":  # only stages are asked about when two rows tie
            trusted = [(m, c) for p, s, m, c in guesses if p != NONE and s >= labels_out[task][p]]
            margins[task] = _threshold(trusted, MARGIN_PRECISION) if trusted else 0.0
    thresholds = Thresholds(
        model=reader.model_name, bank_digest=reader.digest, labels=labels_out, margins=margins, negatives_digest=negatives_digest(reader.examples)
    )
    return thresholds, fitted, report


def main() -> int:
    enforce_offline()
    from advisor_bot.corpus import load_corpus
    from advisor_bot.embeddings import Embedder
    from advisor_bot.framework import load_framework

    settings = Settings()
    embedder = Embedder(cache_dir=settings.data_dir / "models")
    framework = load_framework({d.id: d for d in load_corpus(settings.corpus_dir)})
    reader = SemanticReader(embedder=embedder, framework=framework, thresholds=None)
    thresholds, classifiers, report = calibrate(reader, framework)
    save_classifiers(classifiers, CLASSIFIERS)
    (DATA / "thresholds.json").write_text(thresholds.model_dump_json(indent=2) + "\n", encoding="utf-8")
    print("\n".join(report))
    print(f"margins: {thresholds.margins}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
