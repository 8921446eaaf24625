# Two commands (see README):  make run   — set up and serve the portal with demo data
#                             make test  — set up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export PORTAL_INSTANCE_PATH ?= $(CURDIR)/instance
export PORTAL_ADMIN_PASSWORD ?= $(or $(PORTAL_DEMO_PASSWORD),demo12345)

.PHONY: run test test-pg setup setup-test demo bench bench-documents bench-search lint i18n clean

$(BIN)/portal: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/portal

setup: $(BIN)/portal
	@sh scripts/ensure_cjk_font.sh

## make run: venv, install, migrate, admin + demo users and archives, serve on http://127.0.0.1:5000/
run: setup
	$(BIN)/portal init
	$(BIN)/portal demo
	$(BIN)/portal run --host $(HOST) --port $(PORT)

## make test: venv, install, the whole suite on SQLite (PostgreSQL too with CI=true, see .ci/run)
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

## the suite against PostgreSQL at 127.0.0.1:5432 (trust auth)
test-pg: setup
	PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
	  $(BIN)/python -m pytest -n 2 --dist loadfile -q

## make bench: the page benchmark, then the document benchmark (bench/README.md; ~10 minutes)
bench: setup
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_documents.py

## a 200 MiB PDF up and down through the web worker on both stores, against the minio SDK alone
bench-documents: setup
	$(BIN)/python bench/bench_documents.py

## search: 100,000 documents, portal reindex, 50 queries with permission filtering, the live writer
bench-search: setup
	$(BIN)/python bench/bench_search.py $(BENCH_SEARCH_ARGS)

lint: setup
	$(BIN)/ruff check .

i18n: setup
	$(BIN)/python scripts/i18n.py

clean:
	rm -rf $(VENV) instance build *.egg-info
