# SIGTERM ends a running VM cleanly with status 10. (SIGINT takes the same
# path; a non-interactive shell starts background jobs with SIGINT ignored,
# which lodge respects, so only SIGTERM can be sent from here.)
mkfifo "$TMP/in"
exec 3<>"$TMP/in"       # hold the FIFO open so the guest waits for input forever
"$LODGE" run --kernel "$GUESTS/serial-input.elf" --memory 64 < "$TMP/in" > "$TMP/out" 2> "$TMP/err" &
pid=$!
n=0
until grep -q '^ready' "$TMP/out" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 600 ] || { kill -KILL $pid; fail "guest never said ready"; }
	sleep 0.1
done
( sleep 60; kill -KILL $pid 2>/dev/null ) &
watchdog=$!
kill -TERM $pid
wait $pid
STATUS=$?
kill $watchdog 2>/dev/null
exec 3>&-
expect_status 10
kill -0 $pid 2>/dev/null && fail "lodge still running after SIGTERM"
true
