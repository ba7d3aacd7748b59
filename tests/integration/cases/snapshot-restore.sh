# Snapshot and restore: the workload (ring-3 work, virtio-blk I/O in flight,
# LAPIC timer and blk interrupts) is paused mid-run and snapshotted through
# the API, later again with `lodge snapshot create`; the original VM resumes
# and finishes; new lodge processes restore
# the snapshot with each memory backend (file, lodge's userfaultfd, an
# external userfaultfd handler over Firecracker's handshake) and through PUT
# /snapshot/load, paused, then resumed. Every one ends with the result of an
# uninterrupted run, and the guest checks that its clock never went back.
. "$ROOT/tests/integration/api-lib.sh"
. "$ROOT/tests/integration/snapshot-lib.sh"

snap_reference
snap_boot
snap_take 4 Full full
# The command line's client of the API: a paused VM stays paused.
wait_out "^snapshot: phase 7 " 60 "the guest never reached phase 7"
expect_api PATCH /vm '{"state": "Paused"}' 204
cp "$TMP/disk.img" "$TMP/cli.img"
"$LODGE" snapshot create --api-sock "$SOCK" --state "$TMP/cli.state" --mem "$TMP/cli.mem" ||
	fail "lodge snapshot create failed"
expect_api GET / "" 200
grep -q '"state":"Paused"' "$TMP/resp" || fail "lodge snapshot create resumed a VM it had not paused"
"$LODGE" snapshot create --api-sock "$SOCK" --state "$TMP/no/such/dir" --mem "$TMP/x.mem" 2> "$TMP/cli.err" &&
	fail "lodge snapshot create into a missing directory succeeded"
grep -q 'No such file or directory' "$TMP/cli.err" || { cat "$TMP/cli.err"; fail "the client's error does not say why"; }
expect_api PATCH /vm '{"state": "Resumed"}' 204
wait_lodge
[ "$STATUS" -eq 1 ] || { show_output; fail "the snapshotted VM ended with $STATUS"; }
expect_result "$TMP/out" "the snapshotted VM, resumed"
lodge_cmd snapshot info "$TMP/full.state"
expect_status 0
expect_out '^memory: full, 67108864 bytes$'

cp "$TMP/cli.img" "$TMP/r.img"
lodge_run --restore "$TMP/cli.state" --mem "$TMP/cli.mem" --drive-override "d0=$TMP/r.img"
expect_status 1
expect_result "$TMP/out" "restored from lodge snapshot create"

for backend in file uffd; do
	cp "$TMP/full.img" "$TMP/r.img"
	lodge_run --restore "$TMP/full.state" --mem "$TMP/full.mem" --mem-backend $backend \
		--drive-override "d0=$TMP/r.img"
	expect_status 1
	expect_result "$TMP/out" "restored, $backend backend"
done

# An external page-fault handler gets the userfaultfd (Firecracker's protocol).
handler=$ROOT/build/tests/tools/uffd-handler
[ -x "$handler" ] || fail "no $handler (ninja -C build)"
cp "$TMP/full.img" "$TMP/r.img"
"$handler" "$TMP/uffd.sock" "$TMP/full.mem" 2> "$TMP/handler.err" &
hpid=$!
n=0
until [ -S "$TMP/uffd.sock" ]; do
	n=$((n + 1)); [ $n -lt 500 ] || { kill $hpid; fail "the handler's socket never appeared"; }
	sleep 0.01
done
lodge_run --restore "$TMP/full.state" --mem-backend "uffd:$TMP/uffd.sock" \
	--drive-override "d0=$TMP/r.img"
wait $hpid
hst=$?
expect_status 1
expect_result "$TMP/out" "restored, external userfaultfd handler"
[ $hst -eq 0 ] || { cat "$TMP/handler.err"; fail "the handler ended with $hst"; }
grep -q 'served [1-9][0-9]* pages' "$TMP/handler.err" ||
	{ cat "$TMP/handler.err"; fail "the handler served no page"; }
grep 'served' "$TMP/handler.err"

# Through the API: loaded paused, then resumed.
cp "$TMP/full.img" "$TMP/r.img"
start_api
expect_api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/full.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$TMP/full.mem\"}, \"resume_vm\": false, \"lodge_drive_overrides\": [{\"drive_id\": \"d0\", \"path_on_host\": \"$TMP/r.img\"}]}" 204
expect_api GET / "" 200
grep -q '"state":"Paused"' "$TMP/resp" || fail "a load without resume_vm is not paused"
expect_api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/full.state\", \"mem_file_path\": \"$TMP/full.mem\"}" 400
expect_api GET /vm/config "" 200
grep -q "\"path_on_host\":\"$TMP/r.img\"" "$TMP/resp" || fail "GET /vm/config lacks the overridden drive"
expect_api PATCH /vm '{"state": "Resumed"}' 204
wait_lodge
[ "$STATUS" -eq 1 ] || { show_output; fail "the VM loaded through the API ended with $STATUS"; }
expect_result "$TMP/out" "loaded through the API"
