#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kubectl and kubetest (their start/stop helper) from Go modules into a cache shared by every
# clone and run, and prints the folder that holds them. A second call with the same
# version and go.sum only prints the folder.
#
#   tests/kube/build.sh                       # the release go.mod pins (v1.34.4)
#   KUBE_VERSION=v1.37.2 tests/kube/build.sh  # another release, for local runs
#
# Cache: ${MCPSYNC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mcpsync}/kube/<version>-<go.sum hash>/
# Needs Go >= 1.24 (the go.mod `tool` directive). About 4.5 minutes from cold on 2 cores,
# seconds with Go's build cache warm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need_go() {
    echo "tests/kube: Go >= 1.24 is needed to build the test API server (kube-apiserver, etcd, kubectl)." >&2
    echo "tests/kube: install it from https://go.dev/dl/ or your package manager (e.g. 'apt-get install golang-1.24'), then run 'make test' again." >&2
    exit 3
}
command -v go >/dev/null 2>&1 || need_go
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ -n "$go_minor" ] && [ "$go_minor" -ge 24 ] || need_go

pinned=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
version=${KUBE_VERSION:-$pinned}
cache=${MCPSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpsync}/kube
mkdir -p "$cache"

src=$here
if [ "$version" != "$pinned" ]; then
    # Another release: a copy of this module re-pinned by genmod.go, kept in the cache.
    src=$cache/src-$version
    if [ ! -f "$src/.pinned" ]; then
        rm -rf "$src" && mkdir -p "$src"
        cp -r "$here/go.mod" "$here/go.sum" "$here/genmod.go" "$here/etcd" "$here/kubetest" "$src/"
        (cd "$src" && go run genmod.go "$version" >&2)
        touch "$src/.pinned"
    fi
fi
# The key covers what goes into the binaries: the module graph and this folder's programs.
sum=$(cat "$src/go.mod" "$src/go.sum" "$here/etcd/main.go" "$here/kubetest/main.go" | sha256sum | cut -c1-12)
out=$cache/$version-$sum

exec 9>"$cache/.lock"
flock 9   # one build at a time; a concurrent caller waits and then reuses it
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ] && [ -x "$out/kubetest" ]; then
    echo "$out"
    exit 0
fi

minor=${version#v1.}; minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
echo "tests/kube: building kube-apiserver, etcd and kubectl $version into $out (minutes on a cold Go cache)" >&2
start=$(date +%s)
tmp=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./etcd ./kubetest)
rm -rf "$out"
mv "$tmp" "$out"
echo "tests/kube: built in $(( $(date +%s) - start )) s" >&2
echo "$out"
