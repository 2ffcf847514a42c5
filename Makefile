# provenance: `make demo` and `make test` each create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/run_demo.py

lint: $(STAMP)
	$(BIN)/ruff check provenance cli migrations tests bench demo docs
	$(BIN)/ruff format --check provenance cli migrations tests bench demo docs

# mypy --strict over the package as it installs: the library, and cli/ and migrations/ under
# the names they install as (provenance.cli, provenance.migrations), linked into build/typecheck
# (mypy cannot follow the package-dir mapping of pyproject.toml).
TYPECHECK := build/typecheck/provenance
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p $(TYPECHECK)
	for part in provenance/*; do ln -s "$(CURDIR)/$$part" $(TYPECHECK)/; done
	ln -s "$(CURDIR)/cli" $(TYPECHECK)/cli
	ln -s "$(CURDIR)/migrations" $(TYPECHECK)/migrations
	cd build/typecheck && "$(CURDIR)/$(BIN)/mypy" --config-file "$(CURDIR)/pyproject.toml" \
		--cache-dir "$(CURDIR)/.mypy_cache" -p provenance

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
