# Firecracker's getting-started sequence against `lodge --api-sock`, with
# plain curl over the Unix socket: boot-source, machine-config, a drive,
# InstanceStart; the guest runs and lodge ends with it. Then PATCH /vm pauses
# and resumes a running guest, SIGTERM ends one, and a config file with
# Firecracker's logger and metrics sections boots with --no-api. (In the KVM
# lab curl must be packed: tests/run passes --include /usr/bin/curl.)
command -v curl > /dev/null || fail "curl is not installed (in the lab: tests/lab/run --include /usr/bin/curl)"
SOCK="$TMP/api.sock"

. "$ROOT/tests/integration/api-lib.sh"

# --- 1. The getting-started sequence: the hello guest boots, prints, ends.
dd if=/dev/zero of="$TMP/rootfs.img" bs=1024 count=1024 2> /dev/null
start_api --id getting-started
expect_api GET / "" 200
grep -q '"state":"Not started"' "$TMP/resp" || fail "GET / before start: $(cat "$TMP/resp")"
expect_api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"boot_args\": \"greeting=api\"}" 204
expect_api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
expect_api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TMP/rootfs.img\", \"is_root_device\": true, \"is_read_only\": false}" 204
expect_api PUT /actions '{"action_type": "InstanceStart"}' 204
wait_lodge
expect_status 1
expect_out '^hello from the lodge test guest$'
expect_out '^cmdline: greeting=api'
[ -e "$SOCK" ] && fail "the API socket is still there after lodge ended"

# --- 2. Pause and resume a running guest: input sent while paused is read only after.
mkfifo "$TMP/in"
exec 3<> "$TMP/in"      # hold the FIFO open: the guest waits for a line
start_api --id pause-resume
expect_api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/serial-input.elf\", \"boot_args\": \"\"}" 204
expect_api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
expect_api PUT /actions '{"action_type": "InstanceStart"}' 204
wait_out '^ready' 60 "guest never said ready"
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api GET / "" 200
grep -q '"state":"Paused"' "$TMP/resp" || fail "GET / while paused: $(cat "$TMP/resp")"
expect_api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 400
grep -q 'after starting the microVM' "$TMP/resp" || fail "pre-boot PUT after start: $(cat "$TMP/resp")"
printf 'sent while paused\n' >&3
sleep 1
grep -q '^got:' "$TMP/out" && { show_output; fail "the guest ran while paused"; }
expect_api PATCH /vm '{"state": "Resumed"}' 204
wait_lodge      # the guest reads the line at once and ends
expect_status 1
expect_out '^got: sent while paused$'

# --- 3. SIGTERM ends a running VM cleanly (status 10) and removes the socket.
start_api --id sigterm
expect_api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/serial-input.elf\", \"boot_args\": \"\"}" 204
expect_api PUT /actions '{"action_type": "InstanceStart"}' 204
wait_out '^ready' 60 "guest never said ready"
kill -TERM $PID
wait_lodge
exec 3>&-
expect_status 10
[ -e "$SOCK" ] && fail "the API socket is still there after SIGTERM"

# --- 4. A Firecracker config file with logger and metrics, without the API.
cat > "$TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/hello.elf", "boot_args": "from-config-file" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "smt": false },
  "drives": [],
  "logger": { "log_path": "$TMP/fc.log", "level": "Info", "show_level": true },
  "metrics": { "metrics_path": "$TMP/fc.metrics" }
}
JSON
lodge_cmd --no-api --config-file "$TMP/vm.json" --id from-file
expect_status 1
expect_out 'from-config-file'
grep -q '\[from-file:.*:INFO\] vm: exit with status 1' "$TMP/fc.log" ||
	{ cat "$TMP/fc.log"; fail "the log file lacks Firecracker-format lines"; }
grep -q '"vcpu":{"exit_io":[1-9]' "$TMP/fc.metrics" ||
	{ cat "$TMP/fc.metrics"; fail "the metrics file lacks the vCPU exits"; }
# KVM's per-reason counters are there; kvm_pvm counts only the total, so
# the check that they were read is a non-zero total.
grep -q '"kvm_vcpu":{.*"io_exits":[0-9]' "$TMP/fc.metrics" &&
	grep -q '"kvm_vcpu":{.*"exits":[1-9]' "$TMP/fc.metrics" ||
	{ cat "$TMP/fc.metrics"; fail "the metrics file lacks KVM's per-reason exit counts"; }
true
