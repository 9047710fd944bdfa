VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n auto --dist worksteal --durations=15

.PHONY: run test test-fast test-slow test-exports lint format bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py $(ARGS)

# The whole suite: the fast tier first (fails early), then the slow tests.
test: test-fast test-slow

# What a developer runs between edits: everything not marked slow, on every core.
test-fast: $(STAMP)
	$(PYTEST) -m 'not slow' $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PYTEST) -m slow $(PYTEST_ARGS)

# Formatting, lint, types and the import contracts (pyproject.toml holds every setting).
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# Rewrite the files the way `make lint` wants them.
format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The contract fuzz of issue 13 at length: many more designs than CI, and every export format.
fuzz: $(STAMP)
	CONTRACT_EXAMPLES=$${CONTRACT_EXAMPLES:-20000} CONTRACT_FORMATS=python,torchscript,onnx CONTRACT_EXPORT_EVERY=1 \
		$(PYTEST) -m slow tests/test_contract.py tests/test_fuzz.py $(PYTEST_ARGS)

# ONNX export with onnxruntime parity of every template, look-alikes included (CI exports one of each kind).
test-exports: $(STAMP)
	EXPORT_EVERY_TEMPLATE=1 $(PYTEST) tests/test_export.py -k onnx_export_of_templates $(PYTEST_ARGS)

bench: $(STAMP)
	for f in bench/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache .import_linter_cache
