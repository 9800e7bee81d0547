#!/bin/sh
# Names the k8s_event image for the CoreDNS version the coredns Deployment runs now, and
# sets it: installing the plugin never changes CoreDNS's version.
#
#   deploy/image.sh name REPOSITORY RELEASE   prints REPOSITORY:TAG, TAG the release's
#                                             image tag for that CoreDNS version and the
#                                             plugin's RELEASE (v1.14.6-k8s_event.0.1.0)
#   deploy/image.sh set REPOSITORY RELEASE    sets the coredns container's image to it
#
# The CoreDNS version is read from the tag of the image the coredns container runs:
# CoreDNS's own release tags (v1.14.6, as kubeadm's registry has them, or 1.14.6), or a
# k8s_event image's (v1.14.6-k8s_event.0.1.0). Any other tag, an image without a tag,
# or a version tools/tree/versions.txt does not list stops the script, changing
# nothing: a tag is never guessed.
#
# It uses kubectl's current context; NAMESPACE (kube-system), DEPLOYMENT (coredns) and
# CONTAINER (coredns) name another one.
set -eu

ns=${NAMESPACE:-kube-system}
deployment=${DEPLOYMENT:-coredns}
container=${CONTAINER:-coredns}
versions="$(dirname "$0")/../tools/tree/versions.txt"

usage() {
	echo "usage: $0 name|set REPOSITORY RELEASE (RELEASE: the k8s_event release, vMAJOR.MINOR.PATCH)" >&2
	exit 2
}
[ $# -eq 3 ] || usage
mode=$1 repository=$2 version=$3
case $mode in name | set) ;; *) usage ;; esac
semver='v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'
if ! printf '%s\n' "$version" | grep -Eqx "$semver"; then
	echo "$0: k8s_event version '$version': want vMAJOR.MINOR.PATCH, such as v0.1.0" >&2
	exit 2
fi
case $repository in
'' | *@* | *[[:space:]]*)
	echo "$0: repository '$repository': want REGISTRY/PATH, without a tag or digest" >&2
	exit 2
	;;
esac
if printf '%s\n' "$repository" | grep -q ':[^/]*$'; then
	echo "$0: repository '$repository' has a tag: give the repository alone, the tag is worked out" >&2
	exit 2
fi

image=$(kubectl -n "$ns" get deployment "$deployment" -o "jsonpath={.spec.template.spec.containers[?(@.name==\"$container\")].image}")
if [ -z "$image" ]; then
	echo "$0: deployment $ns/$deployment has no container $container" >&2
	exit 1
fi

# The tag: after the last colon of the reference without its digest, if that colon
# comes after the last slash (a colon before it is a registry's port).
ref=${image%%@*}
tag=
case ${ref##*/} in *:*) tag=${ref##*:} ;; esac
if [ -z "$tag" ]; then
	echo "$0: CoreDNS runs $image, which has no tag: the CoreDNS version cannot be read from it" >&2
	exit 1
fi
coredns=$(printf '%s\n' "$tag" | sed -nE 's/^v?([0-9]+\.[0-9]+\.[0-9]+)(-k8s_event\.[0-9]+\.[0-9]+\.[0-9]+.*)?$/v\1/p')
if [ -z "$coredns" ]; then
	echo "$0: CoreDNS runs $image: its tag '$tag' is not a CoreDNS release's (vX.Y.Z or X.Y.Z) nor a k8s_event image's, so the CoreDNS version is unknown" >&2
	exit 1
fi
if ! grep -Eq "^$coredns([[:space:]]|\$)" "$versions"; then
	echo "$0: CoreDNS $coredns (image $image) is not supported: k8s_event images exist for CoreDNS $(grep -Eo '^v[0-9.]+' "$versions" | tr '\n' ' ')" >&2
	exit 1
fi

ours=$repository:$coredns-k8s_event.${version#v}
if [ "$mode" = name ]; then
	echo "$ours"
	exit 0
fi
echo "coredns: $image -> $ours"
kubectl -n "$ns" set image "deployment/$deployment" "$container=$ours"
