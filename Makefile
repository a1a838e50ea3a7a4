# retain: `make demo` runs the whole product on synthetic data; `make test` runs every check.
# Both create the environment (.venv, pinned by uv.lock) on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PORT ?= 3000
CUSTOMERS ?= 5000
WORKERS ?= 2
# pytest on WORKERS processes; each module's tests on one worker (its module fixtures built once)
PYTEST := $(BIN)/pytest -n $(WORKERS) --dist loadscope
export BENTOML_DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-fast lint typecheck pytest pytest-fast fuzz soak bench results results-models results-dask-sample results-leaks results-basket results-monitor bench-features bench-serving bench-scoring bench-labelled bench-scale docs clean

help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet uv==$(UV_VERSION); }
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --extra dev --compile-bytecode --quiet
	@touch $@

venv: $(VENV)/.synced ## Create or update the environment from uv.lock

demo: venv ## Demo data -> past campaigns' results -> train (churn, CLV, uplift) -> package -> score (monthly) -> monitor -> campaign -> report -> serve on 127.0.0.1:$(PORT)
	$(BIN)/retain demo-data --customers $(CUSTOMERS)
	$(BIN)/retain campaign-results winter_winback --config experiments/demo.yaml
	$(BIN)/retain campaign-results spring_loyalty --config experiments/demo.yaml
	$(BIN)/retain train --config experiments/demo.yaml
	$(BIN)/retain package --config experiments/demo.yaml
	$(BIN)/retain score --config experiments/demo.yaml --as-of 2024-07-31
	$(BIN)/retain score --config experiments/demo.yaml --as-of 2024-08-31
	$(BIN)/retain score --config experiments/demo.yaml --as-of 2024-09-30
	$(BIN)/retain score --config experiments/demo.yaml --as-of latest
	$(BIN)/retain monitor --config experiments/demo.yaml
	$(BIN)/retain campaign --budget 2000 --config experiments/demo.yaml
	$(BIN)/retain campaigns
	$(BIN)/retain report --config experiments/demo.yaml
	@echo
	@echo "Service starting on http://127.0.0.1:$(PORT) (Swagger UI at /). In another terminal:"
	@echo "  curl -s -X POST http://127.0.0.1:$(PORT)/score_ids -H 'Content-Type: application/json' -d '{\"customer_ids\": [\"R000001\", \"R000002\"]}'"
	@echo
	$(BIN)/retain serve --port $(PORT)

test: venv lint typecheck pytest ## ruff, mypy and every test (what CI runs)

test-fast: venv lint typecheck pytest-fast ## ruff, mypy and the unit tests (no servers, no full trainings)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(PYTEST) --durations=15

pytest-fast: venv
	$(PYTEST) -m "not slow"

fuzz: venv ## Schemathesis, every check, >= 5,000 requests against a real service on 127.0.0.1: 0 failures
	$(BIN)/python experiments/fuzz_service.py

soak: venv ## 60 s of good and bad requests on 127.0.0.1: errors, /readyz under load, RSS growth
	$(BIN)/python experiments/soak_service.py --seconds 60

bench: bench-features bench-serving bench-scoring bench-labelled ## All benchmarks (results under experiments/results)

results: bench results-models results-dask-sample results-leaks results-basket results-monitor ## Regenerate every table the README quotes

results-models: venv ## Model tables: demo data, CDNOW (../shared/data/cdnow), demo CRM exports, uplift, calibration
	$(BIN)/python experiments/eval_models.py
	$(BIN)/python experiments/eval_uplift.py

results-leaks: venv ## The leak check on every honest data set and two planted leaks: none may trip, both must
	$(BIN)/python experiments/leak_check.py

results-basket: venv ## Product features on a log with planted product-level churn drivers vs BG/NBD (~3 min)
	$(BIN)/python experiments/eval_basket.py

results-monitor: venv ## The monitor on the demo twins: a planted price rise caught, false alarms on its quiet twin
	$(BIN)/python experiments/monitor_twins.py

results-dask-sample: venv ## Dask training on a customer sample: test ROC-AUC whole vs 50% vs 10% (20k demo customers)
	$(BIN)/python experiments/eval_dask_sample.py

.venv-bench/.synced: experiments/bench-requirements.txt | venv
	$(BIN)/uv venv --quiet --python $(PYTHON) .venv-bench
	VIRTUAL_ENV=.venv-bench $(BIN)/uv pip install --quiet -r experiments/bench-requirements.txt
	@touch $@

bench-features: venv .venv-bench/.synced ## Feature and BTYD-summary speed vs lifetimes
	$(BIN)/python experiments/bench_features.py

bench-serving: venv ## HTTP latency and throughput vs mlflow models serve (needs wrk)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python experiments/bench_serving.py

bench-scoring: venv ## Batch scoring of 1M customers
	$(BIN)/python experiments/bench_scoring.py

bench-labelled: venv ## Training on a labelled CRM export of 100k rows x 40 attributes
	$(BIN)/python experiments/bench_labelled.py

SCALE_SIZES ?= 10M,30M,100M

bench-scale: venv ## Features on 10M-100M transactions: Dask (2 workers) vs pandas (SCALE_SIZES=1M,10M)
	$(BIN)/python experiments/bench_scale.py --sizes $(SCALE_SIZES)

docs: venv ## Regenerate docs/FEATURES.md (the catalogue) and docs/CONFIGURATION.md (the config keys)
	$(BIN)/retain features --list --markdown > docs/FEATURES.md
	$(BIN)/retain config-reference > docs/CONFIGURATION.md

clean: ## Remove the environment, demo data and local state
	rm -rf $(VENV) .venv-bench .retain data .mypy_cache .ruff_cache .pytest_cache
