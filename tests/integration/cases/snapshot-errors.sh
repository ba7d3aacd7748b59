# Bad snapshot files and failing snapshot writes. A corrupted, truncated,
# version-mismatched or foreign state file and a wrong-size memory file:
# a clear one-line error, status 2, no guest output. A snapshot onto an
# unwritable path or a full file system: 400 with the cause, the VM keeps
# running (and finishes right), an earlier snapshot at the path is intact
# and no temporary file is left behind.
. "$ROOT/tests/integration/api-lib.sh"
. "$ROOT/tests/integration/snapshot-lib.sh"

snap_reference
snap_boot
snap_take 2 Full good

# Failing writes while the VM runs on: pause for each attempt.
cp "$TMP/good.state" "$TMP/good.state.orig"
cp "$TMP/good.mem" "$TMP/good.mem.orig"
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/good.state\", \"mem_file_path\": \"$TMP/no/such/dir/x.mem\"}" 400
grep -q 'No such file or directory' "$TMP/resp" || fail "the refusal does not name the cause"
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/no/such/dir/x.state\", \"mem_file_path\": \"$TMP/good.mem\"}" 400
mkdir "$TMP/full"
mount -t tmpfs -o size=64k tmpfs "$TMP/full" || fail "cannot mount a small tmpfs for the full-disk check"
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/full/vm.state\", \"mem_file_path\": \"$TMP/full/vm.mem\"}" 400
grep -q 'No space left on device' "$TMP/resp" || { umount "$TMP/full"; fail "the refusal does not say the disk is full"; }
left=$(ls -A "$TMP/full")
umount "$TMP/full"
[ -z "$left" ] || fail "a failed snapshot left files behind: $left"
cmp -s "$TMP/good.state" "$TMP/good.state.orig" || fail "a failed snapshot changed the earlier state file"
cmp -s "$TMP/good.mem" "$TMP/good.mem.orig" || fail "a failed snapshot changed the earlier memory file"
ls -A "$TMP" | grep -q '\.tmp-' && fail "temporary files left: $(ls -A "$TMP" | grep '\.tmp-')"
expect_api PATCH /vm '{"state": "Resumed"}' 204
wait_lodge
[ "$STATUS" -eq 1 ] || { show_output; fail "the VM ended with $STATUS after the failed snapshots"; }
expect_result "$TMP/out" "the VM after failed snapshots"
# restore_fails STATE MEM REGEX: lodge refuses with a message matching REGEX.
restore_fails() {
	lodge_run --restore "$1" --mem "$2" --drive-override "d0=$TMP/good.img"
	expect_status 2
	grep -q -E -- "$3" "$TMP/err" || { show_output; fail "no '$3' in the error"; }
	[ "$(wc -l < "$TMP/err")" -eq 1 ] || { show_output; fail "the error is not one line"; }
	[ ! -s "$TMP/out" ] || { show_output; fail "the guest ran"; }
	echo "  refused: $(cat "$TMP/err")"
}

# bad_files: every kind of bad file is refused.
bad_files() {
	# One byte changed in the middle of a section: its checksum catches it.
	cp "$TMP/good.state" "$TMP/bad.state"
	printf '\377' | dd of="$TMP/bad.state" bs=1 seek=2000 conv=notrunc 2> /dev/null
	restore_fails "$TMP/bad.state" "$TMP/good.mem" 'checksum mismatch'
	head -c 5000 "$TMP/good.state" > "$TMP/bad.state"
	restore_fails "$TMP/bad.state" "$TMP/good.mem" 'truncated'
	cp "$TMP/good.state" "$TMP/bad.state"
	printf '\002' | dd of="$TMP/bad.state" bs=1 seek=8 conv=notrunc 2> /dev/null
	restore_fails "$TMP/bad.state" "$TMP/good.mem" 'format version 2, this lodge reads 1'
	cp "$TMP/good.state" "$TMP/bad.state"
	printf '\003' | dd of="$TMP/bad.state" bs=1 seek=12 conv=notrunc 2> /dev/null
	restore_fails "$TMP/bad.state" "$TMP/good.mem" 'architecture'
	restore_fails "$GUESTS/hello.elf" "$TMP/good.mem" 'not a lodge snapshot'
	head -c 1048576 "$TMP/good.mem" > "$TMP/short.mem"
	restore_fails "$TMP/good.state" "$TMP/short.mem" 'wrong or truncated'
	restore_fails "$TMP/good.state" "$TMP/nonexistent.mem" 'No such file'
}
# The ASan build first (a sanitizer report must not look like status 2), then lodge.
with_asan bad_files
bad_files

# The earlier snapshot still restores.
lodge_run --restore "$TMP/good.state" --mem "$TMP/good.mem" --drive-override "d0=$TMP/good.img"
expect_status 1
expect_result "$TMP/out" "the earlier snapshot"
