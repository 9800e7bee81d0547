//go:build tools

// Package tools records the command this module builds (see tools/build.sh): cosign, with
// which make release-check signs and attests the image it pushes to its loopback registry
// and verifies the signature and the attestations.
package tools

import _ "github.com/sigstore/cosign/v3/cmd/cosign"
