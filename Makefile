# The commands the README names. `make help` lists them.
CARGO ?= cargo
# cargo-nextest when installed, else plain cargo test (CI does not install nextest).
# Doctests run on their own first (nextest does not run them), so the runner's summary of
# every other test is the last line printed; `--lib --bins --tests` leaves the benches out.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run --no-tests=warn" || echo "test --lib --bins --tests")

.PHONY: help build test fmt fmt-check clippy unit doctest crds crds-check demo bench e2e

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## compile the mcpsync binary (debug)
	$(CARGO) build

test: fmt-check clippy doctest unit ## everything CI runs: fmt check, clippy -D warnings, all tests

fmt: ## format the code
	$(CARGO) fmt

fmt-check:
	$(CARGO) fmt --check

clippy: ## lint, warnings are errors
	$(CARGO) clippy --all-targets -- -D warnings

unit: ## all unit and integration tests (nextest when available)
	$(CARGO) $(TEST_RUNNER)

doctest:
	$(CARGO) test --doc

crds: ## regenerate crds/ from the Rust types
	$(CARGO) run --quiet -- crds > crds/mcpsync.dev_crds.yaml

crds-check: ## fail when crds/ is stale
	$(CARGO) run --quiet -- crds | diff -u crds/mcpsync.dev_crds.yaml -

demo: ## simulator + engine on examples/: apply, show what was sent, apply again (nothing sent)
	$(CARGO) run --quiet -- demo

bench: ## benchmarks
	$(CARGO) bench

e2e: ## against a real cluster (kind/k3d, current kubeconfig); see docs/e2e.md
	bash tests/e2e/run.sh
