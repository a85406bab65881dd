# Two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Versions known to work, for the packages and for the build (see the file's header on refreshing
# it). `make CONSTRAINTS= test` installs the newest versions pyproject.toml allows instead.
CONSTRAINTS ?= constraints.txt
PIN    := $(if $(CONSTRAINTS),-c $(CONSTRAINTS) --build-constraint $(CONSTRAINTS))
# Everything the tests, the linter and the benchmarks need; the demo needs none of it.
EXTRAS := test,lint,bench,postgres,spark
# A stamp names what the venv holds and the pyproject.toml and constraints it was installed
# from: an edit to either makes a new name, so the next make installs again. The full install
# also stamps the demo's (it holds everything the demo needs); either install drops stale stamps.
HASH       := $(shell cat pyproject.toml $(CONSTRAINTS) | cksum | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(HASH)
DEV_STAMP  := $(VENV)/.installed-dev-$(HASH)
# Workers for test-fast (pytest-xdist): one per core. worksteal hands an idle worker tests from
# a busy one, which kept both cores busy best here (loadfile and load left one idle at the end).
JOBS ?= auto
FAST := -m "not (slow or spark or postgres or browser)" -n $(JOBS) --dist worksteal

.PHONY: demo test test-fast fuzz lint bench install install-dev constraints clean

define venv_with_pip
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) --upgrade pip
endef

# The package alone: no test, Spark or PostgreSQL extras.
$(DEMO_STAMP):
	$(venv_with_pip)
	$(BIN)/python -m pip install --quiet $(PIN) -e .
	rm -f $(VENV)/.installed-* && touch $@

$(DEV_STAMP):
	$(venv_with_pip)
	$(BIN)/python -m pip install --quiet $(PIN) -e ".[$(EXTRAS)]"
	rm -f $(VENV)/.installed-* && touch $@ $(DEMO_STAMP)

install: $(DEMO_STAMP)

install-dev: $(DEV_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/carethread demo --out carethread-demo

# Every test: the whole suite, as CI runs it.
test: $(DEV_STAMP)
	$(BIN)/python -m pytest

# The tests that need no JVM, PostgreSQL, browser or 20 000-patient system, in parallel.
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest $(FAST)

# The long tier of the fuzz harness (tests/test_fuzz_*.py): thousands of generated inputs of every
# format, and the CLI on them; `make test` runs a few hundred. Results: docs/reliability.md.
fuzz: $(DEV_STAMP)
	CARETHREAD_FUZZ_CASES=2000 $(BIN)/python -m pytest tests/test_fuzz_readers.py tests/test_fuzz_cli.py -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

# Rewrite constraints.txt (keeping its header) with the newest versions pyproject.toml allows,
# pip and the build backend included, from a scratch venv; then `make test` before committing it.
constraints:
	rm -rf $(VENV)-constraints
	$(PYTHON) -m venv $(VENV)-constraints
	$(VENV)-constraints/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-constraints/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(VENV)-constraints/bin/python -c 'import subprocess, sys, tomllib; \
	  build = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]; \
	  subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", *build], check=True)'
	sed '/^[^#]/,$$d' constraints.txt > constraints.txt.new
	$(VENV)-constraints/bin/python -m pip freeze --all --exclude-editable >> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(VENV)-constraints

clean:
	rm -rf $(VENV) carethread-demo .pytest_cache .hypothesis
