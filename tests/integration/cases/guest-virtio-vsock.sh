# The guest toolkit's own vsock driver (guest/tests/virtio-vsock.c) against
# lodge's virtio-vsock, host side as in Firecracker: the guest (CID 7)
# connects to host port 1234, which lodge turns into a connection to the
# Unix socket $TMP/v.sock_1234 where vsock-tool listens; the line the guest
# sends arrives there and the host's reply reaches the guest. Then the same
# with EVENT_IDX and indirect descriptors off, polled.
tool=$GUESTS/vsock-tool
[ -x "$tool" ] || fail "no $tool: make -C guest builds it"
VSOCK_TOOL_TIMEOUT=$TEST_TIMEOUT
export VSOCK_TOOL_TIMEOUT

for opts in "" "event_idx=0 indirect=0 poll=1"; do
	rm -f "$TMP/v.sock" "$TMP/v.sock_1234" "$TMP/from-guest"
	"$tool" uds-listen "$TMP/v.sock_1234" "$TMP/from-guest" "hello from the host" \
		> "$TMP/listen.log" 2>&1 &
	lpid=$!
	n=0
	while [ ! -S "$TMP/v.sock_1234" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	lodge_run --kernel "$GUESTS/virtio-vsock.elf" --memory 64 --log-level info \
		--vsock "$TMP/v.sock,guest_cid=7" \
		--cmdline "cid=7 port=1234 $opts"
	wait $lpid
	lstatus=$?
	expect_status 1
	expect_out '^virtio-vsock: guest cid 7'
	expect_out '^virtio-vsock: received: hello from the host$'
	expect_out '^virtio-vsock: all checks passed$'
	[ $lstatus -eq 0 ] || { cat "$TMP/listen.log"; fail "the host listener failed (status $lstatus)"; }
	grep -q 'hello from lodge guest 7' "$TMP/from-guest" ||
		fail "the host got '$(cat "$TMP/from-guest")', not the guest's line"
	expect_err 'virtio-vsock: connections: 0 from the host, 1 from the guest'
done
