# VMGenID: every restore writes a new generation ID and notifies the guest
# through the ACPI GED interrupt. The vmgenid guest prints its ID, waits for
# one notification (snapshot taken then), rereads the ID on the interrupt
# (it fails when the ID did not change): two restores of one snapshot must
# each print a new ID, different from the original and from each other.
. "$ROOT/tests/integration/api-lib.sh"
SOCK=$TMP/api.sock
cat > "$TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/vmgenid.elf", "boot_args": "notifies=1"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
JSON
start_api --config-file "$TMP/vm.json"
wait_out '^vmgenid: waiting for 1 notifications' 30 "the guest never got ready"
id0=$(sed -n 's/^vmgenid: id=\([0-9a-f]*\)$/\1/p' "$TMP/out")
[ -n "$id0" ] || { show_output; fail "the guest printed no ID"; }
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_file_path\": \"$TMP/vm.mem\"}" 204
kill -TERM $PID
wait_lodge

ids=$id0
for i in 1 2; do
	lodge_run --restore "$TMP/vm.state" --mem "$TMP/vm.mem"
	expect_status 1
	id=$(sed -n 's/^vmgenid: notify id=\([0-9a-f]*\)$/\1/p' "$TMP/out")
	[ -n "$id" ] || { show_output; fail "restore $i: no notification reached the guest"; }
	echo "$ids" | grep -qx "$id" && fail "restore $i: the generation ID $id is not new"
	echo "  restore $i: generation ID $id (was $id0)"
	ids="$ids
$id"
done
