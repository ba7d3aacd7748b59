# Helpers for the snapshot cases (sourced after lib.sh and api-lib.sh; POSIX
# sh). The workload is guest/build/snapshot.elf: ring-3 work and virtio-blk
# I/O in phases, a result that depends on nothing but its parameters.

# Sized for both hosts: ~2 s natively, ~3 s in the KVM lab; a phase lasts
# long enough (~0.2 s) for the API calls of a snapshot to land inside the run.
SNAP_ARGS="rounds=12 work=100M"
SOCK=$TMP/api.sock

# snap_config FILE [MACHINE_EXTRA]: a config booting the workload on $TMP/disk.img (drive d0).
snap_config() {
	cat > "$1" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/snapshot.elf", "boot_args": "$SNAP_ARGS"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64${2:+, $2}},
 "drives": [{"drive_id": "d0", "path_on_host": "$TMP/disk.img", "is_root_device": false,
             "is_read_only": false}]}
JSON
}

# snap_reference: an uninterrupted run; its result line in REF.
snap_reference() {
	truncate -s 1M "$TMP/ref.img"
	lodge_run --kernel "$GUESTS/snapshot.elf" --cmdline "$SNAP_ARGS" --memory 64 \
		--drive "$TMP/ref.img,drive_id=d0"
	expect_status 1
	REF=$(grep '^snapshot: result=' "$TMP/out")
	[ -n "$REF" ] || { show_output; fail "the reference run printed no result"; }
	echo "  reference: $REF"
}

# snap_boot [MACHINE_EXTRA]: lodge --api-sock running the workload on a fresh disk (PID).
snap_boot() {
	rm -f "$TMP/disk.img"
	truncate -s 1M "$TMP/disk.img"
	snap_config "$TMP/vm.json" "${1:-}"
	start_api --config-file "$TMP/vm.json"
}

# snap_take PHASE TYPE NAME: at phase PHASE pause, take a TYPE snapshot into
# $TMP/NAME.{state,mem}, keep the disk as it was then in $TMP/NAME.img, resume.
snap_take() {
	wait_out "^snapshot: phase $1 " 60 "the guest never reached phase $1"
	expect_api PATCH /vm '{"state": "Paused"}' 204
	expect_api PUT /snapshot/create "{\"snapshot_type\": \"$2\", \"snapshot_path\": \"$TMP/$3.state\", \"mem_file_path\": \"$TMP/$3.mem\"}" 204
	cp "$TMP/disk.img" "$TMP/$3.img"
	expect_api PATCH /vm '{"state": "Resumed"}' 204
}

# expect_result FILE WHAT: FILE has the reference's result line.
expect_result() {
	got=$(grep '^snapshot: result=' "$1")
	[ "$got" = "$REF" ] || { tail -n 5 "$1"; fail "$2: '${got:-no result}', expected '$REF'"; }
	echo "  $2: same result"
}
