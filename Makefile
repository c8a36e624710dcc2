# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck clean schema-check docs docs-serve

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]" --config-settings editable_mode=compat
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/carbon-planet migrate
	$(BIN)/carbon-planet seed-demo
	$(BIN)/carbon-planet serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Code checks (docs/contributors/checks.md): ruff's rules from pyproject's [tool.ruff], then
# the import contracts in .importlinter.
LINT_PATHS := app game methodology schema transparency tests bench
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/lint-imports

# Types (docs/contributors/checks.md): mypy with pyproject's [tool.mypy].
typecheck: $(STAMP)
	$(BIN)/mypy

# No schema change ever broke clients unannounced: every committed version of
# schema.graphql against the one before it, then the live schema against the last
# (undeclared breaking changes, or removals that were never @deprecated, fail).
schema-check: $(STAMP)
	$(BIN)/carbon-planet schema check --history

# The documentation site (mkdocs.yml, pages under docs/): built into var/site/, every
# warning an error; docs-serve rebuilds on each change (DOCS_ADDR to move it).
DOCS_ADDR ?= 127.0.0.1:8001
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr $(DOCS_ADDR)

clean:
	rm -rf $(VENV) var
