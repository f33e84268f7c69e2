# The two set-up commands of the README: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

# FerretDB (MongoDB's wire protocol on SQLite) for the MongoDB tests, built once into a cache
# outside the work tree; MONGO_URI=mongodb://... points the tests at a real MongoDB instead
FERRETDB_VERSION := v1.24.2
CACHE    ?= $(HOME)/.cache/area-broker
FERRETDB := $(CACHE)/bin/ferretdb-$(FERRETDB_VERSION)
GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

.PHONY: run test test-fast bench bench-all wrk clean mosquitto ferretdb iotagent

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m broker $(ARGS)

# The tests run in parallel (pytest-xdist), spread test by test over the workers: each worker starts
# its own FerretDB and module-scoped servers. Not --dist loadfile/loadscope: they keep one test per
# node id, and schemathesis gives its 60 operations one id (tests/fuzz would run one of them).
# WORKERS=0 runs them in one process.
# `make test` runs everything; `make test-fast` leaves out the tests marked `slow` (real outages,
# broker processes, external tools). TESTS=tests/http narrows the run.
WORKERS ?= auto
TESTS   ?=
PYTEST   = FERRETDB=$(FERRETDB) $(PY) -m pytest -q -p no:cacheprovider -n $(WORKERS) --dist load

test: $(STAMP) mosquitto $(FERRETDB) iotagent
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PYTEST) $(TESTS)

test-fast: $(STAMP) mosquitto $(FERRETDB) iotagent
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PYTEST) -m "not slow" $(TESTS)

ferretdb: $(FERRETDB)

# `go install ...@version` builds a binary that panics at start (the module zip has an empty
# build/version/version.txt), so: download the module, write the version file, build a copy
$(FERRETDB):
	@[ -x "$(GO)" ] || command -v "$(GO)" >/dev/null || \
	  { echo "Go is needed to build FerretDB for the MongoDB tests (or set MONGO_URI)"; exit 1; }
	mkdir -p $(CACHE)/bin $(CACHE)/src
	rm -rf $(CACHE)/src/ferretdb-$(FERRETDB_VERSION)
	cp -r "$$(cd $(CACHE) && GOFLAGS=-mod=mod $(GO) mod download -json github.com/FerretDB/FerretDB@$(FERRETDB_VERSION) \
	  | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')" $(CACHE)/src/ferretdb-$(FERRETDB_VERSION)
	chmod -R u+w $(CACHE)/src/ferretdb-$(FERRETDB_VERSION)
	echo $(FERRETDB_VERSION) > $(CACHE)/src/ferretdb-$(FERRETDB_VERSION)/build/version/version.txt
	cd $(CACHE)/src/ferretdb-$(FERRETDB_VERSION) && $(GO) build -o $@.tmp ./cmd/ferretdb
	mv $@.tmp $@

# MQTT tests start a real Mosquitto (Debian package) on a free loopback port
mosquitto:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || \
	  (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || \
	  echo "mosquitto could not be installed: the MQTT tests will be skipped"

# The IoT Agent end-to-end test runs FIWARE's IoT Agent library (npm iotagent-node-lib, pinned by
# tests/e2e/iotagent/package-lock.json) under Node.js; without Node the test is skipped
IOTAGENT := tests/e2e/iotagent
iotagent:
	@if [ -d $(IOTAGENT)/node_modules/iotagent-node-lib ]; then :; \
	elif ! command -v npm >/dev/null; then \
	  echo "npm not found: the IoT Agent end-to-end test will be skipped (install Node.js >= 20 to run it)"; \
	else cd $(IOTAGENT) && npm ci --no-audit --no-fund || \
	  echo "npm ci failed in $(IOTAGENT): the IoT Agent end-to-end test will fail"; fi

# `make bench`: the wrk load benchmark (benchmarks/http_load.py) at 16 connections and 10k entities;
# BENCH_ARGS='--connections 1,16,128 --sizes 10000,1000000' for the full matrix. The other benchmarks
# by name: `make bench BENCH=queries` (entities, queries, notifications, personal); all: `make bench-all`
BENCH      ?= http_load
BENCH_ARGS ?=
BENCHES    := http_load entities queries notifications personal

bench: $(STAMP) wrk
	$(PY) -m benchmarks.$(BENCH) $(BENCH_ARGS)

bench-all: $(STAMP) wrk
	set -e; for b in $(BENCHES); do $(PY) -m benchmarks.$$b; done

# wrk (Debian package) drives benchmarks/http_load.py
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || \
	  { echo "wrk could not be installed (apt-get install wrk): needed by make bench"; exit 1; }

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
