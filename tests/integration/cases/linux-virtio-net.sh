# needs: full-kvm, root, busybox, the tun and bridge modules (taps in a network namespace of its own)
# Linux's virtio_net against lodge's virtio-net on a host tap. The case makes
# a network namespace holding a tap (10.0.2.1/24) and a busybox httpd, runs
# lodge in it, and boots Linux twice (tests/linux/scripts/net.sh checks the
# guest side):
#   1. all offloads: MAC, negotiated features, pings both ways (also
#      fragmented), a 4 MiB download from the host (TSO-sized frames into
#      the guest's mergeable buffers), an upload to the host (TSO from the
#      guest), and a driver reload (device reset) with pings after;
#   2. virtio_net csum=0 gso=0 (plain frames from the guest), MTU 1400 on both
#      ends (VIRTIO_NET_F_MTU), and rx/tx rate limiters that must throttle;
# then the freestanding guest virtio-net.elf answers the host's pings with
# no mergeable buffers (a header and a data descriptor per receive chain)
# and no EVENT_IDX; with two NICs on two taps bridged on the host, it pings
# itself from NIC 0 to NIC 1; lodge refuses taps that are missing or not taps.
# The namespace, the tap, httpd and the pinger go away at the end, also on
# failure.
. "$LINUX/case-lib.sh"

command -v busybox > /dev/null || fail "needs busybox (tunctl, ip, httpd, ping, nsenter, unshare)"
[ "$(id -u)" = 0 ] || fail "needs root: it makes a network namespace and a tap"
modprobe tun 2> /dev/null
[ -c /dev/net/tun ] || fail "no /dev/net/tun (the tun module)"

tap=lodgetap0
mac=06:00:0a:00:02:02
www=$TMP/www
ns="" httpd="" pinger=""
net_cleanup() {
	[ -z "$pinger" ] || kill "$pinger" 2> /dev/null
	[ -z "$httpd" ] || kill "$httpd" 2> /dev/null
	if [ -n "$ns" ]; then
		busybox nsenter -t "$ns" -n busybox tunctl -d "$tap" > /dev/null 2>&1
		busybox nsenter -t "$ns" -n busybox tunctl -d "${tap}b" > /dev/null 2>&1
		kill "$ns" 2> /dev/null
	fi
	pinger="" httpd="" ns=""
}
trap net_cleanup EXIT

# The namespace lives as long as this sleeping process.
busybox unshare -n sleep 900 &
ns=$!
i=0
while [ "$(readlink "/proc/$ns/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "unshare -n did not make a network namespace"
	sleep 0.1
done
inns() {
	busybox nsenter -t "$ns" -n "$@"
}
inns busybox tunctl -t "$tap" > /dev/null || fail "tunctl -t $tap failed"
inns busybox ip link set lo up
inns busybox ip addr add 10.0.2.1/24 dev "$tap" || fail "ip addr add 10.0.2.1/24 dev $tap failed"
inns busybox ip link set "$tap" up || fail "ip link set $tap up failed"

mkdir -p "$www/cgi-bin"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$www/blob"
blob_sha=$(sha256sum "$www/blob" | cut -d' ' -f1)
cat > "$www/cgi-bin/up" << 'EOF'
#!/bin/sh
echo "Content-Type: text/plain"
echo ""
head -c "$CONTENT_LENGTH" | sha256sum | cut -d' ' -f1
EOF
chmod 755 "$www/cgi-bin/up"
busybox nsenter -t "$ns" -n busybox httpd -f -p 10.0.2.1:8080 -h "$www" &
httpd=$!

# lodge runs inside the namespace, where the tap is.
cat > "$TMP/lodge-in-ns" << EOF
#!/bin/sh
exec busybox nsenter -t $ns -n "$LODGE" "\$@"
EOF
chmod 755 "$TMP/lodge-in-ns"
LODGE=$TMP/lodge-in-ns

# host_pings: ping the guest until it answers (small, then fragmented), then
# tell it so through httpd (/pinged).
host_pings() {
	i=0
	while [ $i -lt 300 ]; do
		if inns busybox ping -c 1 -W 1 10.0.2.2 > "$TMP/hostping" 2>&1 &&
			inns busybox ping -c 2 -s 6000 -w 10 10.0.2.2 >> "$TMP/hostping" 2>&1; then
			: > "$www/pinged"
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
}

# net_boot "GUEST ARGS" LODGE-NET-SPEC: one boot with the pinger running.
net_boot() {
	rm -f "$www/pinged" "$TMP/hostping"
	host_pings &
	pinger=$!
	linux_boot "$LINUX/vmlinux" 1 256 \
		"lodge.modules=virtio_mmio lodge.test.script=net lodge.net.mac=$mac lodge.net.blob=$blob_sha lodge.net.upload=1 lodge.net.pinged=1 $1" \
		--net "$2" --log-level info
	kill "$pinger" 2> /dev/null
	pinger=""
	LINUX_CMDLINE="$LINUX_CMDLINE virtio_mmio.device=4K@0xd0000000:5"
	expect_status 0
	linux_expect_ok
	expect_out "NET-INFO mac=$mac"
	expect_out 'NET-INFO blob bytes=4194304'
	expect_out 'NET-INFO upload bytes=[1-9]'
	expect_out 'NET-INFO reloaded ping 2 packets transmitted, 2 packets received'
	grep -q ' 0% packet loss' "$TMP/hostping" 2> /dev/null || {
		show_output
		fail "the host's pings to the guest: $(tr '\n' ' ' < "$TMP/hostping" 2> /dev/null)"
	}
	[ -f "$www/pinged" ] || fail "the pinger did not finish"
	expect_err "virtio-net net0: rx [1-9][0-9]* frames [0-9]+ bytes 0 dropped"
	expect_err "tx [1-9][0-9]* frames [0-9]+ bytes 0 dropped, 0 malformed"
	feat=$(grep -a 'NET-INFO features=' "$TMP/out" | head -n 1 | tr -d '\r' | sed 's/.*features=//')
}

# feature_bits B... : each virtio feature bit B was negotiated (sysfs string, bit 0 first).
feature_bits() {
	for b in "$@"; do
		[ "$(echo "$feat" | cut -c$((b + 1)))" = 1 ] ||
			fail "virtio-net feature bit $b not negotiated (features=$feat)"
	done
}

# 1: everything on. CSUM GUEST_CSUM MAC GUEST_TSO4/6 HOST_TSO4/6 MRG_RXBUF STATUS VERSION_1
net_boot "" "$tap,guest_mac=$mac"
feature_bits 0 1 5 7 8 11 12 15 16 32
[ "$(echo "$feat" | cut -c4)" = 0 ] || fail "VIRTIO_NET_F_MTU negotiated without an mtu (features=$feat)"
expect_out 'NET-INFO params csum=Y gso=Y'
expect_out 'NET-INFO mac=[0-9a-f:]+ mtu=1500'

# 2: no offloads in the guest's sends, MTU 1400, rate limits: rx 1.25 MiB/s
# (128 KiB bucket), tx 1000 frames/s in a bucket of one (two frames in a row
# wait).
inns busybox ip link set "$tap" mtu 1400 || fail "ip link set $tap mtu 1400 failed"
net_boot "lodge.net.params=csum=0:gso=0 lodge.net.mtu=1400" \
	"$tap,guest_mac=$mac,mtu=1400,rx_rate_limiter.bandwidth.size=131072,rx_rate_limiter.bandwidth.refill_time=100,tx_rate_limiter.ops.size=1,tx_rate_limiter.ops.refill_time=1"
feature_bits 0 1 3 5 15 16 32
expect_out 'NET-INFO params csum=N gso=N'
expect_out 'NET-INFO mac=[0-9a-f:]+ mtu=1400'
expect_err 'virtio-net net0: rx .* [1-9][0-9]* throttled; tx .* [1-9][0-9]* throttled'

# 3: without mergeable buffers or EVENT_IDX (guest/tests/virtio-net.c answers ARP and pings).
rm -f "$TMP/hostping"
(
	ok=0 i=0
	while [ $ok -lt 3 ] && [ $i -lt 60 ]; do
		inns busybox ping -c 1 -W 1 10.0.2.2 >> "$TMP/hostping" 2>&1 && ok=$((ok + 1))
		i=$((i + 1))
	done
) &
pinger=$!
lodge_run --kernel "$GUESTS/virtio-net.elf" --memory 64 \
	--cmdline "ip=10.0.2.2 mac=$mac mrg_rxbuf=0 event_idx=0 pings=3" --net "$tap,guest_mac=$mac" \
	--log-level info
wait "$pinger"
pinger=""
expect_status 1
expect_out "virtio-net: nic 0 mac $mac ip 10.0.2.2, mrg_rxbuf off, event_idx off"
expect_out 'virtio-net: answered [1-9][0-9]* ARP requests, [3-9] echo requests'
expect_out 'virtio-net: all checks passed'
expect_err "virtio-net net0: rx [1-9][0-9]* frames [0-9]+ bytes 0 dropped"

# 4: two NICs on lodge: a second tap, both taps in a bridge; the guest's NIC 0
# ARPs for and pings NIC 1 through the host (guest -> tap0 -> bridge -> tap1 -> guest).
inns busybox tunctl -t "${tap}b" > /dev/null || fail "tunctl -t ${tap}b failed"
modprobe bridge 2> /dev/null
inns busybox brctl addbr lodgebr0 || fail "brctl addbr failed (no bridge module?)"
inns busybox ip link set "$tap" mtu 1500
for t in "$tap" "${tap}b"; do
	inns busybox ip addr flush dev "$t"
	inns busybox brctl addif lodgebr0 "$t" || fail "brctl addif lodgebr0 $t failed"
	inns busybox ip link set "$t" up
done
inns busybox ip link set lodgebr0 up
mac1=06:00:0a:00:02:03
lodge_run --kernel "$GUESTS/virtio-net.elf" --memory 64 \
	--cmdline "loopback=1 pings=4 ip=10.0.4.2 mac=$mac mac1=$mac1" \
	--net "$tap,guest_mac=$mac" --net "${tap}b,guest_mac=$mac1" --log-level info
inns busybox ip link set lodgebr0 down
inns busybox brctl delbr lodgebr0
inns busybox tunctl -d "${tap}b" > /dev/null
expect_status 1
expect_out "virtio-net: nic 0 mac $mac ip 10.0.4.2"
expect_out '^virtio-net: nic 1 answered ARP for 10.0.4.3$'
expect_out '^virtio-net: 4 echo replies received$'
expect_out '^virtio-net: all checks passed$'
expect_err "virtio-net net0: rx [1-9][0-9]* frames [0-9]+ bytes 0 dropped"
expect_err "virtio-net net1: rx [1-9][0-9]* frames [0-9]+ bytes 0 dropped"

# lodge attaches only to existing taps.
lodge_run --kernel "$GUESTS/hello.elf" --net nosuchtap0
expect_status 2
expect_err "lodge: network interface 'net0': tap 'nosuchtap0': no such network interface"
lodge_run --kernel "$GUESTS/hello.elf" --net lo
expect_status 2
expect_err "lodge: network interface 'net0': tap 'lo': not a tap interface"
