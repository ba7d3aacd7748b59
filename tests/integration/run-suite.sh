#!/bin/sh
# Integration suite: runs every tests/integration/cases/*.sh (or the names
# given as arguments) against a built lodge, one subshell and one timeout per
# case. POSIX sh, so it runs unchanged on the host and in the KVM lab's busybox.
#
# Prints, per case: "START name", then "PASS name" or "FAIL name: reason".
# Ends with "SUITE-END N passed, N failed". Exit status 0 iff nothing failed.
#
# Environment: ROOT (the repository), LODGE (lodge binary), GUESTS (guest
# ELF folder), LINUX (Linux test artifacts), TEST_TIMEOUT (seconds per lodge run, default 120).

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LODGE:=$root/build/lodge}"
: "${GUESTS:=$root/guest/build}"
: "${LINUX:=${LODGE_CACHE:-$HOME/.cache/lodge}/linux}"
: "${TEST_TIMEOUT:=120}"
ROOT=$root
export ROOT LODGE GUESTS LINUX TEST_TIMEOUT
. "$here/lib.sh"

if [ $# -gt 0 ]; then
	cases=""
	for n in "$@"; do cases="$cases $here/cases/$n.sh"; done
else
	cases=$(ls "$here"/cases/*.sh)
fi

passed=0
failed=0
tmproot=$(mktemp -d "${TMPDIR:-/tmp}/lodge-it.XXXXXX")
for c in $cases; do
	name=$(basename "$c" .sh)
	echo "START $name"
	TMP="$tmproot/$name"
	mkdir -p "$TMP"
	export TMP
	( . "$c" ) > "$TMP/case.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		reason=$(grep '^FAILED: ' "$TMP/case.log" | head -n 1 | sed 's/^FAILED: //')
		[ -n "$reason" ] || reason="case exited with status $rc"
		echo "FAIL $name: $reason"
		sed 's/^/    | /' "$TMP/case.log" | tail -n 40
		failed=$((failed + 1))
	fi
done
rm -rf "$tmproot"
echo "SUITE-END $passed passed, $failed failed"
[ $failed -eq 0 ]
