# make demo: set up .venv (if missing) and run the main job on the embedded default data.
# make test: set up .venv (if missing) and run the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every extra the demo, the tests and the docs need (see pyproject.toml).
EXTRAS := dev,docs,serve,tune,plots,tensorboard,mnist,forecast,datasets,triton,text,translate,competitions,lm,tag,speech,export

.PHONY: demo test lint docs bench moving-digits clean system-deps

# Debian packages the applications read built-in data from: the Bible texts (translate, lm),
# speech synthesis and real recordings (transcribe). Installed when run as root on Debian;
# elsewhere the exact command is printed and those apps say it again when their data is missing.
DEBIAN_PACKAGES := sword-text-web sword-text-sparv espeak-ng sox pocketsphinx-testdata

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so nothing later can resolve a different (CUDA) build.
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "rnnkit: some apps need Debian packages: sudo apt-get install$$missing"; fi

demo: $(STAMP) system-deps
	$(PY) -m rnnkit demo

test: $(STAMP) system-deps
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
