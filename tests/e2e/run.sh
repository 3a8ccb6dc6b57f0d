#!/usr/bin/env bash
# End-to-end check of the CRDs and the admission policy against a real API server.
#
# Needs: kubectl, and a cluster reachable with the current kubeconfig context (kind, k3d,
# or any Kubernetes >= 1.30; the oldest supported is 1.33). It changes that cluster:
# it installs crds/ (server-side apply) and creates, then deletes, the namespace
# mcpsync-e2e. Nothing else is created: examples are sent with `--dry-run=server`.
#
#   kind create cluster --name mcpsync   # or: k3d cluster create mcpsync
#   make e2e                             # = bash tests/e2e/run.sh
#
# What it checks:
#   1. crds/ equals `mcpsync crds` (when cargo is there) and installs; the CRDs become
#      Established.
#   2. `kubectl explain mcpserver.spec` documents every field.
#   3. Every manifest in tests/e2e/manifests/valid/ is accepted (server-side dry run).
#   4. Every manifest in tests/e2e/manifests/invalid/ is refused, with the error named on
#      its `# expect:` line (CEL rules, OpenAPI constraints and the admission policy).
#   5. externalId cannot be changed once set (transition rule, needs a stored object).
#
# Environment: KUBECTL (default kubectl), KEEP=1 keeps the namespace for inspection.
# Exit: 0 all passed, 1 a check failed, 2 no kubectl or no reachable cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."

KUBECTL=${KUBECTL:-kubectl}
NS=mcpsync-e2e
MANIFESTS=tests/e2e/manifests
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    echo "e2e: '$KUBECTL' not found; install kubectl (or set KUBECTL) and start a cluster." >&2
    exit 2
fi
if ! "$KUBECTL" version --request-timeout=5s >/dev/null 2>&1; then
    context=$("$KUBECTL" config current-context 2>/dev/null || echo "<none>")
    echo "e2e: no Kubernetes API server reachable (kubeconfig context: $context)." >&2
    echo "e2e: start one, e.g. 'kind create cluster --name mcpsync' or 'k3d cluster create mcpsync'," >&2
    echo "e2e: then run 'make e2e' again. See docs/e2e.md." >&2
    exit 2
fi

# 1. Install.
if command -v cargo >/dev/null 2>&1; then
    if cargo run --quiet -- crds | diff -q - crds/mcpsync.dev_crds.yaml >/dev/null; then
        pass "crds/ equals 'mcpsync crds'"
    else
        fail "crds/ is stale: run 'make crds'"
    fi
fi
"$KUBECTL" apply --server-side --force-conflicts -f crds/
"$KUBECTL" wait --for=condition=Established --timeout=60s \
    crd/mcpservers.mcpsync.dev crd/mcpregistries.mcpsync.dev crd/clustermcpregistries.mcpsync.dev
"$KUBECTL" create namespace "$NS" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then
        "$KUBECTL" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# 2. kubectl explain.
explain=$("$KUBECTL" explain mcpserver.spec)
for field in registryRef externalId displayName url description documentationUrl transport \
    enabled approvalPolicy headers credentials tools toolkits authConfigIds managedAuth \
    secretTokenId managementPolicy deletionPolicy syncInterval suspend; do
    if grep -qE "^[[:space:]]+$field[[:space:]]" <<<"$explain"; then pass "explain mcpserver.spec.$field"; else fail "explain lacks $field"; fi
done
if "$KUBECTL" explain mcpserver.spec --recursive >/dev/null; then pass "explain --recursive"; fi

# 3. and 4. Examples. The admission policy may take a few seconds to be in force after it
# is created, so a refusal that is expected from it is retried for up to 30 s.
dry_run() { "$KUBECTL" apply --dry-run=server -f "$1" 2>&1; }

for file in "$MANIFESTS"/valid/*.yaml; do
    if out=$(dry_run "$file"); then pass "accepted $(basename "$file")"; else fail "refused $file: $out"; fi
done

for file in "$MANIFESTS"/invalid/*.yaml; do
    expect=$(sed -n 's/^# expect: //p' "$file" | head -n1)
    for attempt in 1 2 3 4 5 6; do
        if out=$(dry_run "$file"); then
            result="accepted"
        elif grep -qF -- "$expect" <<<"$out"; then
            result="refused as expected"
            break
        else
            result="refused for another reason: $out"
            break
        fi
        sleep 5
    done
    if [ "$result" = "refused as expected" ]; then
        pass "refused $(basename "$file"): $expect"
    else
        fail "$file: $result (expected an error containing: $expect)"
    fi
done

# 5. externalId is immutable once set: store one object, then try to change the id.
"$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: transition, namespace: $NS}
spec: {registryRef: {name: pais}, externalId: first}
YAML
for change in "externalId: second" ""; do
    body="spec: {registryRef: {name: pais}${change:+, $change}}"
    if out=$("$KUBECTL" apply --dry-run=server -f - 2>&1 <<YAML
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: transition, namespace: $NS}
$body
YAML
    ); then
        fail "externalId change accepted (${change:-removed})"
    elif grep -qF "externalId cannot be changed" <<<"$out"; then
        pass "externalId ${change:+change to ${change#externalId: }}${change:-removal} refused"
    else
        fail "externalId change refused for another reason: $out"
    fi
done

if [ "$failures" -gt 0 ]; then
    echo "e2e: $failures check(s) failed" >&2
    exit 1
fi
echo "e2e: all checks passed"
