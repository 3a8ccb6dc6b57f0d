#!/usr/bin/env bash
# Tests the Argo CD (deploy/argocd) and Flux (deploy/flux) health checks with the real
# evaluators: gopher-lua as Argo CD runs it, and Flux's runtime/cel status reader.
# Usage: bash tests/gitops/run.sh [go test flags...]   (from anywhere)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v go >/dev/null 2>&1; then
  echo "tests/gitops: Go is not installed (needs Go >= 1.26, https://go.dev/dl/); the GitOps health checks were NOT tested." >&2
  exit 1
fi

# go.mod and go.sum are committed: the module versions are fixed (go.mod needs Go 1.26,
# which an older go command fetches itself unless GOTOOLCHAIN=local).
echo "tests/gitops: Argo CD and Flux health checks ($(go version))"
if go test -count=1 "$@" ./...; then
  echo "tests/gitops: health checks OK"
else
  echo "tests/gitops: health checks FAILED" >&2
  exit 1
fi
