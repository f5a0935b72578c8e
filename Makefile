# Every target creates or reuses .venv by itself: a newcomer runs one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv browser test test-sqlite test-postgres lint complexity demo bench eval clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# Headless Chromium for the browser tests of the web pages (tests/web): Debian's chromium and
# chromium-driver, driven by Selenium. Installs them when missing (as root, or through sudo).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		echo "chromium and chromedriver are installed"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

# The whole suite on SQLite, then every test that touches the mapping database again on
# PostgreSQL (127.0.0.1:5432, trust auth; IDMAP_TEST_PG overrides). Without a server the
# PostgreSQL pass is skipped with the reason, except under CI where it fails. Both passes
# run even when the first fails; the target fails if either did.
# The tests mostly wait (loopback servers, subprocesses, retries, debounce windows), so each
# pass runs in TEST_WORKERS pytest-xdist processes, more than a small machine has cores:
# every test has its own temporary directory, ports from 0 and, on PostgreSQL, its own
# database (each worker migrates its own template). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test: $(STAMP)
	@status=0; \
	$(PYTEST) || status=1; \
	IDMAP_TEST_BACKEND=postgresql $(PYTEST) || status=1; \
	exit $$status

test-sqlite: $(STAMP)
	$(PYTEST)

test-postgres: $(STAMP)
	IDMAP_TEST_BACKEND=postgresql $(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check soulsync_idmap tests benchmarks
	$(BIN)/ruff format --check soulsync_idmap tests benchmarks
	$(BIN)/mypy soulsync_idmap

# Cyclomatic complexity (radon) of the matching code: lists every function above 10 and
# fails when one reaches COMPLEXITY_MAX.
COMPLEXITY_PATHS := soulsync_idmap/matching soulsync_idmap/sync/candidates.py
COMPLEXITY_MAX   := 15
complexity: $(STAMP)
	@$(BIN)/radon cc --show-complexity --min C $(COMPLEXITY_PATHS) | awk -v max=$(COMPLEXITY_MAX) \
		'{ print } /\([0-9]+\)$$/ { n = substr($$NF, 2, length($$NF) - 2) + 0; if (n >= max) bad = 1 } \
		END { if (bad) print "complexity " max " or more: split the function"; exit bad }'

demo: $(STAMP)
	$(BIN)/idmap demo --workdir .demo --serve

# One table, SQLite and PostgreSQL: 300k tracks through the fake Plex and Jellyfin.
# BENCH_ARGS passes flags, e.g. make bench BENCH_ARGS="--tracks 20000 --albums 1700 --artists 400 --no-postgres"
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/service_bench.py
	$(BIN)/python benchmarks/web_bench.py

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_matching.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo .bench
