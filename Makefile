# Partner Portal — two commands: `make run` and `make test`.
PYTHON ?= python3
PORT   ?= 5000
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed

.PHONY: run test lint translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

translations: $(STAMP)
	@$(BIN)/pybabel -q compile --use-fuzzy -d portal/translations

## make translations-update: re-extract every _()/_l()/lazy_gettext() string into
## portal/translations/messages.pot and merge it into the ko and en catalogs (new ids arrive
## untranslated: no fuzzy guesses, since `make translations` compiles fuzzy entries and a wrong
## guess could carry a foreign %(placeholder)s; tests/test_i18n.py lists what still needs Korean).
.PHONY: translations-update
translations-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -c Translators: \
	  --ignore-dirs ".* ._ tests instance __pycache__" --add-location file --no-wrap \
	  --project "Partner Portal" --copyright-holder "Partner Portal" -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-wrap --ignore-obsolete --no-fuzzy-matching

## make run: install, migrate, load the demo (only into an empty database), serve on :$(PORT) (make run PORT=8080)
## with a background-job consumer beside the web server (its own session, so Ctrl-C reaches it only
## through the trap: it finishes the running job, then stops with the server)
# The demo's fictitious sender contact and 080 number (as portal/demo/platform.py uses), so the
# scheduled demo campaign can launch; a real deployment sets its own (docs/platform/adlaw.md).
run: export PORTAL_SENDER_CONTACT ?= 02-555-0100
run: export PORTAL_OPTOUT_080 ?= 080-555-0100
run: $(STAMP) translations
	$(FLASK) portal db upgrade
	$(FLASK) portal demo
	@setsid $(FLASK) portal jobs consumer --workers 2 & jobs=$$!; \
	trap 'kill -INT $$jobs 2>/dev/null; wait $$jobs' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

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
