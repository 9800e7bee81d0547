#!/usr/bin/env bash
# make matrix: the plugin against every CoreDNS version given (make matrix runs it with
# MATRIX_VERSIONS, by default every version of tools/tree/versions.txt). For each, in turn:
#   build: make coredns COREDNS_VERSION=V, CoreDNS's own tree at tag V with kubeapi and
#          k8s_event through plugin.cfg, failing when that raised any of the tree's
#          requirements (tools/tree), into .build/matrix/V/coredns;
#   unit:  the root module's unit tests with CoreDNS V in go.mod (tools/matrix/unit.sh V);
#   e2e:   the e2e suite against that binary on the real kube-apiserver and etcd (.bin/,
#          make controlplane), as make e2e runs it.
# Each step's output goes to the terminal and to .build/matrix/V/STEP.log. A table of the
# steps' times and results ends the run; the exit status is 1 when any step failed. A
# version whose build failed has no e2e run.
#
# Usage: tools/matrix/matrix.sh VERSION...   (NICE, e.g. 'nice -n 10', prefixes the steps)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/.build/matrix"
nice_cmd=(${NICE:-})
[[ $# -gt 0 ]] || { echo "usage: tools/matrix/matrix.sh VERSION..." >&2; exit 2; }

# step VERSION NAME COMMAND...: runs the command, its output also in NAME.log, and records
# its time and result in the table.
rows=()
failed=0
step() {
	local v="$1" name="$2" start=$SECONDS status
	shift 2
	echo "=== $v $name: $*"
	"$@" 2>&1 | tee "$out/$v/$name.log"
	status=${PIPESTATUS[0]}
	local took=$((SECONDS - start))
	if [[ $status -eq 0 ]]; then
		result="${took} s ok"
	else
		result="${took} s FAIL"
		failed=1
	fi
	echo "=== $v $name: $result"
	return "$status"
}

for v in "$@"; do
	mkdir -p "$out/$v"
	build="not run" unit="not run" e2e="not run"
	step "$v" build "${nice_cmd[@]}" make -C "$root" --no-print-directory coredns COREDNS_VERSION="$v" COREDNS="$out/$v/coredns"
	build_ok=$?
	build="$result"
	step "$v" unit "${nice_cmd[@]}" "$root/tools/matrix/unit.sh" "$v"
	unit="$result"
	if [[ $build_ok -eq 0 ]]; then
		step "$v" e2e env -C "$root/e2e" K8S_EVENT_BIN_DIR="$root/.bin" K8S_EVENT_COREDNS="$out/$v/coredns" \
			K8S_EVENT_ROOT="$root" "${nice_cmd[@]}" go test -race -count=1 -timeout 25m -parallel 64 .
		e2e="$result"
	fi
	verdict=FAIL
	[[ "$build $unit $e2e" == *ok*ok*ok ]] && verdict=pass
	rows+=("$(printf '%-9s %-14s %-14s %-14s %s' "$v" "$build" "$unit" "$e2e" "$verdict")")
done

echo
printf '%-9s %-14s %-14s %-14s %s\n' CoreDNS build unit e2e result
printf '%s\n' "${rows[@]}"
exit "$failed"
