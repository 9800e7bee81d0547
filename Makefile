# k8s_event: build, run and test. `make run` and `make test` need nothing but Go.

BIN_DIR     := $(CURDIR)/.bin
COREDNS     := $(CURDIR)/coredns
GO_TEST     := go test -race -count=1
E2E_ENV     := K8S_EVENT_BIN_DIR=$(BIN_DIR) K8S_EVENT_COREDNS=$(COREDNS) K8S_EVENT_ROOT=$(CURDIR)

.PHONY: all coredns controlplane run test unit lint e2e fuzz bench clean

all: coredns

# CoreDNS with every in-tree plugin plus kubeapi and k8s_event (module cmd/coredns).
coredns:
	go build -C cmd/coredns -trimpath -o $(COREDNS) .

# etcd, kube-apiserver and kubectl at pinned versions, cached in .bin/.
controlplane:
	tools/build.sh

# The demo: a local API server (or the cluster of $KUBECONFIG), CoreDNS with the plugin,
# a few log lines, and the events they became. Ctrl-C stops everything.
run: coredns
ifndef KUBECONFIG
run: controlplane
endif
	$(E2E_ENV) go run -C internal/devenv ./cmd/run

test: lint unit e2e

lint:
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -C cmd/coredns ./...
	go vet -C internal/devenv ./...
	go vet -C e2e ./...
	go vet -C bench ./...

unit:
	$(GO_TEST) ./...
	cd internal/devenv && $(GO_TEST) ./...
	cd bench && $(GO_TEST) ./...

# End-to-end: the real ./coredns against a real kube-apiserver and etcd on loopback.
e2e: coredns controlplane
	cd e2e && $(E2E_ENV) $(GO_TEST) -timeout 25m ./...

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s .

# Benchmarks (module bench/): one table, every row a ratio or delta measured in the same
# run, with its target; BENCHMARKS.md holds a run. About 8 minutes on 2 cores. Progress
# and raw outputs go to stderr, the table to stdout. BENCH_FLAGS=-quick checks the harness
# in about a minute; see `go run -C bench . -h` for the other flags.
BENCH_FLAGS ?=

bench: coredns controlplane
	@command -v dnsperf >/dev/null || { apt-get update && apt-get install -y dnsperf; }
	$(E2E_ENV) go run -C bench . $(BENCH_FLAGS)

clean:
	rm -rf $(COREDNS) $(BIN_DIR)
