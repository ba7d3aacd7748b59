# Helpers for cases that drive `lodge --api-sock` with curl (sourced after
# lib.sh; POSIX sh). Set SOCK before start_api.

# api METHOD PATH [BODY]: HTTP status in CODE, body in $TMP/resp.
api() {
	if [ -n "${3:-}" ]; then
		CODE=$(curl -s -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
			-H 'Accept: application/json' -H 'Content-Type: application/json' \
			-d "$3" "http://localhost$2")
	else
		CODE=$(curl -s -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
			-H 'Accept: application/json' "http://localhost$2")
	fi
	echo "+ $1 $2 ${3:-} -> $CODE $(cat "$TMP/resp" 2>/dev/null)"
}

# expect_api METHOD PATH BODY CODE
expect_api() {
	api "$1" "$2" "$3"
	if [ "$CODE" != "$4" ]; then
		show_output
		fail "$1 $2: HTTP $CODE, expected $4: $(cat "$TMP/resp")"
	fi
}

# start_api [ARGS...]: lodge --api-sock in the background (PID), stdin from $TMP/in if a FIFO.
start_api() {
	rm -f "$SOCK"
	if [ -p "$TMP/in" ]; then
		"$LODGE" --api-sock "$SOCK" "$@" < "$TMP/in" > "$TMP/out" 2> "$TMP/err" &
	else
		"$LODGE" --api-sock "$SOCK" "$@" < /dev/null > "$TMP/out" 2> "$TMP/err" &
	fi
	PID=$!
	n=0
	until [ -S "$SOCK" ]; do
		n=$((n + 1))
		[ $n -lt 500 ] || { kill -KILL $PID; show_output; fail "the API socket never appeared"; }
		sleep 0.01
	done
}

# wait_lodge: wait for lodge (at most TEST_TIMEOUT s); status in STATUS.
wait_lodge() {
	( sleep "$TEST_TIMEOUT"; kill -KILL $PID 2>/dev/null ) &
	watchdog=$!
	wait $PID
	STATUS=$?
	kill $watchdog 2>/dev/null
	[ "$STATUS" -ne 137 ] || { show_output; fail "lodge did not end within ${TEST_TIMEOUT}s"; }
}


# wait_out REGEX SECONDS WHAT: until lodge's stdout ($TMP/out) has a line
# matching REGEX; fails (killing lodge) with "WHAT" after SECONDS or when
# lodge (PID) has ended first.
wait_out() {
	wo_n=0
	until grep -q -- "$1" "$TMP/out" 2> /dev/null; do
		wo_n=$((wo_n + 1))
		if [ $wo_n -ge $(($2 * 10)) ] || ! kill -0 $PID 2> /dev/null; then
			kill -KILL $PID 2> /dev/null
			show_output
			fail "$3"
		fi
		sleep 0.1
	done
}
