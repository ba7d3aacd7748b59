# needs: full-kvm  (QEMU's vsock device is vhost-vsock: KVM ioeventfds and /dev/vhost-vsock)
# The QEMU cross-check for the vsock guest, which the TCG-only QEMU checks
# (guest/scripts/qemu-check.sh) cannot do: the toolkit's vsock driver
# (guest/tests/virtio-vsock.c) under QEMU microvm with vhost-vsock-device on
# KVM, the host side an AF_VSOCK listener (vsock-tool listen) that echoes the
# guest's line. The same guest runs on lodge in guest-virtio-vsock.
qemu=$(command -v qemu-system-x86_64) || fail "no qemu-system-x86_64 (the lab packs it with --qemu)"
tool=$GUESTS/vsock-tool
[ -x "$tool" ] || fail "no $tool: make -C guest builds it"
if [ ! -c /dev/vhost-vsock ]; then
	modprobe vhost_vsock 2> "$TMP/modprobe.err" ||
		fail "no /dev/vhost-vsock and modprobe vhost_vsock failed: $(cat "$TMP/modprobe.err")"
fi
[ -c /dev/vhost-vsock ] || fail "no /dev/vhost-vsock after modprobe vhost_vsock"
VSOCK_TOOL_TIMEOUT=$TEST_TIMEOUT
export VSOCK_TOOL_TIMEOUT
"$tool" listen 1234 > "$TMP/listen.log" 2>&1 &
lpid=$!
n=0
until grep -q 'VSOCK-LISTENING 1234' "$TMP/listen.log" || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
# microvm with ACPI: the first -device sits on the last of 24 transports (GSI 47).
echo "+ qemu microvm, vhost-vsock-device guest-cid=7, virtio-vsock.elf"
timeout "$TEST_TIMEOUT" "$qemu" -M microvm,acpi=on -accel kvm -cpu host -m 128 -smp 1 \
	-nographic -nodefaults -no-user-config -display none -serial stdio -no-reboot \
	-L /usr/share/qemu -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-global virtio-mmio.force-legacy=false -device vhost-vsock-device,guest-cid=7 \
	-kernel "$GUESTS/virtio-vsock.elf" \
	-append "virtio_mmio.device=512@0xfeb02e00:47 cid=7 port=1234" \
	< /dev/null > "$TMP/out" 2> "$TMP/err"
STATUS=$?
kill $lpid 2> /dev/null
wait $lpid 2> /dev/null
expect_status 1
expect_out '^virtio-vsock: guest cid 7'
expect_out '^virtio-vsock: received: hello from lodge guest 7$'
expect_out '^virtio-vsock: all checks passed$'
grep -q 'VSOCK-ECHOED [1-9]' "$TMP/listen.log" || { cat "$TMP/listen.log"; fail "the host listener echoed nothing"; }
