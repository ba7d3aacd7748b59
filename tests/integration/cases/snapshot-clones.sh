# Clones: 20 lodge processes restore one snapshot at once, each with its own
# copy of the disk as it was at the snapshot (--drive-override); each ends
# with the result of an uninterrupted run. They share the memory file's
# page cache (MAP_PRIVATE): each clone's resident guest memory is reported.
. "$ROOT/tests/integration/api-lib.sh"
. "$ROOT/tests/integration/snapshot-lib.sh"

snap_reference
snap_boot
snap_take 8 Full base
kill -TERM $PID
wait_lodge

pids=""
for i in $(seq 1 20); do
	cp "$TMP/base.img" "$TMP/c$i.img"
	LODGE_REPORT_RSS=1 timeout "$TEST_TIMEOUT" "$LODGE" run --restore "$TMP/base.state" \
		--mem "$TMP/base.mem" --drive-override "d0=$TMP/c$i.img" \
		> "$TMP/c$i.out" 2> "$TMP/c$i.err" < /dev/null &
	pids="$pids $!"
done
i=0
for p in $pids; do
	i=$((i + 1))
	wait $p
	st=$?
	[ $st -eq 1 ] || { tail -n 5 "$TMP/c$i.out" "$TMP/c$i.err"; fail "clone $i ended with $st"; }
	expect_result "$TMP/c$i.out" "clone $i"
done
# The guest's resident pages of one clone: far less than its 64 MiB.
grep -h 'rss:' "$TMP/c1.err"
g=$(sed -n 's/.* guest_kib=\([0-9]*\).*/\1/p' "$TMP/c1.err")
[ -n "$g" ] && [ "$g" -lt 32768 ] || fail "clone 1 has ${g:-?} KiB of guest memory resident"
