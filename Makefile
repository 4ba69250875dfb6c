# Partner Portal — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint translations demo clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

translations: $(STAMP)
	@$(BIN)/pybabel compile --use-fuzzy -q -d portal/translations

## make run: install, migrate, load the demo (only into an empty database), serve on :5000
run: $(STAMP) translations
	$(FLASK) portal db upgrade
	$(FLASK) portal demo
	$(FLASK) run --host 127.0.0.1 --port 5000

## make test: the whole suite on SQLite, and on PostgreSQL too when PORTAL_TEST_POSTGRES_URL is set
test: $(STAMP) translations
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile
	@if [ -n "$$PORTAL_TEST_POSTGRES_URL" ]; then \
	  echo "== the same suite on PostgreSQL"; \
	  PORTAL_TEST_DATABASE=postgres $(BIN)/python -m pytest -n 2 --dist loadfile; \
	else echo "(PORTAL_TEST_POSTGRES_URL not set: PostgreSQL run skipped; .ci/run sets it)"; fi

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
