#!/usr/bin/env bash
# The release's signing, as a dry run against a registry on loopback (make sign-check runs
# it under `tools/image registry`, which sets REGISTRY): pushes the image make image wrote
# as make push-image does, signs its digest with a key pair made here, attaches each
# platform's SBOM and a build provenance statement as attestations, verifies the
# signature and both attestations with the public key, and then shows that verification
# fails once the tag names a changed image (tools/image change-tagged): a signature
# covers the digest it was made for, not whatever the tag names later.
#
# The release workflow signs the same digests keylessly (GitHub's OIDC token, Fulcio,
# Rekor), which this machine cannot reach: here the key is a local one and nothing goes
# to a transparency log (--tlog-upload=false; verification with --insecure-ignore-tlog).
#
# Environment: REGISTRY (host:port), COSIGN (the cosign binary), IMAGE_TAR and IMAGE_DIR
# (make image's tar and per-platform binaries), VERSION and COREDNS_VERSION (the tag,
# tools/image tag.go), SOURCE_DATE_EPOCH, GIT_COMMIT, OUT (a directory for the keys,
# SBOMs and statements; emptied first).
set -euo pipefail

for v in REGISTRY COSIGN IMAGE_TAR IMAGE_DIR VERSION COREDNS_VERSION SOURCE_DATE_EPOCH GIT_COMMIT OUT; do
	[[ -n "${!v:-}" ]] || { echo "sign-check: $v is not set" >&2; exit 2; }
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image() { go run -C "$root/tools/image" . "$@"; }
fail() { echo "sign-check: $*" >&2; exit 1; }

# Sign, attest and verify offline: a local key, no transparency log, no Sigstore
# infrastructure (the signing config and trusted root would come from Sigstore's TUF
# repository).
offline=(--tlog-upload=false --use-signing-config=false)
verify_offline=(--insecure-ignore-tlog=true)
export COSIGN_PASSWORD="" # the generated key is not encrypted with a passphrase
export COSIGN_YES=true

rm -rf "$OUT"
mkdir -p "$OUT"
repo="$REGISTRY/k8s-event/coredns"
tag="$(image tag -version "$VERSION" -coredns "$COREDNS_VERSION")"
image push -tar "$IMAGE_TAR" -repository "$repo" -version "$VERSION" -coredns "$COREDNS_VERSION"
image digests -tar "$IMAGE_TAR" >"$OUT/digests"
index="$(awk '$1 == "index" { print $2 }' "$OUT/digests")"
[[ -n "$index" ]] || fail "tools/image digests printed no index digest"

"$COSIGN" generate-key-pair --output-key-prefix "$OUT/cosign" >/dev/null
key="$OUT/cosign.key"
pub="$OUT/cosign.pub"

# The index and, --recursive, each platform's image.
"$COSIGN" sign "${offline[@]}" --key "$key" --recursive "$repo@$index"

# Each platform's SBOM on that platform's image.
while read -r platform digest; do
	[[ "$platform" == index ]] && continue
	bin="$IMAGE_DIR/$platform/coredns"
	sbom="$OUT/sbom-${platform//\//-}.spdx.json"
	image sbom -binary "$bin" -name "coredns-k8s_event-$VERSION-${platform//\//-}" -version "$VERSION" \
		-main-version "$COREDNS_VERSION" -epoch "$SOURCE_DATE_EPOCH" -out "$sbom"
	"$COSIGN" attest "${offline[@]}" --key "$key" --type spdxjson --predicate "$sbom" "$repo@$digest"
	"$COSIGN" verify "${verify_offline[@]}" --key "$pub" "$repo@$digest" >/dev/null
	"$COSIGN" verify-attestation "${verify_offline[@]}" --key "$pub" --type spdxjson "$repo@$digest" >"$OUT/verified-sbom-${platform//\//-}.json"
	echo "sign-check: $platform ($digest): signature and SBOM attestation verified"
done <"$OUT/digests"

# Build provenance (SLSA v1) on the index: what was built, from which commit, by what.
# The release's comes from actions/attest-build-provenance; this one has the same shape.
cat >"$OUT/provenance.json" <<EOF
{
  "buildDefinition": {
    "buildType": "https://github.com/coredns/k8s_event/make-image@v1",
    "externalParameters": {"target": "make image", "version": "$VERSION", "corednsVersion": "$COREDNS_VERSION"},
    "internalParameters": {"sourceDateEpoch": "$SOURCE_DATE_EPOCH"},
    "resolvedDependencies": [{"uri": "git+https://github.com/coredns/k8s_event", "digest": {"gitCommit": "$GIT_COMMIT"}}]
  },
  "runDetails": {"builder": {"id": "https://github.com/coredns/k8s_event/make-sign-check"}}
}
EOF
"$COSIGN" attest "${offline[@]}" --key "$key" --type slsaprovenance1 --predicate "$OUT/provenance.json" "$repo@$index"

# Verified by tag, as a user would: the tag names the signed index.
"$COSIGN" verify "${verify_offline[@]}" --key "$pub" "$repo:$tag" >/dev/null
"$COSIGN" verify-attestation "${verify_offline[@]}" --key "$pub" --type slsaprovenance1 "$repo:$tag" >"$OUT/verified-provenance.json"
echo "sign-check: $repo:$tag ($index): signature and provenance attestation verified"

# Another image under the tag: neither the signature nor the attestation may verify.
image change-tagged -ref "$repo:$tag"
if "$COSIGN" verify "${verify_offline[@]}" --key "$pub" "$repo:$tag" >/dev/null 2>"$OUT/changed-verify.err"; then
	fail "the signature verified for $repo:$tag after the tag was moved to a changed image"
fi
if "$COSIGN" verify-attestation "${verify_offline[@]}" --key "$pub" --type slsaprovenance1 "$repo:$tag" >/dev/null 2>"$OUT/changed-attestation.err"; then
	fail "the provenance attestation verified for $repo:$tag after the tag was moved to a changed image"
fi
for f in changed-verify.err changed-attestation.err; do
	grep -q -i 'no matching signatures\|no signatures found\|no matching attestations\|none found' "$OUT/$f" ||
		fail "verification of the changed image failed for another reason than a missing signature: $(cat "$OUT/$f")"
done
echo "sign-check: $repo:$tag changed after signing: signature and attestation rejected, as they must be"
