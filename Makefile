# ota-stream: `make dev` runs Kafka + one worker on embedded chDB; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLIENT := clients/react-native
CLIENT_STAMP := $(CLIENT)/node_modules/.installed

.PHONY: install dev test unit client-test browser dashboard-vendor lint golden kafka-up kafka-down migrate clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	scripts/kafka/kafka.sh resolve
	touch $(STAMP)

$(CLIENT_STAMP): $(CLIENT)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 18+ and npm are required for the client in $(CLIENT)"; exit 1; }
	cd $(CLIENT) && npm ci --no-audit --no-fund
	touch $(CLIENT_STAMP)

install: $(STAMP)

dev: install
	scripts/dev.sh

# The React Native client: build with tsc, then its unit tests (node --test); the integration test is in pytest.
client-test: $(CLIENT_STAMP)
	cd $(CLIENT) && npm test --silent

# Debian's Chromium, which tests/test_dashboard.py drives through Playwright (Playwright downloads no browser here).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "tests/test_dashboard.py needs Chromium: apt-get install chromium"; exit 1; fi; \
	fi

# Fetch uPlot from the npm registry into the dashboard's static folder (the result is committed).
dashboard-vendor:
	scripts/vendor-uplot.sh

# Test files run in TEST_PROCESSES parallel processes (pytest-xdist), each with its own broker and chDB folder;
# most of the suite's time is waiting on brokers and workers, not CPU. TEST_PROCESSES=0 runs them in this one.
TEST_PROCESSES ?= 3
test: install client-test browser
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# The fast tests: no broker, no worker processes (chDB, the parsers, the rules); about a minute.
unit: install
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check ota_stream tests $(wildcard bench)
	$(BIN)/ruff format --check ota_stream tests $(wildcard bench)
	$(BIN)/mypy

# Rewrite tests/golden/cluster/ from the cluster rendering of every file in schema/ (review the diff after).
golden: install
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/test_cluster_ddl.py -k golden

kafka-up: install
	scripts/kafka/kafka.sh up

kafka-down:
	scripts/kafka/kafka.sh down

migrate: install
	$(BIN)/ota-stream migrate

clean: kafka-down
	rm -rf var .cache $(VENV) $(CLIENT)/node_modules $(CLIENT)/dist $(CLIENT)/build
