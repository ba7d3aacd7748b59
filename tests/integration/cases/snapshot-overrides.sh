# needs: root, busybox, the tun module (a tap in a network namespace of its own)
# Per-clone overrides on PUT /snapshot/load: a VM with a NIC on a tap and a
# vsock device is snapshotted; a load with network_overrides attaches the
# NIC to another tap (a missing one is refused by name, which shows the
# override is what lodge opens), and vsock_override makes lodge listen on
# the new socket path, not the old one, while the restored guest runs on. The namespace and taps go away at
# the end, also on failure.
. "$ROOT/tests/integration/api-lib.sh"
command -v busybox > /dev/null || fail "needs busybox (tunctl, unshare, nsenter)"
[ "$(id -u)" = 0 ] || fail "needs root: it makes a network namespace and taps"
modprobe tun 2> /dev/null
[ -c /dev/net/tun ] || fail "no /dev/net/tun (the tun module)"

ns=""
cleanup() {
	[ -z "$ns" ] || kill "$ns" 2> /dev/null
	ns=""
}
trap cleanup EXIT
busybox unshare -n sleep 600 &
ns=$!
i=0
while [ "$(readlink "/proc/$ns/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "unshare -n did not make a network namespace"
	sleep 0.1
done
for t in lodgesnapa lodgesnapb; do
	busybox nsenter -t "$ns" -n busybox tunctl -t $t > /dev/null || fail "tunctl -t $t failed"
done
cat > "$TMP/lodge-in-ns" << SH
#!/bin/sh
exec busybox nsenter -t $ns -n "$LODGE" "\$@"
SH
chmod 755 "$TMP/lodge-in-ns"
LODGE=$TMP/lodge-in-ns
SOCK=$TMP/api.sock

cat > "$TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/vmgenid.elf", "boot_args": "notifies=2"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "lodgesnapa"}],
 "vsock": {"guest_cid": 3, "uds_path": "$TMP/a.vsock"}}
JSON
start_api --config-file "$TMP/vm.json"
wait_out '^vmgenid: waiting for 2 notifications' 30 "the guest never got ready"
[ -S "$TMP/a.vsock" ] || fail "lodge does not listen on the vsock path"
expect_api PATCH /vm '{"state": "Paused"}' 204
expect_api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_file_path\": \"$TMP/vm.mem\"}" 204
kill -TERM $PID
wait_lodge
rm -f "$TMP/a.vsock"

load() {
	expect_api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$TMP/vm.mem\"}, \"resume_vm\": true, \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"$1\"}], \"vsock_override\": {\"uds_path\": \"$TMP/b.vsock\"}}" "$2"
}
start_api
load nosuchtap0 400
grep -q "nosuchtap0" "$TMP/resp" || fail "the refusal does not name the overriding tap"
kill -TERM $PID
wait_lodge

start_api
load lodgesnapb 204
wait_out '^vmgenid: notify id=' 30 "the restored guest did not run on"
[ -S "$TMP/b.vsock" ] || fail "lodge does not listen on the overriding vsock path"
[ ! -e "$TMP/a.vsock" ] || fail "lodge listens on the snapshot's vsock path despite the override"
expect_api GET /vm/config "" 200
grep -q '"host_dev_name":"lodgesnapb"' "$TMP/resp" || fail "GET /vm/config lacks the overriding tap"
kill -TERM $PID
wait_lodge
[ "$STATUS" -eq 10 ] || { show_output; fail "the restored VM ended with $STATUS, not 10 (SIGTERM)"; }
