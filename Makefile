# Two commands do everything: `make run` (the main job on embedded defaults) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
SUBSIDY := $(UV) run --frozen subsidy
PYTEST_ARGS ?=

.PHONY: help install run test test-faults test-faults-cluster test-redteam up down status proto proto-check docs lint bench bench-scale

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml uv.lock scripts/bootstrap.sh
	@scripts/bootstrap.sh promtool chromium kcat
	@touch $@

install: .venv/.installed ## Install Java 17, Maven, uv and the locked Python environment

up: install ## Start the local Kafka and PostgreSQL (idempotent)
	@$(SUBSIDY) dev up

down: install ## Stop them (idempotent)
	@$(SUBSIDY) dev down

status: install ## Show what runs where
	@$(SUBSIDY) dev status

run: install ## The main job: start everything, process the sample feed, report
	@scripts/with_stack.sh $(SUBSIDY) demo run

# The stack is started if it is not running and stopped again afterwards (only if this
# target started it); pytest's exit code 5 ("no tests ran") is a failure, not a pass.
test: install ## Run the test suite against the real Kafka and PostgreSQL
	@scripts/with_stack.sh $(UV) run --frozen pytest --durations=15 $(PYTEST_ARGS)

# Its own Kafka and PostgreSQL (ports 29092/29093, 55532; .run/faults/), which it restarts:
# never the shared stack. FAULTS_SEED=<n> repeats another run's faults; the report is kept in
# .run/faults/report.txt. `make test` runs the same faults during 15,000 events.
test-faults: install ## The fault-tolerance suite: kill -9 and restarts during 50,000 events
	@FAULTS_FULL=1 $(UV) run --frozen pytest tests/faults -m faults $(PYTEST_ARGS)

# The same on a three-node Kafka (replication 3, min.insync.replicas 2; ports 29192-29197,
# 55632; .run/faults-cluster/) with two of each worker: a node that leads partitions is killed,
# workers are killed so their group rebalances. Not part of `make test`: a release gate. The
# report, with how long decisions stalled at each fault, is kept in .run/faults-cluster/.
test-faults-cluster: install ## The fault suite on a Kafka cluster: node and worker kills, stalls measured
	@$(UV) run --frozen pytest tests/faults -m faults_cluster $(PYTEST_ARGS)

# The attacks of an insider (a Kafka writer, a database owner, a feed or reviewer credential)
# against the real stack; each must fail or be detected. Also part of `make test`.
test-redteam: install ## The red-team suite: forged messages, rewritten history, misused credentials
	@scripts/with_stack.sh $(UV) run --frozen pytest -m redteam $(PYTEST_ARGS)

proto: install ## Regenerate the Python code from proto/
	@$(UV) run --frozen python scripts/gen_proto.py

docs: install ## Regenerate docs/rules.md and docs/contract.md (catalog, proto/, docs/templates/)
	@$(UV) run --frozen python scripts/gen_docs.py

lint: install ## ruff, mypy and the import rules (lint-imports) on the project's own code
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy
	@$(UV) run --frozen lint-imports --no-cache

bench: install ## Benchmarks (not part of make test); results in bench/results/
	@scripts/with_stack.sh $(UV) run --frozen python -m bench

# Not part of `make bench`: seeding a ledger of 1,000,000 entitlements alone takes ~15 minutes.
# BENCH_SCALE_SEEDED=100000 for a quicker look.
bench-scale: install ## Flat growth: CPU per event on a fresh ledger and on one of 1,000,000 entitlements
	@scripts/with_stack.sh $(UV) run --frozen python -m bench scale
