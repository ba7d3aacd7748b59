# Live updates of a running VM through the API (Firecracker's PATCH
# /drives/{id}, PATCH /balloon/statistics). The virtio-blk guest runs its
# tests on a 4096-sector image of disk 0, then waits for a configuration
# change; lodge must refuse bad updates with one line and change nothing,
# then swap in an 8192-sector image of the same disk with a rate limiter:
# the guest sees the new capacity (configuration change interrupt), reads
# the new last sector, and its reads are slowed down. GET /vm/config shows
# the new values, and so does a snapshot taken then: the VM restored from it
# runs on with them. (In the KVM lab curl must be packed: tests/run passes
# --include /usr/bin/curl.)
command -v curl > /dev/null || fail "curl is not installed (in the lab: tests/lab/run --include /usr/bin/curl)"
SOCK="$TMP/api.sock"

. "$ROOT/tests/integration/api-lib.sh"

# expect_fault WORDS: the last answer is one fault_message line containing WORDS.
expect_fault() {
	grep -q "^{\"fault_message\":\"[^\"]*$1" "$TMP/resp" && [ "$(wc -l < "$TMP/resp")" -le 1 ] ||
		{ show_output; fail "fault lacks '$1': $(cat "$TMP/resp")"; }
}

# expect_config WORDS: GET /vm/config has WORDS.
expect_config() {
	expect_api GET /vm/config "" 200
	grep -q -- "$1" "$TMP/resp" || { show_output; fail "GET /vm/config lacks '$1': $(cat "$TMP/resp")"; }
}

"$GUESTS/blkimg" 4096 0 > "$TMP/small.img" || fail "blkimg failed"
"$GUESTS/blkimg" 8192 0 > "$TMP/big.img" || fail "blkimg failed"
mkdir "$TMP/dir"

start_api --id live-update --level Info
expect_api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/virtio-blk.elf\", \"boot_args\": \"sectors=4096 resize=8192 limited_reads=40 min_ms=1500\"}" 204
expect_api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
expect_api PUT /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$TMP/small.img\", \"is_root_device\": false, \"io_engine\": \"Async\"}" 204
expect_api PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 5}' 204
expect_api PUT /actions '{"action_type": "InstanceStart"}' 204
wait_out '^virtio-blk: waiting for a capacity change' 60 "the guest never waited for a new capacity"

# --- Bad updates: 400 with one line, the drive unchanged.
expect_api PATCH /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$TMP/nope.img\"}" 400
expect_fault "No such file or directory"
expect_api PATCH /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$TMP/dir\"}" 400
expect_fault "dir"
# lodge's own binary, running: it cannot be opened for writing (ETXTBSY), even by root.
expect_api PATCH /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$LODGE\"}" 400
expect_fault "Drive config error"
expect_api PATCH /drives/disk0 '{"drive_id": "disk0", "rate_limiter": {"ops": {"size": 10, "refill_time": 0}}}' 400
expect_fault "refill_time"
expect_api PATCH /drives/disk0 '{"drive_id": "disk0", "rate_limiter": {"ops": {"size": -1, "refill_time": 10}}}' 400
expect_fault "size"
expect_api PATCH /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$TMP/big.img\", \"rate_limiter\": {\"bytes\": {}}}" 400
expect_fault "bytes"
expect_api PATCH /drives/disk1 '{"drive_id": "disk1"}' 400
expect_fault "no drive 'disk1'"
expect_config "\"path_on_host\":\"$TMP/small.img\""
grep -q '"rate_limiter"' "$TMP/resp" && fail "a refused update left a rate limiter: $(cat "$TMP/resp")"
grep -q '^virtio-blk: configuration change' "$TMP/out" && { show_output; fail "the guest saw a change after refused updates"; }

# --- The balloon's statistics interval: a new one, not on/off.
expect_api PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' 400
expect_fault "cannot be enabled/disabled"
expect_api PATCH /balloon/statistics '{"stats_polling_interval_s": 1}' 204
expect_config '"stats_polling_interval_s":1'

# --- The new image and a limiter of 10 requests per second.
expect_api PATCH /drives/disk0 "{\"drive_id\": \"disk0\", \"path_on_host\": \"$TMP/big.img\", \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 1000}}}" 204
expect_config "\"path_on_host\":\"$TMP/big.img\""
grep -q '"rate_limiter":{"ops":{"size":10,' "$TMP/resp" || fail "GET /vm/config lacks the limiter: $(cat "$TMP/resp")"
# A snapshot now holds the new values: the restored VM opens big.img, polls
# statistics every second and is rate-limited (checked below).
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_file_path\": \"$TMP/vm.mem\"}" 204
expect_api PATCH /vm '{"state": "Resumed"}' 204
wait_lodge
expect_status 1
expect_out '^virtio-blk: configuration change: capacity 8192 sectors \(was 4096\)$'
expect_out '^virtio-blk: new capacity: last sector matches, the next one is IOERR$'
expect_out '^virtio-blk: 40 rate-limited reads took [0-9]+ ms$'
expect_out '^virtio-blk: all checks passed$'
expect_err 'virtio-blk disk0: now .*/big.img, 8192 sectors'

lodge_run --restore "$TMP/vm.state" --mem "$TMP/vm.mem"
expect_status 1
expect_out '^virtio-blk: 40 rate-limited reads took [0-9]+ ms$'
expect_out '^virtio-blk: all checks passed$'
true
