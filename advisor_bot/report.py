"""The eval report: report.md with the overall and per-category tables, the failures, and a chart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from advisor_bot.evaluate import METRICS, OURS, EvalError, EvalRun, Gate, K, MetricValue, QuestionResult

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
    import numpy as np

    categories = list(run.ours.by_category)
    columns = [(_SHORT[m], run.ours.by_category, m) for m in CATEGORY_METRICS]
    if run.baseline:
        columns.append((f"baseline R@{K}", run.baseline.by_category, f"retrieval_recall_at_{K}"))
    values = np.array(
        [[np.nan if (v := source[c][m]) is None else v for _, source, m in columns] for c in categories], dtype=float
    )
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    fig, ax = plt.subplots(figsize=(1.3 * len(columns) + 3, 0.42 * len(categories) + 1.6))
    ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        dark = not np.isnan(v) and (v < 0.15 or v > 0.85)  # the colour map's ends are dark
        ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.0%}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
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
    parts = [f"# {OURS} eval report", meta, "## Overall", overall_table(run, gates)]
    if gates:
        parts.append("\n".join(f"- {g.describe()}" for g in gates))
    parts += ["## By category", category_table(run), f"![Metrics by category]({CHART})"]
    if run.warnings:
        parts += ["## Question-set warnings", "\n".join(f"- {w}" for w in run.warnings)]
    failed = sum(not r.scores.passed for r in run.ours.results)
    parts += [f"## Failures ({failed})", failure_section(run.ours.results)]
    return "\n\n".join(parts) + "\n"


def write_report(run: EvalRun, out: Path, *, gates: Sequence[Gate] = ()) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        chart(run, out / CHART)
        path = out / "report.md"
        path.write_text(render(run, gates=gates), encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"Cannot write the eval report to {out}: {exc.strerror}.") from exc
    return path
