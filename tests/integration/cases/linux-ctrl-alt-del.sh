# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Firecracker's SendCtrlAltDel: Linux boots through the API, finds the
# i8042 (PNP0303 in the DSDT) and its keyboard with its own drivers, and
# waits; PUT /actions SendCtrlAltDel types Ctrl+Alt+Del on that keyboard,
# Linux restarts (its default for Ctrl+Alt+Del when init does not ask for
# the signal), and lodge ends with status 0 as for any reboot.
. "$LINUX/case-lib.sh"
. "$ROOT/tests/integration/api-lib.sh"
command -v curl > /dev/null || fail "curl is not installed (in the lab: tests/lab/run --include /usr/bin/curl)"
SOCK="$TMP/api.sock"
cmdline="console=ttyS0 reboot=k panic=-1 lodge.expect.cpus=1 lodge.expect.mem=256 lodge.test.wait=1"
LINUX_CMDLINE=$cmdline
start_api
expect_api PUT /boot-source "{\"kernel_image_path\": \"$LINUX/vmlinux\", \"initrd_path\": \"$LINUX/initrd.cpio.gz\", \"boot_args\": \"$cmdline\"}" 204
expect_api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' 204
expect_api PUT /actions '{"action_type": "InstanceStart"}' 204
wait_out 'LINUX-WAITING' "$TEST_TIMEOUT" "Linux never reached LINUX-WAITING"
expect_api PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
wait_lodge
expect_status 0
linux_expect_ok
expect_out 'serio: i8042 KBD port at 0x60,0x64 irq [0-9]+'
expect_out 'input: AT Translated Set 2 keyboard'
expect_out 'reboot: Restarting system'
[ ! -S "$SOCK" ] || fail "the API socket $SOCK is still there"
