# Set-up on a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# `make run PORT=8000` serves on another port. ISSUER_BASE_URL follows the port unless it is set:
# the base URL is part of every issued credential's id and of the issuers' DIDs, so credentials
# issued under one port are no longer ours under another (README, "Install and run").
PORT ?= 5000
export ISSUER_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install run test lint bench clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The set-up commands log at ERROR only: the server repeats their start-up warnings (the
# development passphrase, a random secret key) once, just below. What ensure-demo tells the
# operator (base URL, mail delivery, the demo admin's sign-in) is printed after the server's own
# banner, once it answers (or has stopped, or 30 s have passed), so that the one-time password
# is the last thing on the screen.
run: install
	@ISSUER_LOG_LEVEL=ERROR $(BIN)/merkki init
	@summary="$$(ISSUER_LOG_LEVEL=ERROR $(BIN)/merkki institution ensure-demo 2>&1 >/dev/null)" \
	  || { printf '%s\n' "$$summary" >&2; exit 1; }; \
	( tries=0; while [ $$tries -lt 100 ] && kill -0 $$$$ 2>/dev/null && \
	    ! $(BIN)/python -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
	      $(PORT) 2>/dev/null; do tries=$$((tries + 1)); sleep 0.3; done; \
	  printf '\n%s\n\n' "$$summary" >&2 ) & \
	exec $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT)

# pytest runs one worker process per core (pytest-xdist; PYTEST_XDIST_AUTO_NUM_WORKERS=N sets
# another number); tests that share a set-up run together in groups (tests/conftest.py).
# The suite starts about a hundred Python processes (servers, workers, commands), each importing
# the app: where the environment turns off bytecode files (PYTHONDONTWRITEBYTECODE), each of them
# would compile the package from source again, and pytest would rewrite every test module again
# in each worker. The test run writes them (__pycache__ folders, ignored by git).
# mypy (a quarter of a minute on one core with an empty cache, as on a fresh clone) checks the
# types while the tests run; what it finds is printed after them and fails the target all the
# same (`make lint` runs it alone).
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@echo "$(BIN)/mypy (beside the tests)"; \
	$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & types=$$!; \
	echo "env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n auto"; \
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n auto; tests=$$?; \
	wait $$types; typed=$$?; \
	echo "$(BIN)/mypy:"; cat $(VENV)/mypy.log; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; exit $$typed

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
