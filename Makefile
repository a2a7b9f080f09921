# Two commands on a fresh machine:  `make app`  (the studio)  and  `make test`  (the whole suite).
# Both create .venv from the pinned requirements the first time (about a minute).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: app test lint clean-venv

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

app: $(VENV)/.installed
	$(BIN)/python -m studio.serve --server.port $(PORT) --browser.gatherUsageStats false

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

clean-venv:
	rm -rf $(VENV)
