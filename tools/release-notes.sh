#!/usr/bin/env bash
# Prints the section of CHANGELOG.md (Keep a Changelog form) for release tag TAG, without
# its heading: the GitHub release's text. The section's heading is `## [X.Y.Z] - YYYY-MM-DD`
# for tag vX.Y.Z (a pre-release's too: v1.2.0-rc.1 reads `## [1.2.0-rc.1] - ...`); it ends
# at the next `## ` heading or at the link definitions that close the file. Fails, saying
# why, when the tag has no dated section or its section is empty: a release is not
# published without its notes.
#
# Usage: tools/release-notes.sh TAG [CHANGELOG]   (CHANGELOG.md at the repository root by default)
set -euo pipefail

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 TAG [CHANGELOG]" >&2; exit 2; }
tag="$1"
file="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/CHANGELOG.md}"
[[ "$tag" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "$0: $tag is not a release tag vX.Y.Z[-PRERELEASE]" >&2; exit 2; }
version="${tag#v}"

# awk prints the section's lines, blank lines at either end left out; exit status 3: no
# heading for the version, 4: a heading without a date.
set +e
notes="$(awk -v version="$version" '
	function heading(line) { return substr(line, 1, 3) == "## " }
	heading($0) && index($0, "## [" version "]") == 1 {
		rest = substr($0, length("## [" version "]") + 1)
		if (rest !~ /^ - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) { bad = 1; exit }
		found = 1; inside = 1; next
	}
	inside && (heading($0) || /^\[[^]]+\]: /) { inside = 0 }
	inside {
		if ($0 ~ /^[ \t]*$/) { if (printed) blanks++; next }
		for (; blanks > 0; blanks--) print ""
		print; printed = 1
	}
	END { if (bad) exit 4; if (!found) exit 3 }
' "$file")"
status=$?
set -e
case $status in
0) ;;
3) echo "$0: $file has no section ## [$version] - YYYY-MM-DD for tag $tag: move Unreleased there before tagging" >&2; exit 1 ;;
4) echo "$0: $file: the section ## [$version] has no date (want ## [$version] - YYYY-MM-DD)" >&2; exit 1 ;;
*) echo "$0: reading $file failed" >&2; exit 1 ;;
esac
[[ -n "$notes" ]] || { echo "$0: $file: the section ## [$version] is empty" >&2; exit 1; }
printf '%s\n' "$notes"
