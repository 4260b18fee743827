# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install ingest run test bench eval clean

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

ingest: install
	$(BIN)/advisor-bot ingest

run: ingest
	$(BIN)/advisor-bot serve

test: install
	$(BIN)/python -m pytest -q

bench: ingest
	$(BIN)/python bench/run.py

eval: ingest
	$(BIN)/advisor-bot eval evals/questions.jsonl --out evals/out

clean:
	rm -rf $(VENV) .advisor
