# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# A real Linux guest across a snapshot: Linux (1 vCPU, its own virtio-blk
# driver, kvmclock, the LAPIC's TSC-deadline timer) runs a loop of disk
# writes, read-backs and sleeps (tests/linux/scripts/snapshot.sh); the VM is
# paused and snapshotted mid-loop through the API and killed; a new lodge
# restores it with a copy of the disk as it was: the loop goes on where it
# was, every block reads back right, uptime never goes back, and Linux powers
# off (status 0). Then a second restore of the same snapshot, through
# PUT /snapshot/load, does the same.
. "$LINUX/case-lib.sh"
. "$ROOT/tests/integration/api-lib.sh"
SOCK=$TMP/api.sock
truncate -s 4M "$TMP/disk.img"
cmdline="console=ttyS0 reboot=k panic=-1 lodge.expect.cpus=1 lodge.expect.mem=256 lodge.modules=virtio_mmio,virtio_blk lodge.test.script=snapshot lodge.snap.rounds=16"
cat > "$TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$LINUX/vmlinux", "initrd_path": "$LINUX/initrd.cpio.gz",
                 "boot_args": "$cmdline"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "drives": [{"drive_id": "vda", "path_on_host": "$TMP/disk.img", "is_root_device": false,
             "is_read_only": false}]}
JSON
start_api --config-file "$TMP/vm.json"
wait_out 'SNAP-ROUND 3 ' "$TEST_TIMEOUT" "Linux never reached round 3"
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_file_path\": \"$TMP/vm.mem\"}" 204
cp "$TMP/disk.img" "$TMP/snap.img"
kill -TERM $PID
wait_lodge
before=$(grep -a -c 'SNAP-ROUND' "$TMP/out")
echo "  snapshot after $before rounds"

# check_restored WHAT: the restored Linux finished the loop and powered off.
check_restored() {
	expect_status 0
	grep -a -q 'SNAP-DONE rounds=16' "$TMP/out" || { show_output; fail "$1: the loop did not finish"; }
	reason=$(grep -a "LINUX-FAIL" "$TMP/out" | head -n 1 | tr -d "\r" | sed "s/.*LINUX-FAIL //")
	[ -z "$reason" ] || { show_output; fail "$1: guest /init: $reason"; }
	expect_out 'LINUX-OK cpus=1'
	grep -a -q 'SNAP-READY' "$TMP/out" && fail "$1: the guest started over instead of going on"
	echo "  $1: $(grep -a -c 'SNAP-ROUND' "$TMP/out") more rounds, then power-off"
}
cp "$TMP/snap.img" "$TMP/r1.img"
lodge_run --restore "$TMP/vm.state" --mem "$TMP/vm.mem" --drive-override "vda=$TMP/r1.img"
check_restored "restore from the command line"
cp "$TMP/snap.img" "$TMP/r2.img"
start_api
expect_api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$TMP/vm.mem\"}, \"resume_vm\": true, \"lodge_drive_overrides\": [{\"drive_id\": \"vda\", \"path_on_host\": \"$TMP/r2.img\"}]}" 204
wait_lodge
check_restored "restore through the API"
