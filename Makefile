# Aurora: `make demo` runs the whole lifecycle on the embedded default; `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export AURORA_HOME ?= $(CURDIR)/.aurora
export DAGSTER_HOME ?= $(AURORA_HOME)/dagster
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo test lint format ui mlflow-ui bench bench-features dbt-docs docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and exactly 2.13.0: pip then takes the local CPU wheel instead of a CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The dbt manifest is built here, not at every code-location load.
dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml
	mkdir -p $(AURORA_HOME)
	$(BIN)/dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet
	touch $@

install: $(VENV)/.installed dbt_project/target/manifest.json

# dbt docs (models, columns, tests, lineage) for modelers; the feature assets link to them
# (metadata `dbt_docs`). --no-compile: works before any raw data exists.
dbt_project/target/docs/index.html: dbt_project/target/manifest.json
	$(BIN)/aurora-dbt docs generate --no-compile --project-dir dbt_project --profiles-dir dbt_project --target-path target/docs --quiet

dbt-docs: dbt_project/target/docs/index.html

# The documentation site (MkDocs Material) into site/: warnings are errors (broken links and
# anchors included), the reference pages are generated from the code, then every link of the
# built site is checked. A throwaway AURORA_HOME: the generators build apps over empty stores.
docs: install
	rm -rf site
	AURORA_HOME=$$(mktemp -d) NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true \
	  $(BIN)/mkdocs build --strict --quiet
	$(BIN)/linkchecker --no-status --no-warnings site/index.html
	@echo "docs: open site/index.html"

demo: install
	$(BIN)/aurora demo

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The venv's bin on PATH: dagster-dbt's prepare_if_dev runs `dbt parse` by name.
ui: install dbt-docs
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || $(BIN)/python -c "import pathlib, sys; from aurora_pipelines.defs.runner import INSTANCE_YAML; pathlib.Path(sys.argv[1]).write_text(INSTANCE_YAML)" $(DAGSTER_HOME)/dagster.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dagster dev -w workspace.yaml

mlflow-ui: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/mlflow ui --backend-store-uri sqlite:///$(AURORA_HOME)/mlflow/mlflow.db --default-artifact-root $(AURORA_HOME)/mlflow/artifacts --host 127.0.0.1

bench: install
	$(BIN)/python benchmarks/bench_demo.py

# Feature build on the duckdb vs the spark target (ROWS=10000000 for the full size).
bench-features: install
	$(BIN)/python benchmarks/bench_features.py --rows $(or $(ROWS),1000000)

clean:
	rm -rf $(AURORA_HOME) dbt_project/target

.PHONY: governance-api
governance-api: install  ## governance HTTP API on 127.0.0.1:8765 (OpenAPI at /docs)
	$(BIN)/aurora governance serve --port $${PORT:-8765}

.PHONY: serve bench-serving
serve: install  ## scoring service on 127.0.0.1:8000 (OpenAPI at /docs)
	$(BIN)/aurora serve --port $${PORT:-8000}

bench-serving: install  ## aurora serve vs mlflow models serve, single-record requests
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/bench_serving.py

# The cluster profile on this machine (deploy/cluster/stack.py: Spark standalone master + 2
# workers, moto S3, MLflow server on PostgreSQL, dagster-daemon + webserver on PostgreSQL).
# Needs PostgreSQL (AURORA_TEST_POSTGRES_URL; `.ci/postgres.sh` starts one). KEEP=1 leaves it up.
CLUSTER_STATE ?= $(CURDIR)/.aurora-cluster
# The specs' training budget made small (CI, demo); CLUSTER_FLAGS= keeps the repo's own.
CLUSTER_FLAGS ?= --small-training
.PHONY: cluster-up cluster-down test-cluster demo-cluster
cluster-up: install
	$(BIN)/python deploy/cluster/stack.py up --state $(CLUSTER_STATE) $(CLUSTER_FLAGS)

cluster-down:
	$(BIN)/python deploy/cluster/stack.py down --state $(CLUSTER_STATE)

# The end-to-end lifecycle on the running stack (the `cluster` marker; `make test` skips it).
test-cluster: install
	AURORA_CLUSTER_STATE=$(CLUSTER_STATE) $(BIN)/pytest -m cluster tests/e2e/test_cluster_lifecycle.py -q

demo-cluster: install
	PY=$(BIN)/python CLUSTER_FLAGS="$(CLUSTER_FLAGS)" bash deploy/cluster/demo.sh $(CLUSTER_STATE)
