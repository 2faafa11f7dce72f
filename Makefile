# make demo: set up .venv (if missing) and run the main job on the embedded default data.
# make test: set up .venv (if missing) and run the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench moving-digits clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so nothing later can resolve a different (CUDA) build.
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,plots,tensorboard,mnist,forecast,datasets,triton,tag]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m rnnkit demo

test: $(STAMP)
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/rnnkit bench speed --threads 1 --output-dir docs/bench
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/scan_speed.py

moving-digits: $(STAMP)
	$(PY) -m rnnkit moving-digits

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
