# Set-up on a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export ISSUER_BASE_URL ?= http://127.0.0.1:5000

.PHONY: install run test lint bench clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/merkki init
	$(BIN)/merkki institution ensure-demo
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

# pytest runs one worker process per core (pytest-xdist; PYTEST_XDIST_AUTO_NUM_WORKERS=N sets
# another number); tests that share a set-up run together in groups (tests/conftest.py).
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n auto

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The HTTP benchmark drives gunicorn with wrk (Debian package wrk), installed here when missing
# and apt-get is usable as root; without it, its own Python load generator is used.
bench: install
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	  { echo "Installing wrk (Debian package wrk) for the HTTP benchmark"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; } || \
	    echo "wrk could not be installed: the HTTP benchmark uses its Python load generator"; }
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

# Refresh the translation catalogs after adding or changing user-visible strings, then fill in
# the Finnish and Swedish (and, where the English differs from the source, English) texts.
translations: install
	$(BIN)/pybabel extract --no-location --sort-output --width 100 -F babel.cfg -o issuer/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 -i issuer/translations/messages.pot -d issuer/translations
