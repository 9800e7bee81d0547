// Package check holds make test's checks of deploy/ and of the release build: every file
// parses as what it is meant to be, the Kustomization renders and installs only what the
// plugin adds, the RBAC rules are exactly the ones the plugin uses, the Deployment patches
// undo each other, the Helm files agree with deploy/'s, the workflows parse, the binary
// `make coredns` builds for the image is static and carries its commit, CHANGELOG.md is in
// Keep a Changelog form and gives each release its text (tools/release-notes.sh), and
// Dependabot watches every go.mod.
//
// chart_test.go (build tag chart, run by `make helm-check CHART=...`) renders the coredns
// Helm chart with deploy/helm/values.yaml through Helm's Go SDK.
//
// It is a module of its own so that its dependencies (kustomize, Helm, the Kubernetes API
// types) stay out of the plugin's go.mod. The checks are tests: `make deploy-check` runs
// them after building the binaries they inspect.
package check
