# The study's two commands: `make reproduce` (install, then the whole DVC pipeline) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
PROFILE ?= default
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1

.PHONY: install reproduce test lint unit notebooks bench strip clean-smoke

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (backsurface)" >/dev/null
	touch $(STAMP)

reproduce: install
ifneq ($(PROFILE),default)
	$(BIN)/python -m backsurface.core.params apply profiles/$(PROFILE).yaml params.yaml
endif
	$(BIN)/python -m backsurface.core.params check params.yaml
	@# through a pipe: papermill streams each notebook to /dev/stdout, which would truncate a redirected log file
	set -o pipefail; $(BIN)/dvc repro 2>&1 | cat
	@echo "Done. Reports: reports/notebooks (executed notebooks), reports/figures, reports/tables, reports/metrics (headlines), reports/summaries;"
	@echo "      'dvc metrics show' and 'dvc plots show' summarise them."

test: install lint unit notebooks

lint:
	$(BIN)/ruff check lib tests benchmarks tools
	$(BIN)/python -m backsurface.core.params check params.yaml
	$(BIN)/python -m backsurface.core.params check params.yaml profiles/smoke.yaml

unit:
	$(BIN)/pytest -q

# the notebooks end to end on the smoke profile of their parameters cells, in pipeline order
notebooks: clean-smoke
	$(BIN)/pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env notebooks/

clean-smoke:
	rm -rf build/smoke

bench: install
	$(BIN)/python benchmarks/bench_acquire.py
	$(BIN)/python benchmarks/bench_labels.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_export.py

# notebooks are sources: commit them without outputs
strip:
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb
