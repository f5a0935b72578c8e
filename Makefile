# Every target creates or reuses .venv by itself: a newcomer runs one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv test test-sqlite test-postgres lint demo bench eval clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check soulsync_idmap tests benchmarks
	$(BIN)/ruff format --check soulsync_idmap tests benchmarks
	$(BIN)/mypy soulsync_idmap

demo: $(STAMP)
	$(BIN)/idmap demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_matching.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo .bench
