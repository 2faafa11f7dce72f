# make demo: set up .venv (if missing) and run the main job on the embedded default data.
# make test: set up .venv (if missing) and run the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every extra the demo, the tests and the docs need (see pyproject.toml).
EXTRAS := dev,docs,serve,tune,plots,tensorboard,mnist,forecast,datasets,triton,text,translate

.PHONY: demo test lint docs bench moving-digits clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so nothing later can resolve a different (CUDA) build.
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m rnnkit demo

test: $(STAMP)
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests benchmarks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

# The documentation site (MkDocs + Material + mkdocstrings), warnings are errors; output in site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/rnnkit bench speed --threads 1 --output-dir docs/bench
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/scan_speed.py

moving-digits: $(STAMP)
	$(PY) -m rnnkit moving-digits

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache
