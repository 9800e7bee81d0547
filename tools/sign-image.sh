#!/usr/bin/env bash
# Signs and attests the image make image wrote (IMAGE_TAR) where make push-image pushed it
# (REPOSITORY, under the release's tag), then verifies what it attached, as a user would:
# - the image index and, --recursive, each platform's image, signed by digest;
# - each platform's SBOM (tools/image image-sbom: every file of that platform's image, the
#   binary's Go modules, the CA bundle's Debian package), checked against the image
#   (image-sbom-check, with spdx/tools-golang) and attested on that platform's image
#   (predicate type spdxjson);
# - a build provenance statement (SLSA provenance v1: what was built, from which commit,
#   by which workflow run) attested on the index (slsaprovenance1);
# - the signature and both attestations verified, by the tag.
#
# With KEY (a cosign key file; its public key beside it, .pub), signed with that key and
# nothing sent to a transparency log: make sign-check (tools/sign-check.sh). Without it,
# keyless (the release workflow): a certificate from Sigstore's Fulcio for the workflow's
# GitHub OIDC token, each signature in the Rekor transparency log, and verification
# requiring CERT_IDENTITY (the workflow file at the tag) and CERT_ISSUER.
#
# Environment: COSIGN, IMAGE_TAR, REPOSITORY, VERSION, COREDNS_VERSION, SOURCE_DATE_EPOCH,
# GIT_COMMIT, BUILDER (the provenance's builder id), OUT (a directory for the SBOMs and
# statements); KEY, or CERT_IDENTITY and CERT_ISSUER.
set -euo pipefail

for v in COSIGN IMAGE_TAR REPOSITORY VERSION COREDNS_VERSION SOURCE_DATE_EPOCH GIT_COMMIT BUILDER OUT; do
	[[ -n "${!v:-}" ]] || { echo "sign-image: $v is not set" >&2; exit 2; }
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image() { go run -C "$root/tools/image" . "$@"; }
fail() { echo "sign-image: $*" >&2; exit 1; }

if [[ -n "${KEY:-}" ]]; then
	# Offline: no transparency log, no Sigstore signing config or trusted root (they come
	# from Sigstore's TUF repository).
	sign=(--key "$KEY" --tlog-upload=false --use-signing-config=false)
	verify=(--key "${KEY%.key}.pub" --insecure-ignore-tlog=true)
else
	[[ -n "${CERT_IDENTITY:-}" && -n "${CERT_ISSUER:-}" ]] || fail "keyless signing needs CERT_IDENTITY and CERT_ISSUER to verify"
	sign=()
	verify=(--certificate-identity "$CERT_IDENTITY" --certificate-oidc-issuer "$CERT_ISSUER")
fi
export COSIGN_YES=true

mkdir -p "$OUT"
tag="$(image tag -version "$VERSION" -coredns "$COREDNS_VERSION")"
image digests -tar "$IMAGE_TAR" >"$OUT/digests"
index="$(awk '$1 == "index" { print $2 }' "$OUT/digests")"
[[ -n "$index" ]] || fail "tools/image digests printed no index digest"

"$COSIGN" sign "${sign[@]}" --recursive "$REPOSITORY@$index"

while read -r platform digest; do
	[[ "$platform" == index ]] && continue
	name="coredns-$tag-${platform//\//-}"
	image image-sbom -tar "$IMAGE_TAR" -platform "$platform" -name "$name" -version "$VERSION" \
		-main-version "$COREDNS_VERSION" -epoch "$SOURCE_DATE_EPOCH" -out "$OUT/$name.spdx.json"
	image image-sbom-check -sbom "$OUT/$name.spdx.json" -tar "$IMAGE_TAR" -platform "$platform" -main-version "$COREDNS_VERSION"
	"$COSIGN" attest "${sign[@]}" --type spdxjson --predicate "$OUT/$name.spdx.json" "$REPOSITORY@$digest"
	"$COSIGN" verify "${verify[@]}" "$REPOSITORY@$digest" >/dev/null
	"$COSIGN" verify-attestation "${verify[@]}" --type spdxjson "$REPOSITORY@$digest" >"$OUT/$name.verified-sbom.json"
	echo "sign-image: $platform ($digest): signature and SBOM attestation verified"
done <"$OUT/digests"

cat >"$OUT/provenance.json" <<EOF
{
  "buildDefinition": {
    "buildType": "https://github.com/coredns/k8s_event/make-image@v1",
    "externalParameters": {"target": "make image", "version": "$VERSION", "corednsVersion": "$COREDNS_VERSION"},
    "internalParameters": {"sourceDateEpoch": "$SOURCE_DATE_EPOCH"},
    "resolvedDependencies": [{"uri": "git+https://github.com/coredns/k8s_event", "digest": {"gitCommit": "$GIT_COMMIT"}}]
  },
  "runDetails": {"builder": {"id": "$BUILDER"}}
}
EOF
"$COSIGN" attest "${sign[@]}" --type slsaprovenance1 --predicate "$OUT/provenance.json" "$REPOSITORY@$index"

"$COSIGN" verify "${verify[@]}" "$REPOSITORY:$tag" >/dev/null
"$COSIGN" verify-attestation "${verify[@]}" --type slsaprovenance1 "$REPOSITORY:$tag" >"$OUT/verified-provenance.json"
echo "sign-image: $REPOSITORY:$tag ($index): signature and provenance attestation verified"
