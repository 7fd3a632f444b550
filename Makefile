# Two commands on a fresh machine: `make run` and `make test`. Both (re)build .venv when it is
# missing or older than requirements.txt / pyproject.toml, installing the project editable
# (`pip install -e .[test]`), so `import paramembed` works from any folder.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run serve test test-fast e2e bench models report clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	@touch $(STAMP)

# Local mode (paramembed/serving.py): this machine only. No file watcher: it would rerun every
# open page whenever a training run writes under the repository. paramembed/app/launch.py is
# `streamlit run app.py` plus a warm-up of the first page's work while the server starts.
# Our own modules are byte-compiled first, as pip compiles the packages it installs: where
# PYTHONDONTWRITEBYTECODE is set, every start would compile them again (~0.15 s before the first page).
run: $(STAMP)
	$(VENV)/bin/python -m compileall -q paramembed
	$(VENV)/bin/python -P paramembed/app/launch.py --server.port $(PORT) --server.address 127.0.0.1 \
		--server.fileWatcherType none

# Network mode for a class sharing one server: training and server-folder browsing are off unless
# PARAMEMBED_ALLOW_TRAINING / PARAMEMBED_ALLOW_FOLDERS / PARAMEMBED_ADMIN_TOKEN turn them on;
# tracebacks go to this console only, not to the browser.
serve: $(STAMP)
	$(VENV)/bin/python -m compileall -q paramembed
	PARAMEMBED_MODE=network $(VENV)/bin/python -P paramembed/app/launch.py --server.port $(PORT) --server.address 0.0.0.0 \
		--server.fileWatcherType none --client.showErrorDetails none --client.toolbarMode viewer

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
