#!/usr/bin/env bash
# Builds the local control plane binaries (etcd, kube-apiserver, kubectl, and kubeadm for
# its CoreDNS addon) into .bin/ at the repository root, from the Go module proxy; with the
# argument node, the node's too (kubelet, kube-scheduler, kube-controller-manager,
# kube-proxy). With the argument promtool, only Prometheus's promtool (tools/promtool),
# which tests deploy/monitoring's alert rules; with otelcol, only the OpenTelemetry
# Collector of the consumer test (tools/otelcol); with alerting, only the Prometheus server
# and Alertmanager of the alerting test (tools/prometheus, tools/alertmanager); with cosign,
# only Sigstore's cosign, which make sign-check signs the image with (tools/cosign); with
# govulncheck, only govulncheck, make vulncheck's scanner (tools/vuln).
# A binary is rebuilt only when it is missing or older than its module's go.mod, go.sum or
# Go files.
#
# Usage: tools/build.sh [node|promtool|otelcol|alerting|cosign|govulncheck]   (from anywhere; BIN_DIR overrides .bin)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BIN_DIR:-$root/.bin}"
mkdir -p "$bin"
bin="$(cd "$bin" && pwd)"
cd "$root"

# build NAME MODULE_DIR PACKAGE HINT [EXTRA_LDFLAGS]
# The variables tags and modfile, when set, give go build -tags and -modfile; prepare
# names a function run first, when the binary is to be built.
# One build of a binary at a time: a second caller (make -j runs two targets that need
# promtool, say) waits for the first, then finds the binary up to date.
build() {
	local name="$1" mod="$2" pkg="$3" hint="$4" extra="${5:-}" out="$bin/$1"
	exec {lock}>"$bin/.$name.lock"
	flock "$lock"
	if [[ -x "$out" && -z "$(find "$mod" -maxdepth 1 \( -name go.mod -o -name go.sum -o -name '*.go' \) -newer "$out")" ]]; then
		echo "$name is up to date ($out)"
		exec {lock}>&-
		return
	fi
	echo "building $name ($hint)..."
	local start=$SECONDS
	[[ -z "${prepare:-}" ]] || "$prepare"
	go build -C "$mod" -trimpath ${tags:+-tags "$tags"} ${modfile:+-modfile "$modfile"} -ldflags="-s -w $extra" -o "$out" "$pkg"
	echo "built $name in $((SECONDS - start)) s"
	exec {lock}>&-
}

# local_alertmanager writes $am/src, tools/alertmanager's version of Alertmanager's
# module with a placeholder UI page in ui/app/dist, and $am/go.mod and go.sum, which
# replace the module with it.
am="$root/.build/alertmanager"
local_alertmanager() {
	local src
	src="$(go mod download -C tools/alertmanager -json github.com/prometheus/alertmanager | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -d "$src" ]] || { echo "Alertmanager's module is not in the module cache ($src)" >&2; exit 1; }
	rm -rf "$am"
	mkdir -p "$am"
	cp -R "$src" "$am/src"
	chmod -R u+w "$am/src"
	for ui in elm mantine; do
		mkdir -p "$am/src/ui/app/dist/$ui"
		echo '<!DOCTYPE html><title>Alertmanager</title><p>Built without its web UI: use the API (/api/v2).' >"$am/src/ui/app/dist/$ui/index.html"
	done
	{ cat tools/alertmanager/go.mod; echo "replace github.com/prometheus/alertmanager => $am/src"; } >"$am/go.mod"
	cp tools/alertmanager/go.sum "$am/go.sum"
}

case "${1:-}" in
promtool)
	# remove_all_sd leaves out Prometheus's service discoveries (cloud SDKs), which rule
	# tests do not use. Without cgo, and with tools/promtool/go.mod's versions of the
	# modules CoreDNS uses too (the Kubernetes client, gRPC, golang.org/x), the packages
	# it shares with make coredns (built the same way) come from the build cache.
	CGO_ENABLED=0 tags=remove_all_sd build promtool tools/promtool github.com/prometheus/prometheus/cmd/promtool "first time: about 45 s of CPU after make coredns, 270 s alone"
	exit 0
	;;
alerting)
	# The server as promtool is built (remove_all_sd: the test's targets are static), from
	# the same Prometheus version, so most of its packages are promtool's. Without the
	# builtinassets tag the web UI is not compiled in: the test uses the HTTP API only.
	CGO_ENABLED=0 tags=remove_all_sd build prometheus tools/prometheus github.com/prometheus/prometheus/cmd/prometheus "first time: about 190 s after promtool"
	# Alertmanager's module does not ship its web UI's built files (ui/app/dist, made by
	# npm), which its ui package embeds: it is built from a copy of the module with a
	# placeholder page there instead, through a replace in a copy of tools/alertmanager's
	# go.mod. The test uses the HTTP API only.
	CGO_ENABLED=0 prepare=local_alertmanager modfile="$am/go.mod" build alertmanager tools/alertmanager github.com/prometheus/alertmanager/cmd/alertmanager "first time: about 130 s after the server"
	exit 0
	;;
otelcol)
	build otelcol tools/otelcol . "first time: about 5 minutes"
	exit 0
	;;
govulncheck)
	# make vulncheck's scanner (tools/vuln); its database is the pinned golang.org/x/vulndb
	# module's OSV files, read where the module cache holds them.
	CGO_ENABLED=0 build govulncheck tools/vuln golang.org/x/vuln/cmd/govulncheck "first time: about 100 s"
	exit 0
	;;
cosign)
	# Without cgo, as the release workflow's cosign is: make sign-check signs with a key
	# file, no hardware token.
	CGO_ENABLED=0 build cosign tools/cosign github.com/sigstore/cosign/v3/cmd/cosign "first time: about 11 minutes of CPU, 17 at nice 19 on a busy 2-core machine"
	exit 0
	;;
esac

# Stamp the Kubernetes version (otherwise reported as v0.0.0-master) from go.mod.
kver="$(awk '{ for (i = 1; i < NF; i++) if ($i == "k8s.io/kubernetes" && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' tools/kube/go.mod)"
kminor="${kver#v*.}"
kminor="${kminor%%.*}"
kmajor="${kver#v}"
kmajor="${kmajor%%.*}"
vpkg=k8s.io/component-base/version
kflags="-X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=$kmajor -X $vpkg.gitMinor=$kminor -X $vpkg.gitTreeState=clean"

# etcd (its own module) beside kube-apiserver: one's downloads and links fill the other's
# idle time. kubectl shares kube-apiserver's module and build cache, so it goes after.
build etcd tools/etcd . "first time: about 1 minute" &
etcd=$!
build kube-apiserver tools/kube k8s.io/kubernetes/cmd/kube-apiserver "first time: about 4 minutes" "$kflags"
build kubectl tools/kube k8s.io/kubernetes/cmd/kubectl "first time: about 30 seconds" "$kflags"
build kubeadm tools/kube k8s.io/kubernetes/cmd/kubeadm "first time: about 1 minute" "$kflags"
wait "$etcd"

[[ "${1:-}" == node ]] || exit 0
# The node's binaries share kube-apiserver's module, so most of their packages are built.
build kubelet tools/kube k8s.io/kubernetes/cmd/kubelet "first time: about 5 minutes" "$kflags"
for name in kube-controller-manager kube-scheduler kube-proxy; do
	build "$name" tools/kube "k8s.io/kubernetes/cmd/$name" "first time: about 1 minute" "$kflags"
done
