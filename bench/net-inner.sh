#!/bin/sh
# The measuring half of bench/net: runs as root, natively or inside the lab,
# with LINUX set to the Linux test artifacts (tests/linux/prepare).
# Usage: bench/net-inner.sh native|lab
set -u
where=${1:-native}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${LINUX:?LINUX: the Linux test artifacts (tests/linux/prepare)}"
lodge=$root/build/lodge
blast=$root/build/bench/netblast
qemu=$(command -v qemu-system-x86_64 || true)
tap=lodgebench0
mac=06:00:0a:00:02:02
# the lab's host is emulated (TCG): ~1 MB/s through a VMM, so smaller transfers there
if [ "$where" = lab ]; then get_mib=16 put_mib=4; else get_mib=64 put_mib=16; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-net.XXXXXX")
ns="" httpd=""

cleanup() {
	[ -z "$httpd" ] || kill "$httpd" 2> /dev/null
	if [ -n "$ns" ]; then
		busybox nsenter -t "$ns" -n busybox tunctl -d "$tap" > /dev/null 2>&1
		kill "$ns" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

modprobe tun 2> /dev/null
modprobe vhost_net 2> /dev/null
busybox unshare -n sleep 3600 &
ns=$!
i=0
while [ "$(readlink "/proc/$ns/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || { echo "bench/net: unshare -n failed" >&2; exit 1; }
	sleep 0.1
done
inns() {
	busybox nsenter -t "$ns" -n "$@"
}
inns busybox tunctl -t "$tap" > /dev/null || exit 1
inns busybox ip link set lo up
inns busybox ip addr add 10.0.2.1/24 dev "$tap"
inns busybox ip link set "$tap" up

www=$tmp/www
mkdir -p "$www/cgi-bin"
head -c $((get_mib * 1024 * 1024)) /dev/zero > "$www/big"
cat > "$www/cgi-bin/sink" << 'CGI'
#!/bin/sh
echo "Content-Type: text/plain"
echo ""
head -c "$CONTENT_LENGTH" | wc -c
CGI
cat > "$www/cgi-bin/blast" << CGI
#!/bin/sh
echo "Content-Type: text/plain"
echo ""
exec $blast 10.0.2.2 9 64 2000
CGI
chmod 755 "$www/cgi-bin/sink" "$www/cgi-bin/blast"
busybox nsenter -t "$ns" -n busybox httpd -f -p 10.0.2.1:8080 -h "$www" &
httpd=$!

args="console=ttyS0 reboot=k panic=-1 quiet lodge.modules=virtio_mmio lodge.test.script=net"
args="$args lodge.net.rtt=500 lodge.net.get=/big lodge.net.put=$put_mib lodge.net.blast=1"

# report NAME: one table row from the guest's NET-INFO lines in $tmp/NAME.out
report() {
	tr -d '\r' < "$tmp/$1.out" | awk -v name="$1" -v get="$get_mib" -v put="$put_mib" '
	/NET-INFO rtt/ { split($0, a, "= "); split(a[2], r, "/"); rtt = r[2] * 1000 }
	/NET-INFO get ms=/ { sub(/.*ms=/, ""); gms = $0 + 0 }
	/NET-INFO put bytes=/ { for (i = 1; i <= NF; i++) if ($i ~ /^ms=/) pms = substr($i, 4) + 0 }
	/NET-INFO blast/ {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^sent=/) sent = substr($i, 6) + 0
			if ($i ~ /^ms=/) bms = substr($i, 4) + 0
			if ($i ~ /^received=/) recv = substr($i, 10) + 0
		}
	}
	/LINUX-OK/ { ok = 1 }
	END {
		if (!ok || !gms || !pms || !bms) {
			printf "%-15s incomplete run (see below)\n", name
			exit 1
		}
		printf "%-15s %10.0f %12.1f %12.1f %14.0f %14.0f\n", name, rtt,
			get * 1048576 / gms / 1000, put * 1048576 / pms / 1000,
			sent * 1000 / bms, recv * 1000 / bms
	}' || { tail -n 15 "$tmp/$1.out"; tail -n 5 "$tmp/$1.err"; }
}

# run NAME COMMAND...: boot the guest with COMMAND inside the namespace
run() {
	name=$1
	shift
	timeout 300 busybox nsenter -t "$ns" -n "$@" < /dev/null > "$tmp/$name.out" 2> "$tmp/$name.err"
	report "$name"
}

echo "bench/net: where=$where, Linux $(sed -n 's/^release=//p' "$LINUX/info"), 2 vCPUs, 512 MiB"
echo "  rtt: mean of 500 back-to-back pings guest->host; get/put: TCP over busybox wget/httpd,"
echo "  ${get_mib} MiB host->guest, ${put_mib} MiB guest->host; udp: 64-byte frames/s the host"
echo "  offered for 2 s and the guest received"
printf "%-15s %10s %12s %12s %14s %14s\n" vmm rtt_us get_MB/s put_MB/s udp_offered/s udp_rx/s
run lodge "$lodge" run --kernel "$LINUX/vmlinux" --initrd "$LINUX/initrd.cpio.gz" --cpus 2 \
	--memory 512 --serial stdio --cmdline "$args" --net "$tap,guest_mac=$mac" --log-level info
if [ -n "$qemu" ]; then
	for vhost in off on; do
		run "qemu-vhost-$vhost" "$qemu" -M microvm -accel kvm -cpu host -m 512 -smp 2 \
			-nographic -nodefaults -no-user-config -no-reboot -serial stdio -L /usr/share/qemu \
			-global virtio-mmio.force-legacy=false \
			-kernel "$LINUX/vmlinux" -initrd "$LINUX/initrd.cpio.gz" -append "$args" \
			-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=$vhost" \
			-device "virtio-net-device,netdev=n0,mac=$mac"
	done
else
	echo "qemu            (qemu-system-x86_64 not installed: no QEMU rows)"
fi
grep -h 'virtio-net net0: rx' "$tmp/lodge.err" | sed 's/^/  /'
