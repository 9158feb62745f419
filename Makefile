# FaceAug Companion. Two commands do everything on a fresh machine:
#   make paper   build the environment if needed, run every notebook (default profile)
#   make test    build the environment if needed, pytest of lib + nbval of the smoke notebooks + the rehearsal
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

.PHONY: paper test pytest nbval rehearsal nbval-baseline lab clean venv badges help

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

test: pytest nbval rehearsal

pytest: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Checked outputs must be equal on the CPU type that recorded them (tests/nbval/CPU); elsewhere the trained
# models' metric values are left out of the comparison (lib/tools/nbval_sanitize.py says why).
nbval: $(STAMP)
	$(BIN)/python -m lib.tools.nbval_sanitize build/nbval_sanitize.cfg
	TQDM_DISABLE=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
	  --nbval-lax --nbval-kernel-name $(KERNEL) \
	  --nbval-sanitize-with build/nbval_sanitize.cfg $(NBVAL_NOTEBOOKS)

# The full profile's code paths on small trees in the real data sets' layouts (notebooks/params/rehearsal.yaml);
# after nbval, whose smoke models 05 compares. Outputs go to build/rehearsal/.
rehearsal: $(STAMP)
	$(BIN)/python -m lib.paper --profile rehearsal

# Re-execute every notebook with the smoke profile and store it as the nbval baseline.
nbval-baseline: $(STAMP)
	$(BIN)/python -m lib.paper --profile smoke --baseline tests/nbval
	$(BIN)/python -m lib.tools.nbval_sanitize --record

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
