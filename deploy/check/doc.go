// Package check holds make test's checks of deploy/ and of the release build: every file
// parses as what it is meant to be, the Kustomization renders, the RBAC rules are exactly
// the ones the plugin uses and the Helm files agree with deploy/'s, the workflows parse,
// and the binary `make coredns` builds for the image is static and carries its commit.
//
// It is a module of its own so that its dependencies (kustomize, the Kubernetes API types)
// stay out of the plugin's go.mod. The checks are tests: `make deploy-check` runs them
// after building the binaries they inspect.
package check
