"""What an eval run produces: its verdict against the gates, the result files and report.md with its chart."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from advisor_bot.errors import EvalError
from advisor_bot.evals.evaluate import METRICS, OURS, EvalRun, K, MetricValue, QuestionResult


# -- gates ----------------------------------------------------------------------------------------


class Gate(BaseModel):
    metric: str
    bound: float
    direction: Literal["under", "over"] = Field(description="'under': fail when the value is below the bound.")
    value: MetricValue = None
    passed: bool | None = None

    @property
    def flag(self) -> str:
        return f"--fail-{self.direction} {self.metric}={self.bound:g}"

    def checked(self, metrics: dict[str, MetricValue]) -> Gate:
        value = metrics.get(self.metric)
        if value is None:
            return self.model_copy(update={"value": None, "passed": False})
        ok = value >= self.bound if self.direction == "under" else value <= self.bound
        return self.model_copy(update={"value": value, "passed": ok})

    def describe(self) -> str:
        if self.value is None:
            why = "not measured" + (" (run with --baseline)" if self.metric.endswith("_lift") else " (no question exercises it)")
        else:
            why = f"{self.value:.4g} {'<' if self.direction == 'under' else '>'} {self.bound:g}" if not self.passed else f"{self.value:.4g}"
        return f"{'PASS' if self.passed else 'FAIL'} {self.flag}: {why}"


def parse_gate(spec: str, *, direction: Literal["under", "over"]) -> Gate:
    """'recommendation_accuracy=0.95' -> a gate; unknown metrics and wrong directions are refused up front."""
    name, sep, raw = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise EvalError(f"--fail-{direction} {spec!r}: write METRIC=VALUE, e.g. recommendation_accuracy=0.95.")
    if name not in METRICS:
        raise EvalError(f"--fail-{direction} {spec!r}: unknown metric {name!r}; metrics are: {', '.join(METRICS)}.")
    try:
        bound = float(raw)
    except ValueError:
        raise EvalError(f"--fail-{direction} {spec!r}: {raw!r} is not a number (rates are fractions: 0.95, not 95%).") from None
    lower = METRICS[name].lower_is_better
    if lower != (direction == "over"):
        other = "over" if lower else "under"
        better = "lower" if lower else "higher"
        raise EvalError(f"--fail-{direction} {spec!r}: {better} is better for {name}; use --fail-{other} {name}={raw}.")
    return Gate(metric=name, bound=bound, direction=direction)


# -- report.md ------------------------------------------------------------------------------------

CHART = "metrics_by_category.png"
# Per-category columns: the rates a team reads a category by, in chart order.
CATEGORY_METRICS = (
    "pass_rate",
    "recommendation_accuracy",
    f"retrieval_recall_at_{K}",
    "citation_section_hit_rate",
    "required_figure_recall",
    "refusal_recall",
)
_SHORT = {
    "pass_rate": "pass",
    "recommendation_accuracy": "rec. acc.",
    f"retrieval_recall_at_{K}": f"R@{K}",
    "citation_section_hit_rate": "cite hit",
    "required_figure_recall": "figures",
    "refusal_recall": "refusal rec.",
}


def fmt(metric: str, value: MetricValue) -> str:
    if value is None:
        return "n/a"
    kind = METRICS[metric].kind
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "ms":
        return f"{value:.0f} ms"
    if kind == "count":
        return f"{value:g}"
    if kind == "chars":
        return f"{value:,.0f} chars"
    return f"{value:+.3f}" if metric.endswith("_lift") else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def overall_table(run: EvalRun, gates: Sequence[Gate]) -> str:
    ours = run.metrics
    theirs = run.baseline.metrics if run.baseline else None
    by_metric = {g.metric: g for g in gates}
    header = ["Metric", OURS] + (["naive baseline"] if theirs is not None else []) + (["gate"] if gates else [])
    rows = []
    for key, spec in METRICS.items():
        if key not in ours:
            continue
        row = [f"{spec.label} (`{key}`)", fmt(key, ours[key])]
        if theirs is not None:
            row.append(fmt(key, theirs.get(key)))
        if gates:
            gate = by_metric.get(key)
            row.append(f"{'✅' if gate.passed else '❌'} {'≥' if gate.direction == 'under' else '≤'} {gate.bound:g}" if gate else "")
        rows.append(row)
    return _table(header, rows)


def category_table(run: EvalRun) -> str:
    header = ["Category", "n", *(_SHORT[m] for m in CATEGORY_METRICS)]
    if run.baseline:
        header.append(f"baseline R@{K}")
    rows = []
    for category, metrics in run.ours.by_category.items():
        row = [category, f"{metrics['questions']:g}", *(fmt(m, metrics[m]) for m in CATEGORY_METRICS)]
        if run.baseline:
            row.append(fmt(f"retrieval_recall_at_{K}", run.baseline.by_category[category][f"retrieval_recall_at_{K}"]))
        rows.append(row)
    return _table(header, rows)


LENGTH_METRICS = ("answer_chars_p50", "answer_chars_p95", "answer_chars_p50_without_recommendation", "answer_chars_p50_with_recommendation")


def length_table(run: EvalRun) -> str:
    """Answer length (characters of answer_markdown, refusals excluded) per category, then overall."""
    header = ["Category", "p50", "p95", "p50 no rec.", "p50 with rec."]
    rows = [[c, *(fmt(m, metrics[m]) for m in LENGTH_METRICS)] for c, metrics in run.ours.by_category.items()]
    rows.append(["**all**", *(fmt(m, run.ours.metrics[m]) for m in LENGTH_METRICS)])
    return _table(header, rows)


def _fence(text: str) -> str:
    """A fence longer than any run of tildes in the text, so an answer cannot close it early."""
    longest = max((len(m) for m in re.findall(r"~+", text)), default=0)
    fence = "~" * max(3, longest + 1)
    return f"{fence}markdown\n{text}\n{fence}"


def failure_section(results: Sequence[QuestionResult]) -> str:
    failed = [r for r in results if not r.scores.passed]
    if not failed:
        return "Every question passed."
    parts = []
    for r in failed:
        q = r.question
        lines = [f"#### `{q.id}` ({q.category})", "", f"**Question:** {q.question}"]
        lines += [f"**Earlier turn:** {t}" for t in q.turns]
        lines += ["", *(f"- {why}" for why in r.scores.failures)]
        if r.scores.cited_sections:
            lines.append(f"- cited: {'; '.join(r.scores.cited_sections)}")
        if q.expected_sections:
            rank = r.scores.retrieval_rank
            lines.append(f"- retrieval: {f'first expected section at rank {rank}' if rank else f'no expected section in the top {K}'}")
        if q.notes:
            lines.append(f"- question notes: {q.notes}")
        if r.answer is not None:
            lines += ["", "<details><summary>Answer</summary>", "", _fence(r.answer.answer_markdown), "", "</details>"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def chart(run: EvalRun, path: Path) -> None:
    """A heat map of the per-category rates, each cell labelled; grey where a metric does not apply."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(run.ours.by_category)
    columns = [(_SHORT[m], run.ours.by_category, m) for m in CATEGORY_METRICS]
    if run.baseline:
        columns.append((f"baseline R@{K}", run.baseline.by_category, f"retrieval_recall_at_{K}"))
    values = [[source[c][m] for _, source, m in columns] for c in categories]
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    fig, ax = plt.subplots(figsize=(1.3 * len(columns) + 3, 0.42 * len(categories) + 1.6))
    # imshow masks NaN cells and paints them in the colour map's "bad" grey.
    ax.imshow([[math.nan if v is None else v for v in row] for row in values], cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            dark = v is not None and (v < 0.15 or v >= 0.9)  # the colour map's ends are dark
            ax.text(j, i, "n/a" if v is None else f"{v:.0%}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), [label for label, _, _ in columns], rotation=30, ha="right")
    ax.set_yticks(range(len(categories)), [f"{c} ({run.ours.by_category[c]['questions']:g})" for c in categories])
    ax.set_title(f"{OURS} eval by category: {run.engine} engine, corpus {run.corpus_version}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_lines(run: EvalRun, *, gates: Sequence[Gate] = ()) -> list[str]:
    """The overall numbers as aligned console lines, then the gates."""
    ours, theirs = run.metrics, run.baseline.metrics if run.baseline else {}
    width = max(len(k) for k in METRICS)
    lines = [f"{'metric':<{width}}  {OURS:>12}" + (f"  {'baseline':>12}" if run.baseline else "")]
    for key in METRICS:
        if key in ours:
            other = f"  {fmt(key, theirs.get(key)):>12}"
            lines.append(f"{key:<{width}}  {fmt(key, ours[key]):>12}" + (other if run.baseline else ""))
    return lines + [g.describe() for g in gates]


def render(run: EvalRun, *, gates: Sequence[Gate] = ()) -> str:
    meta = (
        f"Question sets: {', '.join(f'`{f}`' for f in run.files)} · engine `{run.engine}` · "
        f"corpus `{run.corpus_version}` · {run.ours.metrics['questions']:g} questions · "
        f"started {run.started_at} · {run.seconds:.1f} s"
    )
    how = "Metric definitions and scoring rules: `evals/README.md` in the advisor-bot repository."
    parts = [f"# {OURS} eval report", meta, how, "## Overall", overall_table(run, gates)]
    if gates:
        parts.append("\n".join(f"- {g.describe()}" for g in gates))
    parts += ["## By category", category_table(run), f"![Metrics by category]({CHART})"]
    parts += ["## Answer length by category", length_table(run)]
    if run.warnings:
        parts += ["## Question-set warnings", "\n".join(f"- {w}" for w in run.warnings)]
    failed = sum(not r.scores.passed for r in run.ours.results)
    parts += [f"## Failures ({failed})", failure_section(run.ours.results)]
    return "\n\n".join(parts) + "\n"


# -- files ----------------------------------------------------------------------------------------


def write_report(run: EvalRun, out: Path, *, gates: Sequence[Gate] = ()) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        chart(run, out / CHART)
        path = out / "report.md"
        path.write_text(render(run, gates=gates), encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"Cannot write the eval report to {out}: {exc.strerror}.") from exc
    return path


def write_results(run: EvalRun, out: Path, *, gates: Sequence[Gate] = ()) -> None:
    """results.jsonl (and baseline_results.jsonl) one line per question, and metrics.json."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, system in (("results.jsonl", run.ours), ("baseline_results.jsonl", run.baseline)):
            target = out / name
            if system is None:
                target.unlink(missing_ok=True)
                continue
            with target.open("w", encoding="utf-8") as fh:
                for r in system.results:
                    fh.write(r.model_dump_json() + "\n")
        summary = {**run.model_dump(), "metrics": run.metrics, "gates": [g.model_dump() for g in gates]}
        (out / "metrics.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"Cannot write eval results to {out}: {exc.strerror}.") from exc
