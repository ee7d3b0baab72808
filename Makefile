# The two commands of the README, and their parts. Everything they need they install themselves:
# Debian packages (.ci/apt-packages), a venv with roomctl and its test extras, and the speech model.
#
#   make demo    set up and run `roomctl demo`: the whole room simulated
#   make test    set up and run the whole test suite
#   make lint    ruff + mypy
#   make bench   run the benchmarks in bench/ and print their numbers

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.roomctl-installed
DEMO_DIR ?= var
# The suite in two processes, a test file each at a time (a file's tests share its fixtures): most tests wait on
# real components, so two cores run it in about half the time. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := $(shell sed -e 's/\#.*//' .ci/apt-packages)

.PHONY: setup sysdeps venv model deidentify demo test lint bench clean

setup: sysdeps venv model deidentify

sysdeps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || command -v $$p >/dev/null || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "roomctl needs Python 3.11 or newer" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The bytecode cache pip writes when it installs a package: an editable install run with PYTHONDONTWRITEBYTECODE
# would compile every module on every start. Up-to-date files are skipped, so this is cheap when nothing changed.
venv: $(STAMP)
	@$(BIN)/python -m compileall -q roomctl kiosk > /dev/null

model: venv
	$(BIN)/roomctl models install base --model-dir $(DEMO_DIR)/data/models --quiet

# deduce's lookup structures, built once into the venv (a no-op when built); the service never builds them.
deidentify: venv
	$(BIN)/roomctl deidentify build --quiet

demo: setup
	$(BIN)/roomctl demo --dir $(DEMO_DIR)

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: venv
	$(BIN)/ruff check roomctl kiosk tests bench
	$(BIN)/mypy

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
