#!/bin/sh
# Adds the two lines k8s_event needs to the Corefile of CoreDNS's ConfigMap, or takes them
# out again, and changes nothing else: every other byte of the Corefile (cluster domain,
# cache settings, your own plugins), the ConfigMap's other keys, labels and annotations
# stay as they are.
#
#   deploy/corefile.sh add       kubeapi and k8s_event at the top of the first server block,
#                                indented as the line after them; a directive already in the
#                                Corefile is not added again
#   deploy/corefile.sh remove    every kubeapi and k8s_event line, with its block if it has
#                                one: after add, the Corefile is back byte for byte (a
#                                kubeapi line that was there before add goes too)
#
# It uses kubectl's current context; NAMESPACE (kube-system) and CONFIGMAP (coredns) name
# another ConfigMap. The reload plugin picks the new Corefile up. It prints what it changed.
set -eu

ns=${NAMESPACE:-kube-system}
cm=${CONFIGMAP:-coredns}
mode=${1:-}
case $mode in
add | remove) ;;
*)
	echo "usage: $0 add|remove" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kubectl -n "$ns" get configmap "$cm" -o jsonpath='{.data.Corefile}' >"$tmp/old"
if [ ! -s "$tmp/old" ]; then
	echo "$0: ConfigMap $ns/$cm has no Corefile" >&2
	exit 1
fi

# A directive's first line: the name alone, or followed by arguments or a block.
directive='^[[:space:]]*(kubeapi|k8s_event)([[:space:]]|[{]|$)'

if [ "$mode" = add ]; then
	# The first server block's opening line: unindented, not a comment or a snippet, ending in {.
	open=$(awk '/^[^[:space:]#(].*[{][[:space:]]*$/ { print NR; exit }' "$tmp/old")
	if [ -z "$open" ]; then
		echo "$0: no server block in the Corefile of $ns/$cm" >&2
		exit 1
	fi
	indent=$(awk -v n="$open" 'NR > n && NF { match($0, /^[[:space:]]*/); print substr($0, 1, RLENGTH); exit }' "$tmp/old")
	: >"$tmp/lines"
	for d in kubeapi k8s_event; do
		if ! grep -Eq "^[[:space:]]*$d([[:space:]]|[{]|\$)" "$tmp/old"; then
			printf '%s%s\n' "${indent:-    }" "$d" >>"$tmp/lines"
		fi
	done
	{ head -n "$open" "$tmp/old"; cat "$tmp/lines"; tail -n "+$((open + 1))" "$tmp/old"; } >"$tmp/new"
else
	cp "$tmp/old" "$tmp/new"
	# Take out one directive (its line, or its lines up to the closing brace) at a time.
	while range=$(awk -v re="$directive" '
		!start && $0 ~ re { start = NR; if ($0 ~ /[{]/ && $0 !~ /[}]/) next; print start, NR; exit }
		start && /^[[:space:]]*[}][[:space:]]*$/ { print start, NR; exit }' "$tmp/new") && [ -n "$range" ]; do
		set -- $range
		{ head -n "$(($1 - 1))" "$tmp/new"; tail -n "+$(($2 + 1))" "$tmp/new"; } >"$tmp/next"
		mv "$tmp/next" "$tmp/new"
	done
fi

if cmp -s "$tmp/old" "$tmp/new"; then
	echo "configmap/$cm unchanged: nothing to $mode"
	exit 0
fi
diff "$tmp/old" "$tmp/new" || true
# kubectl encodes the new Corefile as JSON; the merge patch replaces that one key.
data=$(kubectl -n "$ns" create configmap "$cm" --from-file=Corefile="$tmp/new" --dry-run=client -o jsonpath='{.data}')
printf '{"data":%s}' "$data" >"$tmp/patch.json"
kubectl -n "$ns" patch configmap "$cm" --type merge --patch-file "$tmp/patch.json"
