# Two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,postgres,spark]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/carethread demo --out carethread-demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) carethread-demo .pytest_cache .hypothesis

# The long tier of the fuzz harness (tests/test_fuzz_*.py): thousands of generated inputs of every
# format, and the CLI on them; `make test` runs a few hundred. Results: docs/reliability.md.
.PHONY: fuzz
fuzz: $(STAMP)
	CARETHREAD_FUZZ_CASES=2000 $(BIN)/python -m pytest tests/test_fuzz_readers.py tests/test_fuzz_cli.py -q
