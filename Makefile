# Two commands on a fresh machine: `make run` and `make test`. Both (re)build .venv when it is
# missing or older than requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test test-fast e2e bench models report clean

$(STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: $(STAMP)
	$(VENV)/bin/python -m pytest

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow and not e2e"

# The real-browser suite alone (also part of `make test`); needs /usr/bin/chromium, skips without it.
e2e: $(STAMP)
	$(VENV)/bin/python -m pytest tests/e2e -m e2e

# Retrain every shipped model from the real datasets in DATA (see scripts/train_models.sh).
DATA ?= ../shared/data
models: $(STAMP)
	DATA=$(DATA) bash scripts/train_models.sh

report: $(STAMP)
	$(VENV)/bin/python -m paramembed report --write-readme

bench: $(STAMP)
	$(VENV)/bin/python -m paramembed bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
