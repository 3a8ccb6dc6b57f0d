# The commands the README names. `make help` lists them.
CARGO ?= cargo
# cargo-nextest when installed, else plain cargo test (CI does not install nextest).
# Doctests run on their own first (nextest does not run them), so the runner's summary of
# every other test is the last line printed; naming the test targets leaves the benches out.
TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run --no-tests=warn" || echo "test")
# tests/kube_*.rs need a real API server (tests/kube/); the others need nothing.
KUBE_TESTS := $(sort $(basename $(notdir $(wildcard tests/kube_*.rs))))
OFFLINE_TESTS := $(filter-out $(KUBE_TESTS),$(sort $(basename $(notdir $(wildcard tests/*.rs)))))
# KUBE_VERSION=v1.37.2 builds and tests another Kubernetes release (default: tests/kube/go.mod's).
export KUBE_VERSION
# Builds (or reuses from ~/.cache/mcpsync) kube-apiserver, etcd, kubectl and kubetest; prints their folder.
KUBE_BIN = $$(bash tests/kube/build.sh)

.PHONY: help build test fmt fmt-check clippy unit doctest gitops kube kube-bin crds crds-check demo bench e2e drill

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## compile the mcpsync binary (debug)
	$(CARGO) build

test: fmt-check clippy doctest unit gitops kube ## everything CI runs: fmt check, clippy -D warnings, all tests, real-API-server tests

fmt: ## format the code
	$(CARGO) fmt

fmt-check:
	$(CARGO) fmt --check

clippy: ## lint, warnings are errors
	$(CARGO) clippy --all-targets -- -D warnings

unit: ## unit and integration tests that need no API server (nextest when available)
	$(CARGO) $(TEST_RUNNER) --lib --bins $(addprefix --test ,$(OFFLINE_TESTS))

gitops: ## the Argo CD (gopher-lua) and Flux (runtime/cel) health checks of deploy/
	bash tests/gitops/run.sh

kube-bin: ## build the test API server (Go >= 1.24; ~5 min cold, cached in ~/.cache/mcpsync)
	@bash tests/kube/build.sh >/dev/null

kube: kube-bin ## the tests on a real kube-apiserver + etcd, started on loopback and stopped after
	@bin=$(KUBE_BIN) && "$$bin/kubetest" run -- $(CARGO) test $(addprefix --test ,$(KUBE_TESTS))

doctest:
	$(CARGO) test --doc

crds: ## regenerate crds/ (and the Helm chart's copy) from the Rust types
	$(CARGO) run --quiet -- crds > crds/mcpsync.dev_crds.yaml
	@# The chart: the CRDs in its crds/ (helm lint allows nothing else there), the admission
	@# policy and its binding in files/, rendered by templates/admission-policy.yaml.
	awk -v crds=charts/mcpsync/crds/mcpsync.dev_crds.yaml -v rest=charts/mcpsync/files/admission-policy.yaml \
	  'function flush() { if (doc != "") printf "%s", doc > (doc ~ /\nkind: CustomResourceDefinition\n/ ? crds : rest); doc = "" } \
	   /^---$$/ { flush() } { doc = doc $$0 "\n" } END { flush() }' crds/mcpsync.dev_crds.yaml

crds-check: ## fail when crds/ is stale
	$(CARGO) run --quiet -- crds | diff -u crds/mcpsync.dev_crds.yaml -

demo: ## simulator + engine on examples/: apply, show what was sent, apply again (nothing sent)
	$(CARGO) run --quiet -- demo

bench: kube-bin ## benchmarks: simulator throughput, drift check, and the scale benchmark on a fresh API server (target/bench/)
	$(CARGO) bench --bench sim_throughput --bench drift_check
	@bin=$(KUBE_BIN) && "$$bin/kubetest" run -- $(CARGO) bench --bench scale

e2e: ## only the real-API-server tests; MCPSYNC_E2E_EXISTING_CLUSTER=1 runs them on the KUBECONFIG cluster (docs/e2e.md)
ifeq ($(MCPSYNC_E2E_EXISTING_CLUSTER),1)
	$(CARGO) $(TEST_RUNNER) $(addprefix --test ,$(KUBE_TESTS))
else
	@$(MAKE) --no-print-directory kube
endif

drill: ## add a throwaway sixth registry in a scratch worktree, run the tables, list the files touched
	bash tests/drill/sixth-registry.sh
