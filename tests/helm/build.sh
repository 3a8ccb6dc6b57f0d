#!/usr/bin/env bash
# Builds helm from Go modules into a cache shared by every clone and run, and prints the
# folder that holds it (mirrors tests/kube/build.sh). A second call with the same version
# and go.sum only prints the folder.
#
#   tests/helm/build.sh        # the release go.mod pins (helm.sh/helm/v4 v4.3.2)
#
# A module of its own: Helm 4.3 pulls k8s.io/* v0.37, while tests/kube pins the
# Kubernetes release under test (v0.34 replacements), so the two cannot share a go.mod.
#
# Cache: ${MCPSYNC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mcpsync}/helm/<version>-<go.sum hash>/helm
# Needs Go >= 1.24 (the go.mod `tool` directive); Helm 4.3 itself needs Go 1.26, which an
# older go command downloads by itself (GOTOOLCHAIN=auto, the default) through the module
# proxy. 2 to 5 minutes from cold on 2 cores (270 s measured with other builds running),
# seconds with Go's build cache warm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need_go() {
    echo "tests/helm: Go >= 1.24 is needed to build helm for the chart tests ($1)." >&2
    echo "tests/helm: install it from https://go.dev/dl/ or your package manager (e.g. 'apt-get install golang-1.24'), then run 'make test' again." >&2
    exit 3
}
command -v go >/dev/null 2>&1 || need_go "no go command"
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ -n "$go_minor" ] && [ "$go_minor" -ge 24 ] || need_go "found $(go env GOVERSION)"
if [ "$go_minor" -lt 26 ] && [ "$(go env GOTOOLCHAIN)" = local ]; then
    need_go "and Helm 4.3 needs Go 1.26: unset GOTOOLCHAIN=local so that go fetches it, or install Go 1.26"
fi

version=$(cd "$here" && go list -m -f '{{.Version}}' helm.sh/helm/v4)
cache=${MCPSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpsync}/helm
mkdir -p "$cache"
# The key covers what goes into the binary: the module graph.
sum=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)
out=$cache/$version-$sum

exec 9>"$cache/.lock"
flock 9   # one build at a time; a concurrent caller waits and then reuses it
if [ -x "$out/helm" ]; then
    echo "$out"
    exit 0
fi

pkg=helm.sh/helm/v4/internal/version
ldflags="-X $pkg.version=$version -X $pkg.gitTreeState=clean"
echo "tests/helm: building helm $version into $out (minutes on a cold Go cache)" >&2
start=$(date +%s)
tmp=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" helm.sh/helm/v4/cmd/helm)
rm -rf "$out"
mv "$tmp" "$out"
echo "tests/helm: built in $(( $(date +%s) - start )) s" >&2
echo "$out"
