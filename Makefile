# crm-workbook: `make report` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(shell git ls-files '*.ipynb' 2>/dev/null)
JOBS   ?= 2

.PHONY: all report test test-fast test-ablation lint lab clean

all: report

# Create the virtualenv and install the workbook once; again only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	@# rfc3987-syntax costs 1.5-4 s on every `import nbformat` and nothing here needs it
	-$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@# warm the matplotlib font cache so that it never writes into a cell's output
	$(BIN)/python -c "import matplotlib.pyplot"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (crm-workbook)" >/dev/null
	@touch $(STAMP)

report: $(STAMP)
	$(BIN)/crm report --client "Sample client" --currency EUR --out reports/sample

lint: $(STAMP)
	$(BIN)/ruff check .
	@# the layers and the models' independence (.importlinter), imports inside functions included
	$(BIN)/lint-imports
	$(BIN)/nbstripout --keep-count --verify $(NOTEBOOKS)

test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m "not slow and not ablation"

# The full ablation over the data contract: one report on the sample per optional table and
# column removed (tests/report/test_ablation.py; about 60 reports, 40-70 min on two cores).
test-ablation: $(STAMP)
	$(BIN)/python -m pytest tests/report/test_ablation.py -m ablation -q

# JupyterLab on notebooks/ with the settings in jupyter/ (no news, update or build prompts, no
# kernel picker); the whole repository is served, so exercises/ opens too.
lab: $(STAMP)
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" $(BIN)/jupyter lab

clean:
	rm -rf $(VENV) reports var
