# FaceAug Companion. Two commands do everything on a fresh machine:
#   make paper   build the environment if needed, run every notebook (default profile)
#   make test    build the environment if needed, pytest of lib + nbval of the smoke notebooks
# The environment step is implicit and idempotent: it reruns only when a requirements
# file or pyproject.toml changed (a stamp file records the last successful install).

PYTHON   ?= python3.11
VENV     ?= .venv
BIN      := $(VENV)/bin
PROFILE  ?= default
PAPER_ARGS ?=
STAMP    := $(VENV)/.faceaug-installed
KERNEL   := faceaug
NBVAL_NOTEBOOKS := $(sort $(wildcard tests/nbval/*.ipynb))

.PHONY: paper test pytest nbval nbval-baseline lab clean venv badges help

help:
	@echo "make paper | make test | make lab | make clean | make nbval-baseline | make badges"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m lib.tools.kernel
	$(BIN)/python -m lib.setup_check
	touch $(STAMP)

paper: $(STAMP)
	$(BIN)/python -m lib.paper --profile $(PROFILE) $(PAPER_ARGS)

test: pytest nbval

pytest: $(STAMP)
	$(BIN)/python -m pytest -q tests

nbval: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
	  --nbval-lax --nbval-kernel-name $(KERNEL) \
	  --nbval-sanitize-with tests/nbval/sanitize.cfg $(NBVAL_NOTEBOOKS)

# Re-execute every notebook with the smoke profile and store it as the nbval baseline.
nbval-baseline: $(STAMP)
	$(BIN)/python -m lib.paper --profile smoke --baseline tests/nbval

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Regenerate the generated parts: Colab cells + README badges, binder/requirements.txt.
badges: $(STAMP)
	$(BIN)/python -m lib.tools.notebook_cells
	$(BIN)/python -m lib.tools.binder_env

# Build outputs only: never data/ (user-supplied or generated FaceSets) or figures/.
clean:
	rm -rf build runs .pytest_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
