# Diff snapshots: with track_dirty_pages, a full snapshot at phase 3 and
# diff snapshots at phases 6 and 9 (only the pages written in between:
# smaller files); `lodge snapshot merge` applies the diffs onto the base,
# and the merged memory with the last diff's state ends with the result of
# an uninterrupted run. A diff without dirty tracking is refused.
. "$ROOT/tests/integration/api-lib.sh"
. "$ROOT/tests/integration/snapshot-lib.sh"

snap_reference
snap_boot '"track_dirty_pages": true'
snap_take 3 Full base
snap_take 6 Diff d1
snap_take 9 Diff d2
kill -TERM $PID
wait_lodge
for f in base d1 d2; do
	echo "  $f.mem: $(du -k "$TMP/$f.mem" | cut -f1) KiB allocated of $(stat -c %s "$TMP/$f.mem") bytes"
done
[ "$(du -k "$TMP/d1.mem" | cut -f1)" -lt "$(du -k "$TMP/base.mem" | cut -f1)" ] ||
	fail "the diff snapshot's memory file is not smaller than the full one's"

cp "$TMP/base.mem" "$TMP/merged.mem"
lodge_cmd snapshot merge "$TMP/merged.mem" "$TMP/d1.mem"
expect_status 0
lodge_cmd snapshot merge "$TMP/merged.mem" "$TMP/d2.mem"
expect_status 0
lodge_run --restore "$TMP/d2.state" --mem "$TMP/merged.mem" --drive-override "d0=$TMP/d2.img"
expect_status 1
expect_result "$TMP/out" "restored from base + d1 + d2"
# The first diff alone on the base: the VM as it was at phase 6.
cp "$TMP/base.mem" "$TMP/m1.mem"
lodge_cmd snapshot merge "$TMP/m1.mem" "$TMP/d1.mem"
lodge_run --restore "$TMP/d1.state" --mem "$TMP/m1.mem" --drive-override "d0=$TMP/d1.img"
expect_status 1
expect_result "$TMP/out" "restored from base + d1"

# Without dirty tracking there is no diff.
snap_boot
wait_out "^snapshot: phase 2 " 60 "the guest never reached phase 2"
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$TMP/x.state\", \"mem_file_path\": \"$TMP/x.mem\"}" 400
grep -q 'dirty page tracking' "$TMP/resp" || fail "the refusal does not say why"
kill -TERM $PID
wait_lodge
