# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# virtio-vsock with Linux's vmw_vsock_virtio_transport, the host side as in
# Firecracker: lodge listens on $TMP/v.sock; a host process connects,
# writes "CONNECT 5000\n", reads "OK <port>\n" and echoes a line and 1 MiB
# through the guest's listener (credit flow control both ways); a CONNECT to
# a guest port nobody listens on is closed without "OK"; the guest connects
# to host port 6000 (the Unix socket $TMP/v.sock_6000) and trades a line,
# and to port 6001 (no socket) and is refused. lodge runs in the background
# while this script plays the host; vsock-tool (tests/linux/vsock-tool.c)
# is both ends.
. "$LINUX/case-lib.sh"
tool=$LINUX/vsock-tool
sock=$TMP/v.sock
[ -x "$tool" ] || fail "no $tool: run tests/linux/prepare"
VSOCK_TOOL_TIMEOUT=$TEST_TIMEOUT
export VSOCK_TOOL_TIMEOUT
{
	echo "hello through vsock"
	head -c $((1024 * 1024)) /dev/urandom
} > "$TMP/blob"

# The host listener for the guest's connection to port 6000.
"$tool" uds-listen "${sock}_6000" "$TMP/from-guest" "hello from the host" > "$TMP/listen.log" 2>&1 &
lpid=$!

LINUX_CMDLINE="console=ttyS0 reboot=k panic=-1 lodge.expect.cpus=1 lodge.expect.mem=256 lodge.modules=virtio_mmio,vmw_vsock_virtio_transport lodge.test.script=vsock lodge.vsock.cid=3 lodge.vsock.listen=5000 lodge.vsock.host=6000 lodge.vsock.refused=6001"
echo "+ lodge run --kernel vmlinux ... --vsock $sock,guest_cid=3 (in the background)"
"$LODGE" run --kernel "$LINUX/vmlinux" --initrd "$LINUX/initrd.cpio.gz" \
	--cpus 1 --memory 256 --serial stdio --cmdline "$LINUX_CMDLINE" \
	--vsock "$sock,guest_cid=3" --log-level info < /dev/null > "$TMP/out" 2> "$TMP/err" &
pid=$!
( sleep "$TEST_TIMEOUT"; kill -KILL $pid 2> /dev/null ) &
watchdog=$!

stop() {
	kill -KILL $pid $lpid $watchdog 2> /dev/null
	show_output
	fail "$*"
}

n=0
until grep -q 'VSOCK-LISTENING 5000' "$TMP/out" 2> /dev/null; do
	n=$((n + 1))
	if [ $n -ge $((TEST_TIMEOUT * 5)) ] || ! kill -0 $pid 2> /dev/null; then
		stop "the guest never listened on vsock port 5000"
	fi
	sleep 0.2
done
[ -S "$sock" ] || stop "lodge did not create the socket $sock"

# No listener on guest port 5999: the guest's RST closes the host socket without "OK".
echo "+ vsock-tool uds-connect $sock 5999 (expect refusal)"
if "$tool" uds-connect "$sock" 5999 /dev/null "$TMP/none" > "$TMP/refused.log" 2>&1; then
	cat "$TMP/refused.log"
	stop "CONNECT 5999 was answered with OK"
fi
grep -q 'no OK' "$TMP/refused.log" || { cat "$TMP/refused.log"; stop "CONNECT 5999 did not end as expected"; }

echo "+ vsock-tool uds-connect $sock 5000 blob echo"
if ! "$tool" uds-connect "$sock" 5000 "$TMP/blob" "$TMP/echo" > "$TMP/connect.log" 2>&1; then
	cat "$TMP/connect.log"
	stop "the host-initiated connection to port 5000 failed"
fi
cat "$TMP/connect.log"
grep -Eq '^OK [0-9]+$' "$TMP/connect.log" || stop "no 'OK <port>' line from lodge"
cmp "$TMP/blob" "$TMP/echo" > /dev/null 2>&1 ||
	stop "the echo ($(wc -c < "$TMP/echo") bytes) differs from what was sent ($(wc -c < "$TMP/blob") bytes)"

wait $pid
STATUS=$?
kill $watchdog 2> /dev/null
echo "  status $STATUS"
wait $lpid
lstatus=$?
cat "$TMP/listen.log"
LINUX_CMDLINE="$LINUX_CMDLINE virtio_mmio.device=4K@0xd0000000:5"
expect_status 0
linux_expect_ok
expect_out 'VSOCK-INFO cid=3'
expect_out "VSOCK-ECHOED $(wc -c < "$TMP/blob")"
expect_out 'VSOCK-INFO echo on port 5000 done'
expect_out "VSOCK-INFO host port 6000 replied 'hello from the host'"
expect_out 'VSOCK-INFO host port 6001 refused'
[ "$lstatus" -eq 0 ] || fail "the host listener on ${sock}_6000 failed (status $lstatus)"
[ "$(cat "$TMP/from-guest")" = "hello from the guest" ] ||
	fail "the host listener got '$(cat "$TMP/from-guest")', expected 'hello from the guest'"
[ ! -e "$sock" ] || fail "lodge left $sock behind"
expect_err 'virtio-vsock: connections: 1 from the host, 1 from the guest, 2 refused, 0 reset'
rm -f "${sock}_6000" "$TMP/blob" "$TMP/echo" "$TMP/none"

# Set-up errors: a path that exists and is not a socket, one another process listens on.
: > "$TMP/not-a-socket"
lodge_run --kernel "$LINUX/vmlinux" --vsock "$TMP/not-a-socket"
expect_status 2
expect_one_line_err
expect_err "vsock: $TMP/not-a-socket: exists and is not a socket"
"$tool" uds-listen "$TMP/busy.sock" "$TMP/busy.out" "" > /dev/null 2>&1 &
bpid=$!
n=0
while [ ! -S "$TMP/busy.sock" ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
lodge_run --kernel "$LINUX/vmlinux" --vsock "$TMP/busy.sock"
kill $bpid 2> /dev/null
wait $bpid 2> /dev/null
expect_status 2
expect_one_line_err
expect_err "vsock: $TMP/busy.sock: another process listens on it"
rm -f "$TMP/not-a-socket" "$TMP/busy.sock" "$TMP/busy.out"
