# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install browser postgres ingest run test bench stress bench-growth eval clean

$(STAMP): pyproject.toml
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on the machines' disk; asking for it first keeps
	# pip from resolving a multi-GB CUDA build for sentence-transformers.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (Playwright downloads no browser here).
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# The shared feedback store's tests start a real PostgreSQL server (initdb/pg_ctl from Debian's package).
postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

ingest: install
	$(BIN)/advisor-bot ingest

run: ingest
	$(BIN)/advisor-bot serve

# The offline eval of all fourteen question sets (2,053 questions) gates CI: bounds sit a margin below
# today's numbers (evals/README.md), except the zero-tolerance ones (fabricated figures,
# must-not-include violations, errors) and wrong recommendations (2.1% today, bound 3.5%: a wrong
# verdict is worse than a question, so it is held tightly). Mixed requests are answered in part at
# 93.9% today (bound 0.85). Answer length is held to what a reader takes in at a glance: p50 <= 1,200
# characters without a recommendation, <= 2,000 with one.
EVAL_DATA := test-output/eval-data
EVAL_SETS := evals/questions.jsonl evals/holdout.jsonl evals/probe.jsonl evals/first-contact-1.jsonl evals/first-contact-2.jsonl \
	evals/first-contact-3.jsonl evals/first-contact-4.jsonl evals/first-contact-5.jsonl evals/first-contact-6.jsonl \
	evals/first-contact-7.jsonl evals/first-contact-8.jsonl evals/first-contact-9.jsonl \
	evals/first-contact-10.jsonl evals/first-contact-11.jsonl evals/first-contact-12.jsonl evals/first-contact-13.jsonl \
	evals/first-contact-14.jsonl evals/first-contact-15.jsonl evals/first-contact-16.jsonl \
	evals/first-contact-17.jsonl evals/first-contact-18.jsonl
EVAL_GATES := \
	--fail-under recommendation_accuracy=0.91 --fail-over wrong_recommendation_rate=0.035 \
	--fail-under retrieval_recall_at_5=0.88 --fail-under retrieval_recall_at_5_lift=0.08 \
	--fail-under citation_section_hit_rate=0.95 --fail-under required_figure_recall=0.93 \
	--fail-under verbatim_citation_rate=1 --fail-under refusal_precision=0.92 --fail-under refusal_recall=0.93 \
	--fail-under partial_decline_rate=0.85 \
	--fail-over fabricated_figures=0 --fail-over must_not_include_violations=0 --fail-over errors=0 \
	--fail-over answer_chars_p50_without_recommendation=1200 --fail-over answer_chars_p50_with_recommendation=2000

test: install browser postgres
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q
	ADVISOR_DATA_DIR=$(EVAL_DATA) $(BIN)/advisor-bot ingest
	ADVISOR_DATA_DIR=$(EVAL_DATA) $(BIN)/advisor-bot eval $(EVAL_SETS) --out test-output/eval --baseline $(EVAL_GATES)

bench: ingest
	$(BIN)/python bench/run.py
	$(BIN)/python bench/llm_overhead.py
	$(BIN)/python bench/retrieval_modes.py
	$(BIN)/python bench/reading_modes.py
	$(BIN)/python bench/ready.py

# Bounded load on a server on 127.0.0.1 only (16 and 64 clients, 2,000 requests each, 60 s cap,
# overload past the queue, large-history floods, a feedback flood through the page): throughput,
# p50/p95/p99, errors, shed, server CPU per request, load average, RSS, feedback stored.
stress: install
	$(BIN)/python bench/stress.py

# Cost growth at 10/100/1,000 synthetic documents, embedded and server mode (long: ~15-30 min).
bench-growth: install
	$(BIN)/python bench/growth.py

eval: ingest
	$(BIN)/advisor-bot eval evals/questions.jsonl --out evals/out --baseline

clean:
	rm -rf $(VENV) .advisor
