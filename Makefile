# k8s_event: build, run and test. `make run` and `make test` need nothing but Go.

BIN_DIR     := $(CURDIR)/.bin
COREDNS     := $(CURDIR)/coredns
GO_TEST     := go test -race -count=1
# go vet (and deploy-check's tests) with the build flags of `make coredns`: they reuse the
# packages that build compiled instead of compiling every dependency a second time
# (minutes of CPU on a fresh machine).
vet = CGO_ENABLED=0 $(NICE) go vet -C $(1) -trimpath ./...
E2E_ENV     := K8S_EVENT_BIN_DIR=$(BIN_DIR) K8S_EVENT_COREDNS=$(COREDNS) K8S_EVENT_ROOT=$(CURDIR)

.PHONY: all coredns controlplane run test unit lint deploy-check helm-check e2e fuzz bench clean

all: coredns

# The commit `coredns -version` shows: this repository's, with -dirty for uncommitted
# changes. The image build passes it in (its context has no .git).
ifndef GIT_COMMIT
GIT_COMMIT := $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || echo unknown)
endif

# CoreDNS with every in-tree plugin plus kubeapi and k8s_event (module cmd/coredns). The one
# build command for ./coredns, the image (deploy/Dockerfile) and the release binaries
# (.github/workflows/release.yml): static, stripped, the commit in -version. GOOS and GOARCH
# come from the environment; COREDNS, an absolute path, names the output.
coredns:
	CGO_ENABLED=0 go build -C cmd/coredns -trimpath \
		-ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=$(GIT_COMMIT)' -o $(COREDNS) .

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

# lint, unit and e2e side by side, each part's output printed whole when it ends. e2e
# mostly waits (one of its tests keeps an API server down for 160 s), so lint and unit
# run at a lower priority (NICE): on a fresh machine the builds e2e waits for (the
# control plane, ./coredns) go first, and the unit tests' compiles fill e2e's waits.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit e2e NICE='nice -n 10'

lint:
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(call vet,.)
	$(call vet,cmd/coredns)
	$(call vet,internal/devenv)
	$(call vet,e2e)
	$(call vet,bench)
	$(call vet,deploy/check)

unit: deploy-check
	$(NICE) $(GO_TEST) ./...
	cd internal/devenv && $(NICE) $(GO_TEST) ./...
	cd bench && $(NICE) $(GO_TEST) ./...

# deploy/: every file parses, the Kustomization renders, the RBAC rules are exactly what the
# plugin uses and the Helm files agree with deploy/'s (module deploy/check). And the build
# command of the image: ./coredns (which e2e uses too) prints the commit with -version, and
# the linux/arm64 cross build, as docker buildx makes it, is static with the commit in it.
deploy-check: coredns
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	GOOS=linux GOARCH=arm64 $(NICE) $(MAKE) --no-print-directory coredns COREDNS=$$tmp/coredns GIT_COMMIT=$(GIT_COMMIT) && \
	cd deploy/check && K8S_EVENT_COREDNS=$(COREDNS) K8S_EVENT_CROSS_COREDNS=$$tmp/coredns \
		K8S_EVENT_GIT_COMMIT=$(GIT_COMMIT) CGO_ENABLED=0 $(NICE) go test -trimpath -count=1 ./...

# The coredns Helm chart rendered with deploy/helm/values.yaml by Helm's own loader and
# template engine (deploy/check/chart_test.go). CHART is the chart's directory or .tgz at
# the version the README pins (helm pull coredns/coredns --version VERSION). Not part of
# make test: the chart is not in this repository, and the Go module proxy does not serve
# its repository.
helm-check:
	@test -n "$(CHART)" || { echo "usage: make helm-check CHART=DIR_OR_TGZ (the coredns chart at the README's --version)"; exit 1; }
	CGO_ENABLED=0 go vet -C deploy/check -tags chart ./...
	cd deploy/check && K8S_EVENT_COREDNS_CHART=$(abspath $(CHART)) CGO_ENABLED=0 go test -tags chart -count=1 -run TestChart ./...

# End-to-end: the real ./coredns against a real kube-apiserver and etcd on loopback.
# -parallel 12: every test is parallel and mostly waits (on an API server, a reload, an
# outage), so a run lasts about as long as its longest test, the 160 s outage, if that
# one starts early. 12 of the 22 tests start at once; one that waits starts at the
# latest once 10 slots have freed, and 9 tests free theirs within about a second, so the
# outage waits seconds at most. More at once is no faster on 2 cores: the control planes
# that start together slow every test down.
e2e: coredns controlplane
	cd e2e && $(E2E_ENV) $(GO_TEST) -timeout 25m -parallel 12 ./...

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s .

# Benchmarks (module bench/): one table, every row a ratio or delta measured in the same
# run, with its target; BENCHMARKS.md holds a run. About 10 minutes on 2 cores. Progress
# and raw outputs go to stderr, the table to stdout. BENCH_FLAGS=-quick checks the harness
# in about a minute; see `go run -C bench . -h` for the other flags.
BENCH_FLAGS ?=

bench: coredns controlplane
	@command -v dnsperf >/dev/null || { apt-get update && apt-get install -y dnsperf; }
	$(E2E_ENV) go run -C bench . $(BENCH_FLAGS)

clean:
	rm -rf $(COREDNS) $(BIN_DIR)
