# k8s_event: build, run and test. `make run` needs Go; `make test` needs Go, Linux, root and
# apt-get (the node's containerd, runc, CNI plugins and iptables are Debian packages).

BIN_DIR     := $(CURDIR)/.bin
COREDNS     := $(CURDIR)/coredns
# -vet=off: make lint vets every module, tests included, with all of go vet's analyzers
# and these flags; go test's own vet (a subset of them) would vet every dependency again
# under other cache keys, minutes of CPU on a fresh machine. make lint is what vets.
GO_TEST     := go test -race -count=1 -vet=off
# go vet with the build flags of the module's tests: vet compiles every dependency of the
# packages it checks, and with the tests' flags those compiles are the tests' (minutes of
# CPU on a fresh machine), not a second build of each. Most modules are tested with
# GO_TEST (-race); deploy/check and deploy/monitoring/check without cgo and with -trimpath
# (vet_trimpath), as promtool is built, whose compiles monitoring-check's tests reuse.
vet          = $(NICE) go vet -C $(1) -race $(2) ./...
# A comma inside $(call ...)'s arguments: go vet's build tags are in the cache key of every
# package it vets, dependencies included, so a module is vetted once with all its tags.
comma        := ,
vet_trimpath = CGO_ENABLED=0 $(NICE) go vet -C $(1) -trimpath ./...
E2E_ENV     := K8S_EVENT_BIN_DIR=$(BIN_DIR) K8S_EVENT_COREDNS=$(COREDNS) K8S_EVENT_ROOT=$(CURDIR)

# lint fails on a file in the index (tracked, or staged) larger than this, in bytes: build
# products are never committed.
MAX_FILE_BYTES := 1048576

.PHONY: all coredns coredns-tree coredns-version matrix ca-package image pause-image probe-image stock-image image-check push-image controlplane node-bin node-deps \
	promtool otelcol alerting-bin release-binaries release-check sign-check sign-image cosign vulncheck govulncheck run test unit lint deploy-check monitoring-check helm-check \
	e2e consumer alerting node fuzz bench clean

all: coredns

# The commit `coredns -version` shows: this repository's, with -dirty for uncommitted
# changes.
ifndef GIT_COMMIT
GIT_COMMIT := $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || echo unknown)
endif
# Worked out once: the sub-makes (release-check's release-binaries, e2e's monitoring-check)
# get it from here, so a commit made while make test runs cannot give them another.
export GIT_COMMIT

# The supported CoreDNS versions (tools/tree/versions.txt: the version kubeadm pins for each
# Kubernetes minor, and the newest release), and COREDNS_VERSION, the one make coredns and
# the images build: by default the newest Kubernetes minor's.
VERSIONS_FILE      := $(CURDIR)/tools/tree/versions.txt
SUPPORTED_VERSIONS := $(shell awk '$$1 ~ /^v/ { print $$1 }' $(VERSIONS_FILE))
COREDNS_VERSION    ?= $(shell awk '$$1 ~ /^v/ && $$2 != "-" { v = $$1 } END { print v }' $(VERSIONS_FILE))
# CoreDNS's own tree at COREDNS_VERSION with kubeapi and k8s_event (this checkout) added
# through its plugin.cfg, prepared by tools/tree, which fails when adding the plugin
# raised any of the tree's requirements; TREE_DIR-stock is the tree as released.
TREE_DIR            = $(CURDIR)/.build/tree/$(COREDNS_VERSION)

# tools/tree runs on this machine whatever GOOS and GOARCH the build is for (make image,
# make release-binaries): they are cleared for it and the go commands it runs.
coredns-tree:
	GOOS= GOARCH= $(NICE) go run -C tools/tree . -version $(COREDNS_VERSION) -dir $(TREE_DIR) -plugin $(CURDIR)

# CoreDNS at COREDNS_VERSION with every in-tree plugin plus kubeapi and k8s_event, built in
# CoreDNS's own tree (make coredns-tree). The one build command for ./coredns, the images
# (make image) and the release binaries (.github/workflows/release.yml): static, stripped,
# the commit of this checkout in -version. GOOS and GOARCH come from the environment;
# COREDNS, an absolute path, names the output.
coredns: coredns-tree
	CGO_ENABLED=0 go build -C $(TREE_DIR) -trimpath \
		-ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=$(GIT_COMMIT)' -o $(COREDNS) .

# Prints COREDNS_VERSION (the workflows read the default this way).
coredns-version:
	@echo $(COREDNS_VERSION)

# Images, built without a container engine (module tools/image): each an OCI image index
# for IMAGE_PLATFORMS, written as an OCI image layout tar that
# `ctr -n k8s.io images import --all-platforms FILE` loads, under the name given here.
#   make image:       IMAGE_TAR, named IMAGE: CoreDNS with the plugin (make coredns), the CA
#                     bundle, user 65532, port 53 through the binary's cap_net_bind_service.
#   make pause-image: PAUSE_TAR, named PAUSE_IMAGE: a Pod sandbox image (tools/image/pause),
#                     for containerd's sandbox_image where none can be pulled.
#   make probe-image: PROBE_TAR, named PROBE_IMAGE: the node tests' DNS client Pod
#                     (internal/devenv/cmd/dnsprobe), for this machine's platform only.
#   make stock-image: STOCK_TAR, named STOCK_IMAGE: CoreDNS as released, COREDNS_VERSION's
#                     tree unchanged, without kubeapi and k8s_event, tagged with that
#                     version as kubeadm's registry tags CoreDNS: what kubeadm runs before
#                     the install and after the uninstall, on the node, and the tag the
#                     install (deploy/image.sh) reads the CoreDNS version from.
# A name needs a registry host (localhost for an image that is only imported): the kubelet
# looks a name without one up under the default registry's. Every date in an image is
# SOURCE_DATE_EPOCH, the commit's time: the same commit and CA bundle make the same digests.
IMAGE_DIR       := $(CURDIR)/.build/image
IMAGE            = localhost/k8s-event/coredns:$(IMAGE_TAG)
IMAGE_TAR       := $(IMAGE_DIR)/coredns.tar
PAUSE_IMAGE     := localhost/k8s-event/pause:dev
PAUSE_TAR       := $(IMAGE_DIR)/pause.tar
PROBE_IMAGE     := localhost/k8s-event/dnsprobe:dev
PROBE_TAR       := $(IMAGE_DIR)/dnsprobe.tar
STOCK_IMAGE      = localhost/k8s-event/coredns:$(COREDNS_VERSION)
STOCK_TAR       := $(IMAGE_DIR)/coredns-stock.tar
IMAGE_PLATFORMS := linux/amd64 linux/arm64
CA_BUNDLE       := /etc/ssl/certs/ca-certificates.crt
# The CA bundle's Debian package: its dpkg status stanza and copyright file go into the
# image (tools/image recipe.go), so that the image's SBOM names it, version and licences.
CA_STATUS       := $(IMAGE_DIR)/ca-certificates.status
CA_COPYRIGHT    := /usr/share/doc/ca-certificates/copyright
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# The plugin's version: a release's tag (the release workflow sets VERSION), else git
# describe's name of the commit (the last v* tag, the commits since, the commit), else
# v0.0.0-dev before the first tag. IMAGE_TAG names it and COREDNS_VERSION, as the release
# tags the image (tools/image tag.go: v1.14.6-k8s_event.1.2.0), a tag kubeadm cannot take
# for a CoreDNS version. Each is worked out once, when first used.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --abbrev=12 --dirty 2>/dev/null || echo v0.0.0-dev)
IMAGE_TAG = $(eval IMAGE_TAG := $$(shell go run -C tools/image . tag -version $(VERSION) -coredns $(COREDNS_VERSION)))$(IMAGE_TAG)
# platform_args lists OS/ARCH=$(IMAGE_DIR)/OS/ARCH/$(1) for every platform.
platform_args = $(foreach p,$(IMAGE_PLATFORMS),$(p)=$(IMAGE_DIR)/$(p)/$(1))

# After ./coredns: concurrent go builds do not share their compiles, so the first one
# compiles CoreDNS's packages once and the image's linux/amd64 build only links.
image: coredns ca-package
	@set -e; for p in $(IMAGE_PLATFORMS); do mkdir -p $(IMAGE_DIR)/$$p; \
		echo "make coredns for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(NICE) $(MAKE) --no-print-directory coredns \
			COREDNS=$(IMAGE_DIR)/$$p/coredns GIT_COMMIT=$(GIT_COMMIT); \
	done
	$(NICE) go run -C tools/image . coredns -name $(IMAGE) -out $(IMAGE_TAR) \
		-epoch $(SOURCE_DATE_EPOCH) -ca $(CA_BUNDLE) -ca-status $(CA_STATUS) -ca-copyright $(CA_COPYRIGHT) \
		$(call platform_args,coredns)

# The CA bundle the images carry, installed when missing, and its Debian package's dpkg
# status (CA_STATUS), which the images carry beside it.
ca-package:
	@test -s $(CA_BUNDLE) -a -s $(CA_COPYRIGHT) || { apt-get update && apt-get install -y ca-certificates; }
	@mkdir -p $(IMAGE_DIR) && dpkg-query -s ca-certificates > $(CA_STATUS)

pause-image:
	@set -e; for p in $(IMAGE_PLATFORMS); do \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} go build -C tools/image/pause -trimpath \
			-ldflags '-s -w' -o $(IMAGE_DIR)/$$p/pause .; \
	done
	$(NICE) go run -C tools/image . pause -name $(PAUSE_IMAGE) -out $(PAUSE_TAR) \
		-epoch $(SOURCE_DATE_EPOCH) $(call platform_args,pause)

probe-image:
	p=$$(go env GOOS)/$$(go env GOARCH) && CGO_ENABLED=0 go build -C internal/devenv -trimpath \
		-ldflags '-s -w' -o $(IMAGE_DIR)/$$p/dnsprobe ./cmd/dnsprobe && \
	$(NICE) go run -C tools/image . dnsprobe -name $(PROBE_IMAGE) -out $(PROBE_TAR) \
		-epoch $(SOURCE_DATE_EPOCH) $$p=$(IMAGE_DIR)/$$p/dnsprobe

# After ./coredns: the stock tree's packages that are not CoreDNS's (every module the
# plugin did not raise) are compiled already.
stock-image: coredns ca-package
	$(NICE) go run -C tools/tree . -version $(COREDNS_VERSION) -dir $(TREE_DIR)-stock
	p=$$(go env GOOS)/$$(go env GOARCH) && CGO_ENABLED=0 $(NICE) go build -C $(TREE_DIR)-stock -trimpath \
		-ldflags '-s -w' -o $(IMAGE_DIR)/$$p/coredns-stock . && \
	$(NICE) go run -C tools/image . coredns -name $(STOCK_IMAGE) -out $(STOCK_TAR) \
		-epoch $(SOURCE_DATE_EPOCH) -ca $(CA_BUNDLE) -ca-status $(CA_STATUS) -ca-copyright $(CA_COPYRIGHT) \
		$$p=$(IMAGE_DIR)/$$p/coredns-stock

# The images' tests (module tools/image): each layer's files, owners, modes and the
# capability bytes, the configs, both platforms' binaries, and `ctr images import` into a
# containerd of their own (root only: they fail without it).
image-check: image pause-image node-deps
	cd tools/image && K8S_EVENT_IMAGE_TAR=$(IMAGE_TAR) K8S_EVENT_IMAGE=$(IMAGE) \
		K8S_EVENT_PAUSE_TAR=$(PAUSE_TAR) K8S_EVENT_PAUSE_IMAGE=$(PAUSE_IMAGE) \
		K8S_EVENT_CA_BUNDLE=$(CA_BUNDLE) K8S_EVENT_CA_STATUS=$(CA_STATUS) K8S_EVENT_CA_COPYRIGHT=$(CA_COPYRIGHT) \
		K8S_EVENT_GIT_COMMIT=$(GIT_COMMIT) \
		K8S_EVENT_IMAGE_PLATFORMS='$(IMAGE_PLATFORMS)' $(NICE) $(GO_TEST) ./...

# Publishes IMAGE_TAR as make image wrote it (the image make test checked, same digests) to
# IMAGE_REPOSITORY (REGISTRY/PATH) under one tag, IMAGE_TAG for release VERSION: no latest,
# and never the plugin's version alone, which kubeadm would read as a CoreDNS version. The
# login comes from REGISTRY_USERNAME and REGISTRY_PASSWORD. The release workflow runs it.
push-image:
	go run -C tools/image . push -tar $(IMAGE_TAR) -repository $(IMAGE_REPOSITORY) -version $(VERSION) -coredns $(COREDNS_VERSION)

# The release's binaries, as the release workflow publishes them for tag VERSION: for each
# of RELEASE_PLATFORMS, ./coredns built by make coredns in
# RELEASE_DIR/coredns-k8s_event-VERSION-OS-ARCH.tar.gz, with its sha256sum in .sha256 and
# its SBOM in .spdx.json: SPDX 2.3 JSON from the binary's build information (the Go
# version, the build settings, every module compiled in and its version; tools/image
# sbom.go), CoreDNS, the main module, at COREDNS_VERSION, the tag of the tree it was built
# in. The linux binaries are the image's, so their SBOMs are the image's. For
# COREDNS_VERSION only (by default, the newest Kubernetes minor's).
RELEASE_DIR       := $(CURDIR)/.build/release
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

release-binaries:
	@test -n "$(VERSION)" || { echo "usage: make release-binaries VERSION=vX.Y.Z"; exit 1; }
	@set -e; mkdir -p $(RELEASE_DIR); for p in $(RELEASE_PLATFORMS); do \
		name=coredns-k8s_event-$(VERSION)-$${p%/*}-$${p#*/}; \
		echo "make coredns for $$p: $$name.tar.gz"; \
		rm -rf $(RELEASE_DIR)/$$p; mkdir -p $(RELEASE_DIR)/$$p; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(NICE) $(MAKE) --no-print-directory coredns \
			COREDNS=$(RELEASE_DIR)/$$p/coredns GIT_COMMIT=$(GIT_COMMIT); \
		tar -C $(RELEASE_DIR)/$$p -czf $(RELEASE_DIR)/$$name.tar.gz coredns; \
		(cd $(RELEASE_DIR) && sha256sum $$name.tar.gz > $$name.tar.gz.sha256); \
		$(NICE) go run -C tools/image . sbom -binary $(RELEASE_DIR)/$$p/coredns -name $$name \
			-version $(VERSION) -main-version $(COREDNS_VERSION) -epoch $(SOURCE_DATE_EPOCH) -out $(RELEASE_DIR)/$$name.spdx.json; \
	done

# A dry run of the release workflow after its test job, from this checkout, for version
# RELEASE_CHECK_VERSION: make release-binaries, then every archive checked against its
# checksum, holding ./coredns alone, and the linux ones holding the image's binaries
# byte for byte; every SBOM checked (tools/image sbom-check): SPDX 2.3 JSON describing,
# by SHA-256, the binary it sits beside (for linux, the image's), with exactly the modules
# compiled into it, CoreDNS's and client-go's among them; each platform's image SBOM, the
# one the release attests (tools/image image-sbom), written and checked against the image
# (image-sbom-check: valid to spdx/tools-golang, every file of the image with its
# digests, the binary's modules, the CA bundle's Debian package); make push-image to an in-memory
# registry on a loopback port (tools/image registry), then its tags listed and pulled
# back (tools/image pulled): the release's one tag (tools/image tag.go, as push-image
# names it) and no other, the image make test checked (IMAGE_TAR) by digest.
# By default for the linux platforms only, whose binaries are the image's: each macOS
# one is a full CoreDNS compile more in make test's budget; the release's make test
# (release.yml) sets RELEASE_CHECK_PLATFORMS='$(RELEASE_PLATFORMS)' to check all.
RELEASE_CHECK_VERSION   ?= v0.0.0
RELEASE_CHECK_DIR       := $(CURDIR)/.build/release-check
RELEASE_CHECK_PLATFORMS ?= linux/amd64 linux/arm64

release-check: image
	$(MAKE) --no-print-directory release-binaries VERSION=$(RELEASE_CHECK_VERSION) RELEASE_DIR=$(RELEASE_CHECK_DIR) \
		RELEASE_PLATFORMS='$(RELEASE_CHECK_PLATFORMS)'
	@set -e; cd $(RELEASE_CHECK_DIR); for p in $(RELEASE_CHECK_PLATFORMS); do \
		name=coredns-k8s_event-$(RELEASE_CHECK_VERSION)-$${p%/*}-$${p#*/}.tar.gz; \
		sha256sum --quiet -c $$name.sha256; \
		test "$$(tar -tzf $$name)" = coredns || { echo "$$name: holds $$(tar -tzf $$name), want coredns alone"; exit 1; }; \
		case $$p in linux/*) tar -xzOf $$name coredns | cmp - $(IMAGE_DIR)/$$p/coredns || \
			{ echo "$$name: not the binary of the image for $$p"; exit 1; };; esac; \
		echo "$$name: checksum, contents$$(case $$p in linux/*) echo ", the image's binary";; esac) ok"; \
		bin=$(RELEASE_CHECK_DIR)/$$p/coredns; case $$p in linux/*) bin=$(IMAGE_DIR)/$$p/coredns;; esac; \
		$(NICE) go run -C $(CURDIR)/tools/image . sbom-check -sbom $(RELEASE_CHECK_DIR)/$${name%.tar.gz}.spdx.json -binary $$bin \
			-main-version $(COREDNS_VERSION); \
	done
	@set -e; for p in $(IMAGE_PLATFORMS); do \
		sbom=$(RELEASE_CHECK_DIR)/image-$(RELEASE_CHECK_VERSION)-$${p%/*}-$${p#*/}.spdx.json; \
		$(NICE) go run -C tools/image . image-sbom -tar $(IMAGE_TAR) -platform $$p -name $$(basename $$sbom .spdx.json) \
			-version $(RELEASE_CHECK_VERSION) -main-version $(COREDNS_VERSION) -epoch $(SOURCE_DATE_EPOCH) -out $$sbom; \
		$(NICE) go run -C tools/image . image-sbom-check -sbom $$sbom -tar $(IMAGE_TAR) -platform $$p \
			-main-version $(COREDNS_VERSION); \
	done
	$(NICE) go run -C tools/image . registry -run '$(MAKE) -C $(CURDIR) --no-print-directory push-image \
		IMAGE_REPOSITORY=$$REGISTRY/k8s-event/coredns VERSION=$(RELEASE_CHECK_VERSION) && \
		go run -C $(CURDIR)/tools/image . pulled -tar $(IMAGE_TAR) \
		-repository $$REGISTRY/k8s-event/coredns -version $(RELEASE_CHECK_VERSION) -coredns $(COREDNS_VERSION)'

# The release's signing as a dry run (tools/sign-check.sh), against an in-memory registry
# on a loopback port: make push-image's push of IMAGE_TAR, then what the release workflow
# runs keylessly (tools/sign-image.sh) with cosign and a key pair made for the run: the
# image index and each platform's image signed by digest, each platform's SBOM and a
# build provenance statement attached as attestations, the signatures and attestations
# verified with the public key; and then verification shown to fail once the tag names a
# changed image. Not part of make test: cosign's first build
# would take it over its budget (docs/development.md); the test workflow runs it in a job
# of its own.
SIGN_CHECK_DIR := $(CURDIR)/.build/sign-check

sign-check: image cosign
	$(NICE) go run -C tools/image . registry -run 'COSIGN=$(BIN_DIR)/cosign IMAGE_TAR=$(IMAGE_TAR) \
		VERSION=$(RELEASE_CHECK_VERSION) COREDNS_VERSION=$(COREDNS_VERSION) \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GIT_COMMIT=$(GIT_COMMIT) OUT=$(SIGN_CHECK_DIR) \
		$(CURDIR)/tools/sign-check.sh'

# govulncheck on ./coredns, the binary the image ships (binary mode: the vulnerable
# functions built into it), against VULNDB: by default the Go vulnerability database as
# golang.org/x/vulndb's OSV files at the version tools/vuln pins, from the Go module proxy
# (no other network); VULNDB=https://vuln.go.dev reads the live one. tools/vuln/policy
# applies SECURITY.md's policy: a called vulnerability of the standard library
# (VULNCHECK_STDLIB) or of a module (VULNCHECK_MODULES) fails with block and is printed
# only with report; code that is not called is always printed only. make lint runs it
# with both set to report (SECURITY.md says why).
VULNDB             = file://$(shell go mod download -C tools/vuln -json golang.org/x/vulndb | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv
VULNCHECK_STDLIB  ?= block
VULNCHECK_MODULES ?= block

vulncheck_run = mkdir -p .build && \
	$(NICE) $(BIN_DIR)/govulncheck -format json -mode binary -db $(VULNDB) $(COREDNS) > .build/vulncheck.json && \
	$(NICE) go run -C tools/vuln ./policy -stdlib $(1) -modules $(2) < .build/vulncheck.json

vulncheck: coredns govulncheck
	$(call vulncheck_run,$(VULNCHECK_STDLIB),$(VULNCHECK_MODULES))

# govulncheck at a pinned version (tools/vuln), cached in .bin/.
govulncheck:
	$(NICE) tools/build.sh govulncheck

# Signs and attests IMAGE_TAR where make push-image pushed it (IMAGE_REPOSITORY, for
# release VERSION) and verifies the signature and attestations (tools/sign-image.sh):
# keyless, verified against CERT_IDENTITY and CERT_ISSUER, as the release workflow runs it;
# BUILDER names the build in the provenance statement.
sign-image: cosign
	COSIGN=$(BIN_DIR)/cosign IMAGE_TAR=$(IMAGE_TAR) REPOSITORY=$(IMAGE_REPOSITORY) VERSION=$(VERSION) \
		COREDNS_VERSION=$(COREDNS_VERSION) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GIT_COMMIT=$(GIT_COMMIT) \
		BUILDER='$(BUILDER)' CERT_IDENTITY='$(CERT_IDENTITY)' CERT_ISSUER='$(CERT_ISSUER)' \
		OUT=$(CURDIR)/.build/sign-image tools/sign-image.sh

# Sigstore's cosign at a pinned version (tools/cosign), cached in .bin/: make sign-check
# signs and verifies with it.
cosign:
	$(NICE) tools/build.sh cosign

# etcd, kube-apiserver, kubectl and kubeadm at pinned versions, cached in .bin/.
controlplane:
	tools/build.sh

# Prometheus's promtool at a pinned version (tools/promtool), cached in .bin/: it tests
# deploy/monitoring's alert rules. After ./coredns, whose compiled packages (the
# Kubernetes client, gRPC, golang.org/x, the standard library without cgo) it reuses
# from the build cache: built at the same time, both would compile them. At NICE: in
# make test, e2e does not wait for it.
promtool: coredns
	$(NICE) tools/build.sh promtool

# The Prometheus server and Alertmanager at pinned versions (tools/prometheus,
# tools/alertmanager), cached in .bin/: make alerting runs them. After promtool, whose
# compiled Prometheus packages the server reuses.
alerting-bin: promtool
	$(NICE) tools/build.sh alerting

# The OpenTelemetry Collector with the k8sevents receiver and the file exporter at pinned
# versions (tools/otelcol), cached in .bin/: a real consumer of the plugin's events.
otelcol:
	tools/build.sh otelcol

# The node's binaries (kubelet, kube-scheduler, kube-controller-manager, kube-proxy)
# beside the control plane's, in .bin/.
node-bin: controlplane
	$(NICE) tools/build.sh node

# What the node needs from Debian: containerd, runc, the CNI plugins, iptables, iproute2 (ip),
# util-linux (nsenter) and procps (sysctl, for IP forwarding in the node's network).
node-deps:
	@for p in containerd ctr runc nsenter iptables ip sysctl /usr/lib/cni/bridge /usr/lib/cni/host-local; do \
		command -v $$p >/dev/null || { apt-get update && apt-get install -y containerd runc \
			containernetworking-plugins iptables iproute2 util-linux procps; break; }; done

# The node tests' and the node demo's images and programs, as package node reads them.
NODE_ENV = K8S_EVENT_IMAGE=$(IMAGE) K8S_EVENT_IMAGE_FILE=$(IMAGE_TAR) \
	K8S_EVENT_PAUSE_IMAGE=$(PAUSE_IMAGE) K8S_EVENT_PAUSE_IMAGE_FILE=$(PAUSE_TAR) \
	K8S_EVENT_PROBE_IMAGE=$(PROBE_IMAGE) K8S_EVENT_PROBE_IMAGE_FILE=$(PROBE_TAR) \
	K8S_EVENT_STOCK_IMAGE=$(STOCK_IMAGE) K8S_EVENT_STOCK_IMAGE_FILE=$(STOCK_TAR)
NODE_PARTS := coredns controlplane node-bin node-deps image pause-image probe-image stock-image

# The demo: a local API server (or the cluster of $KUBECONFIG), CoreDNS with the plugin,
# a few log lines, and the events they became. Ctrl-C stops everything. With NODE=1
# (root, Linux): a real single-node Kubernetes, CoreDNS from the project's image as
# kube-system's DNS (kubeadm's, then the README's install), and its events in kubectl
# describe pod; the node runs until Ctrl-C.
ifdef NODE
run: $(NODE_PARTS)
	$(E2E_ENV) $(NODE_ENV) go run -C internal/devenv ./cmd/runnode
else
run: coredns
ifndef KUBECONFIG
run: controlplane
endif
	$(E2E_ENV) go run -C internal/devenv ./cmd/run
endif

# lint, unit, e2e, node and release-check side by side, each part's output printed whole
# when it ends. e2e and node mostly wait (one e2e test keeps an API server down for
# 160 s; the node waits for Pods, the kubelet, reloads), so everything that only compiles
# runs at a lower priority (NICE): lint, unit, release-check, and the node's binaries and
# images, which e2e does not need. e2e starts once ./coredns and the control plane are
# built; the compiles fill its waits, and no wait of a test counts them (a set-up may
# take as long as it takes: see e2e/setup_test.go). The node tests start once all their
# parts are built. e2e and node hold a job slot each while they wait, so -j6 leaves four
# to the compiles, and e2e and node come first among the goals: the node's binaries start
# as soon as the control plane is built, and the node tests' waits overlap the compiles of
# lint, unit and release-check (with -j4 on a fresh machine, the node's binaries waited
# for a free slot until the 34th minute, and the node tests ran alone at the end). The
# node tests need root and Linux; elsewhere they fail, saying so, and `make lint unit e2e
# release-check` runs the rest.
test:
	$(MAKE) --no-print-directory -j6 --output-sync=target e2e node lint unit release-check NICE='nice -n 10'

# gofmt checks this repository's Go files (not CoreDNS's trees under .build). govulncheck
# reports on ./coredns (make vulncheck, both kinds set to report).
lint: coredns govulncheck
	@big=$$(git ls-files --stage | sed 's/^[0-7]* \([0-9a-f]*\) [0-3]	/\1 /' | \
		git cat-file --batch-check='%(objectsize) %(rest)' | awk '$$1 ~ /^[0-9]+$$/ && $$1 > $(MAX_FILE_BYTES)'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MB (build products belong in .gitignore):"; echo "$$big"; exit 1; fi
	@out=$$(git ls-files -co --exclude-standard '*.go' | xargs gofmt -l); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(call vet,.)
	$(call vet,internal/devenv)
	$(call vet,e2e,-tags consumer$(comma)alerting)
	$(call vet,bench)
	$(call vet_trimpath,deploy/check)
	$(call vet_trimpath,deploy/monitoring/check)
	$(call vet,tools/image)
	$(call vet,tools/tree)
	$(call vet,tools/vuln)
	$(call vulncheck_run,report,report)

unit: deploy-check image-check monitoring-check
	$(NICE) $(GO_TEST) ./...
	cd internal/devenv && $(NICE) $(GO_TEST) ./...
	cd bench && $(NICE) $(GO_TEST) ./...
	cd tools/tree && $(NICE) $(GO_TEST) ./...
	cd tools/vuln && $(NICE) $(GO_TEST) ./...

# deploy/: every file parses, the Kustomization renders, the RBAC rules are exactly what the
# plugin uses and the Helm files agree with deploy/'s (module deploy/check). And the build
# command: ./coredns (which e2e uses too) prints the commit with -version, and the image's
# linux/arm64 cross build is static with the commit in it.
deploy-check: coredns image
	cd deploy/check && K8S_EVENT_COREDNS=$(COREDNS) K8S_EVENT_CROSS_COREDNS=$(IMAGE_DIR)/linux/arm64/coredns \
		K8S_EVENT_COREDNS_VERSION=$(COREDNS_VERSION) \
		K8S_EVENT_GIT_COMMIT=$(GIT_COMMIT) CGO_ENABLED=0 $(NICE) go test -trimpath -count=1 -vet=off ./...

# deploy/monitoring (module deploy/monitoring/check): the PrometheusRule holds the rule
# file's rules, each alert documented; `promtool test rules` on recordings of real runs
# (deploy/monitoring/recordings, and those of the latest make e2e when RECORDINGS names
# them); the dashboard's queries parse and name only recorded metrics and labels.
monitoring-check: promtool
	cd deploy/monitoring/check && K8S_EVENT_PROMTOOL=$(BIN_DIR)/promtool K8S_EVENT_RECORDINGS=$(RECORDINGS) \
		CGO_ENABLED=0 $(NICE) go test -trimpath -count=1 -vet=off ./...

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
# Every test is parallel and mostly waits (on an API server, a reload, an outage), so a
# run lasts about as long as its longest test, the 160 s outage, if that one starts
# early: -parallel lets every test start at once, and what bounds the work is the
# harness: at most as many tests as the machine has CPUs start a control plane or
# CoreDNS at a time, the outage test first (e2e/setup_test.go). More set-ups at once are
# no faster: on 2 cores a dozen control planes starting together take minutes each.
# The outage and RBAC tests record CoreDNS's metrics into E2E_RECORDINGS; the alert tests
# then run on that recording too (monitoring-check), so the committed one in
# deploy/monitoring/recordings must still be what a run shows.
E2E_RECORDINGS := $(CURDIR)/.build/recordings

e2e: coredns controlplane
	rm -rf $(E2E_RECORDINGS)
	cd e2e && $(E2E_ENV) K8S_EVENT_RECORDINGS=$(E2E_RECORDINGS) $(GO_TEST) -timeout 25m -parallel 64 .
	$(MAKE) --no-print-directory monitoring-check RECORDINGS=$(E2E_RECORDINGS)

# The plugin against every supported CoreDNS version (MATRIX_VERSIONS: by default all of
# tools/tree/versions.txt), one after the other (tools/matrix/matrix.sh): CoreDNS's own
# tree at that tag built with the plugin through plugin.cfg, failing when that raised any
# of the tree's requirements; the root module's unit tests with that CoreDNS in go.mod;
# the e2e suite against that binary. A table of each step's time and result ends it. Not
# part of make test (budget): the matrix workflow runs it, one job per version.
MATRIX_VERSIONS ?= $(SUPPORTED_VERSIONS)

matrix: controlplane
	NICE='$(NICE)' tools/matrix/matrix.sh $(MATRIX_VERSIONS)

# A real consumer of the events (e2e/consumer_test.go, build tag consumer): the
# OpenTelemetry Collector's k8sevents receiver against a local API server, kube-apiserver
# down for 150 s meanwhile. Not part of make test: the collector's first build takes about
# 10 minutes of a busy 2-core machine, more than the cold make test has left.
consumer: coredns controlplane otelcol
	cd e2e && $(E2E_ENV) $(GO_TEST) -tags consumer -timeout 15m -v -run '^TestOTelCollector$$' .

# deploy/monitoring's rules in a real Prometheus and a real Alertmanager, set up as
# kube-prometheus-stack sets them up (e2e/alerting_test.go, build tag alerting): the
# RBAC-denied run of two CoreDNS Pods, each scraped by two jobs. The rules Prometheus
# loads are rules.yaml with every duration divided by ALERTING_SCALE (module
# deploy/monitoring/check, cmd/scalerules: for: and the expressions' ranges, nothing
# else), and its intervals are the stack's 30 s divided alike. Not part of make test:
# Prometheus and Alertmanager take minutes to build on a busy 2-core machine, more than
# the cold make test has left (docs/development.md); the test workflow runs it as a job
# of its own.
ALERTING_SCALE := 30
ALERTING_DIR   := $(CURDIR)/.build/alerting

alerting: coredns controlplane alerting-bin
	mkdir -p $(ALERTING_DIR)
	go run -C deploy/monitoring/check ./cmd/scalerules -factor $(ALERTING_SCALE) -in ../rules.yaml -out $(ALERTING_DIR)/rules.yaml
	cd e2e && $(E2E_ENV) K8S_EVENT_ALERT_RULES=$(ALERTING_DIR)/rules.yaml K8S_EVENT_ALERT_SCALE=$(ALERTING_SCALE) \
		$(GO_TEST) -tags alerting -timeout 10m -v -run '^TestAlertsAsKubePrometheusStackRunsThem$$' .

# The node tests (e2e/node): CoreDNS from the project's image as kube-system's DNS on a
# real single-node Kubernetes in a network namespace of its own (internal/devenv/node),
# installed over kubeadm's CoreDNS. Root and Linux only: elsewhere they fail, saying so.
node: $(NODE_PARTS)
	cd e2e && $(E2E_ENV) $(NODE_ENV) $(GO_TEST) -timeout 20m -v ./node

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s .

# Benchmarks (module bench/): one table, every row a ratio or delta measured in the same
# run, with its target; BENCHMARKS.md holds a run. About 10 minutes on 2 cores, plus the
# apf part's 12 (300 replicas, three configurations, 3 GiB of memory). Progress
# and raw outputs go to stderr, the table to stdout. BENCH_FLAGS=-quick checks the harness
# in about a minute; see `go run -C bench . -h` for the other flags.
BENCH_FLAGS ?=

bench: coredns controlplane
	@command -v dnsperf >/dev/null || { apt-get update && apt-get install -y dnsperf; }
	$(E2E_ENV) go run -C bench . $(BENCH_FLAGS)

clean:
	rm -rf $(COREDNS) $(BIN_DIR) $(IMAGE_DIR)
