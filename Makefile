# pushdeploy developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: use a 3.13 interpreter (pyenv's, else one on PATH).
PYTHON313 ?= $(or $(lastword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13.*/bin/python3.13)),$(shell command -v python3.13))
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PY313_BIN := $(dir $(PYTHON313))
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/pushdeploy

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/pushdeploy/requirements.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (pyenv install 3.13, or put python3.13 on PATH)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed ## Create the development environments

lint: $(VENV)/.installed ## ruff (lint and format) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed ## The test suite (unit, integration, end-to-end on moto's server)
	@$(PY) -m pytest -q -p no:cacheprovider -n auto $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

sam-check: $(SAM_VENV)/.installed ## sam validate --lint and sam build (no Docker)
	$(SAM) validate --lint
	PATH="$(PY313_BIN):$$PATH" $(SAM) build --cached

test: lint pytest sam-check ## Everything CI runs

demo: $(VENV)/.installed ## Run the whole flow on a local AWS (moto's server)
	$(PY) -m tools.demo

invoke: $(VENV)/.installed ## Run an event file against the local stack: make invoke EVENT=events/ecr-push.json
	$(PY) -m tools.localaws invoke $(EVENT)

validate-config: $(VENV)/.installed ## Check a target config file: make validate-config FILE=config.json [TAGS="v1.4.2 v1.3.9"]
	$(PY) -m tools.config validate $(FILE) $(foreach tag,$(TAGS),--tag $(tag))

put-config: $(VENV)/.installed ## Store a target config in a local AWS: make put-config FILE=f.json REPOSITORY=api TARGET=staging ENDPOINT=http://127.0.0.1:PORT
	$(PY) -m tools.config put $(FILE) --repository $(REPOSITORY) --target $(TARGET) --endpoint-url $(ENDPOINT)

build: $(SAM_VENV)/.installed ## sam build, then trim the layer's botocore models and compile the bytecode (tools/package_layer.py)
	PATH="$(PY313_BIN):$$PATH" $(SAM) build
	$(PYTHON313) tools/package_layer.py .aws-sam/build

deploy: build ## sam deploy --guided (to a real AWS account: your credentials, your choice)
	$(SAM) deploy --guided

e2e-aws: $(VENV)/.installed $(SAM_VENV)/.installed ## Opt-in check on YOUR AWS account (costs money): PUSHDEPLOY_AWS_E2E=1 make e2e-aws IMAGE=<ECR image URI>
	@test "$$PUSHDEPLOY_AWS_E2E" = 1 || { echo "refused: e2e-aws deploys to a real AWS account; set PUSHDEPLOY_AWS_E2E=1 (see README)"; exit 2; }
	@test -n "$(IMAGE)" || { echo "IMAGE=<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> is required"; exit 2; }
	PATH="$(PY313_BIN):$$PATH" $(PY) -m tools.aws_e2e --image $(IMAGE)

bench: $(VENV)/.installed ## The benchmark (not part of the tests)
	$(PY) -m bench.run

clean: ## Remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install lint pytest sam-check test demo invoke validate-config put-config build deploy e2e-aws bench clean
