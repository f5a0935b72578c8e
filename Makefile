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

# The whole suite on SQLite, then every test that touches the mapping database again on
# PostgreSQL (127.0.0.1:5432, trust auth; IDMAP_TEST_PG overrides). Without a server the
# PostgreSQL pass is skipped with the reason, except under CI where it fails.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	IDMAP_TEST_BACKEND=postgresql $(BIN)/python -m pytest -q

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -q

test-postgres: $(STAMP)
	IDMAP_TEST_BACKEND=postgresql $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check soulsync_idmap tests benchmarks
	$(BIN)/ruff format --check soulsync_idmap tests benchmarks
	$(BIN)/mypy soulsync_idmap

demo: $(STAMP)
	$(BIN)/idmap demo

# One table, SQLite and PostgreSQL: 300k tracks through the fake Plex and Jellyfin.
# BENCH_ARGS passes flags, e.g. make bench BENCH_ARGS="--tracks 20000 --albums 1700 --artists 400 --no-postgres"
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_matching.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo .bench
