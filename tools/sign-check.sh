#!/usr/bin/env bash
# The release's signing, as a dry run against a registry on loopback (make sign-check runs
# it under `tools/image registry`, which sets REGISTRY): pushes the image make image wrote
# as make push-image does, signs and attests it with a key pair made here and verifies
# the signature and the attestations (tools/sign-image.sh, as the release workflow runs it
# keylessly), and then shows that verification fails once the tag names a changed image
# (tools/image change-tagged): a signature covers the digest it was made for, not
# whatever the tag names later.
#
# Environment: REGISTRY (host:port), COSIGN, IMAGE_TAR, VERSION, COREDNS_VERSION,
# SOURCE_DATE_EPOCH, GIT_COMMIT, OUT (a directory for the keys, SBOMs and statements;
# emptied first).
set -euo pipefail

for v in REGISTRY COSIGN IMAGE_TAR VERSION COREDNS_VERSION OUT; do
	[[ -n "${!v:-}" ]] || { echo "sign-check: $v is not set" >&2; exit 2; }
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image() { go run -C "$root/tools/image" . "$@"; }
fail() { echo "sign-check: $*" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
export REPOSITORY="$REGISTRY/k8s-event/coredns"
image push -tar "$IMAGE_TAR" -repository "$REPOSITORY" -version "$VERSION" -coredns "$COREDNS_VERSION"

# The generated key is not encrypted with a passphrase.
COSIGN_PASSWORD="" "$COSIGN" generate-key-pair --output-key-prefix "$OUT/cosign" >/dev/null
COSIGN_PASSWORD="" KEY="$OUT/cosign.key" BUILDER=https://github.com/coredns/k8s_event/make-sign-check \
	"$root/tools/sign-image.sh"

# Another image under the tag: neither the signature nor the attestation may verify, and
# the reason must be that none matches that digest.
tag="$(image tag -version "$VERSION" -coredns "$COREDNS_VERSION")"
image change-tagged -ref "$REPOSITORY:$tag"
verify=(--key "$OUT/cosign.pub" --insecure-ignore-tlog=true)
if "$COSIGN" verify "${verify[@]}" "$REPOSITORY:$tag" >/dev/null 2>"$OUT/changed-verify.err"; then
	fail "the signature verified for $REPOSITORY:$tag after the tag was moved to a changed image"
fi
if "$COSIGN" verify-attestation "${verify[@]}" --type slsaprovenance1 "$REPOSITORY:$tag" >/dev/null 2>"$OUT/changed-attestation.err"; then
	fail "the provenance attestation verified for $REPOSITORY:$tag after the tag was moved to a changed image"
fi
grep -q 'no signatures found' "$OUT/changed-verify.err" ||
	fail "verifying the changed image failed for another reason than a missing signature: $(cat "$OUT/changed-verify.err")"
grep -q 'no matching attestations' "$OUT/changed-attestation.err" ||
	fail "verifying the changed image's attestation failed for another reason than a missing one: $(cat "$OUT/changed-attestation.err")"
echo "sign-check: $REPOSITORY:$tag changed after signing: signature and attestation rejected, as they must be"
