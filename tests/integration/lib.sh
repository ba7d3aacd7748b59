# Helpers for integration cases (sourced; POSIX sh). A case is a script body:
# it runs lodge with lodge_run and checks what happened with expect_*; the
# first failed expectation ends the case with "FAILED: reason".

fail() {
	echo "FAILED: $*"
	exit 1
}

# A lodge that the timeout ends prints where its vCPUs were (src/vmm/vm.c).
LODGE_DUMP_ON_SIGNAL=1
export LODGE_DUMP_ON_SIGNAL

# lodge_run ARGS...: run "$LODGE run ARGS" with a timeout; stdin from
# $TMP/stdin when it exists. Output in $TMP/out and $TMP/err, status in STATUS.
lodge_run() {
	lodge_cmd run "$@"
}

# lodge_cmd ARGS...: like lodge_run for any lodge sub-command.
lodge_cmd() {
	echo "+ lodge $*"
	if [ -f "$TMP/stdin" ]; then
		timeout "$TEST_TIMEOUT" "$LODGE" "$@" < "$TMP/stdin" > "$TMP/out" 2> "$TMP/err"
	else
		timeout "$TEST_TIMEOUT" "$LODGE" "$@" < /dev/null > "$TMP/out" 2> "$TMP/err"
	fi
	STATUS=$?
	echo "  status $STATUS"
	if [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 143 ]; then
		echo "--- stdout (tail)"; tail -n 20 "$TMP/out"
		echo "--- stderr (tail)"; tail -n 20 "$TMP/err"
		fail "lodge timed out after ${TEST_TIMEOUT}s"
	fi
}

# with_asan CMD [ARGS...]: run CMD with LODGE set to the ASan+UBSan build
# (when it was built), a sanitizer report given an exit status of its own
# (86 ASan, 87 UBSan) so that none looks like a status the case expects.
with_asan() {
	wa_lodge=${LODGE_ASAN:-$ROOT/build-asan/lodge}
	[ -x "$wa_lodge" ] || return 0
	ASAN_OPTIONS=exitcode=86:detect_leaks=1
	UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
	export ASAN_OPTIONS UBSAN_OPTIONS
	wa_plain=$LODGE
	LODGE=$wa_lodge
	"$@"
	LODGE=$wa_plain
	unset ASAN_OPTIONS UBSAN_OPTIONS
}

show_output() {
	echo "--- stdout (tail)"; tail -n 30 "$TMP/out"
	echo "--- stderr (tail)"; tail -n 30 "$TMP/err"
}

expect_status() {
	if [ "$STATUS" -ne "$1" ]; then
		show_output
		fail "exit status $STATUS, expected $1"
	fi
}

expect_out() {
	if ! grep -E -q -- "$1" "$TMP/out"; then
		show_output
		fail "stdout lacks /$1/"
	fi
}

expect_no_out() {
	if grep -E -q -- "$1" "$TMP/out"; then
		show_output
		fail "stdout has /$1/"
	fi
}

expect_err() {
	if ! grep -E -q -- "$1" "$TMP/err"; then
		show_output
		fail "stderr lacks /$1/"
	fi
}

# expect_one_line_err: the error is exactly one line on stderr.
expect_one_line_err() {
	n=$(wc -l < "$TMP/err")
	if [ "$n" -ne 1 ]; then
		show_output
		fail "stderr has $n lines, expected one error line"
	fi
}
