#!/usr/bin/env bash
# The root module's go vet and unit tests with CoreDNS VERSION selected instead of the one
# go.mod requires. VERSION's go.mod raises, through minimal version selection, whatever
# else it needs (client-go, the go directive, ...). The committed go.mod and go.sum are not
# touched: the run uses an alternate modfile, .build/unit-VERSION/go.mod (and its go.sum),
# copied from the committed ones on every run.
#
# Usage: tools/matrix/unit.sh VERSION [go test flags...]   (from anywhere)
#   VERSION   a CoreDNS release tag, e.g. v1.14.6.
#   flags     passed to go test after `-race -count=1`, e.g. -run TestName.
# Environment: NICE, a command prefix for the heavy steps (e.g. 'nice -n 10').
# Prints the CoreDNS, client-go and go directive selected, then go vet's and go test's
# output. Exits non-zero when go get, go vet or go test fails.
set -euo pipefail

if [[ $# -lt 1 || "$1" != v* ]]; then
	echo "usage: $0 VERSION [go test flags...]   (VERSION: a CoreDNS tag, e.g. v1.14.6)" >&2
	exit 2
fi
version="$1"
shift

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
dir=".build/unit-$version"
mkdir -p "$dir"
cp go.mod "$dir/go.mod"
cp go.sum "$dir/go.sum"
modfile="-modfile=$dir/go.mod"
nice=(${NICE:-})

"${nice[@]}" go get "$modfile" "github.com/coredns/coredns@$version"
echo "unit $version: $(go list "$modfile" -m -f '{{.Path}} {{.Version}}' github.com/coredns/coredns k8s.io/client-go | tr '\n' ' ')go $(go mod edit -json "$dir/go.mod" | sed -n 's/^\t"Go": "\(.*\)",$/\1/p')"
"${nice[@]}" go vet "$modfile" .
"${nice[@]}" go test "$modfile" -race -count=1 "$@" .
