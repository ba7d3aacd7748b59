# Sourced by /init (tests/linux/init.sh) with lodge.test.script=net: checks
# lodge's virtio-net through Linux's virtio_net driver, against the host
# side that tests/integration/cases/linux-virtio-net.sh sets up (a tap with
# 10.0.2.1/24 and a busybox httpd on port 8080). Keys:
#   lodge.net.mac=MAC        eth0 has this MAC address
#   lodge.net.mtu=N          eth0's MTU is N (VIRTIO_NET_F_MTU)
#   lodge.net.params=a=1:b=2 load virtio_net with these module parameters
#                            (csum=0:gso=0: no offloads in the guest's sends)
#   lodge.net.blob=SHA256    GET /blob from the host has this sha256 (frames
#                            into the guest, TSO-sized when offloads are on)
#   lodge.net.upload=1       POST /payload.bin (base64) to /cgi-bin/up, which
#                            answers the sha256 of what reached the host
#   lodge.net.pinged=1       wait until the host says it pinged us (/pinged)
# and, for bench/net, measurements reported without checks:
#   lodge.net.rtt=N          N back-to-back pings (ping -A): round-trip times
#   lodge.net.get=PATH       GET PATH from the host into /dev/null, timed
#   lodge.net.put=MiB        POST MiB of text to /cgi-bin/sink, timed
#   lodge.net.blast=1        GET /cgi-bin/blast (the host floods us with small
#                            UDP frames meanwhile): frames sent and received
# Always: eth0 up as 10.0.2.2/24, pings to 10.0.2.1 (small and fragmented);
# at the end virtio_net is unloaded (a device reset) and loaded again, and
# pings once more.
# Reports lines "NET-INFO ..." and calls failed() for each problem.

net_mac="" net_mtu="" net_params="" net_blob="" net_upload="" net_pinged=""
net_rtt="" net_get="" net_put="" net_blast=""
for w in $cmdline; do
	case $w in
	lodge.net.mac=*) net_mac=${w#*=} ;;
	lodge.net.mtu=*) net_mtu=${w#*=} ;;
	lodge.net.params=*) net_params=$(echo "${w#*=}" | tr : ' ') ;;
	lodge.net.blob=*) net_blob=${w#*=} ;;
	lodge.net.upload=1) net_upload=1 ;;
	lodge.net.pinged=1) net_pinged=1 ;;
	lodge.net.rtt=*) net_rtt=${w#*=} ;;
	lodge.net.get=*) net_get=${w#*=} ;;
	lodge.net.put=*) net_put=${w#*=} ;;
	lodge.net.blast=1) net_blast=1 ;;
	esac
done
host=10.0.2.1
url=http://$host:8080

# net_cs: uptime in centiseconds
net_cs() {
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}"
}

# net_measure: the bench/net measurements the command line asks for.
net_measure() {
	if [ -n "$net_rtt" ]; then
		ping -A -q -c "$net_rtt" $host > /tmp/ping.out 2>&1
		echo "NET-INFO rtt $(grep 'round-trip' /tmp/ping.out) $(grep 'packets transmitted' /tmp/ping.out)"
	fi
	if [ -n "$net_get" ]; then
		t0=$(net_cs)
		wget -q -O /dev/null "$url$net_get" || failed "wget $url$net_get failed"
		t1=$(net_cs)
		echo "NET-INFO get ms=$(((t1 - t0) * 10))"
	fi
	if [ -n "$net_put" ]; then
		yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde |
			head -c $((net_put * 1024 * 1024)) > /tmp/put.txt
		t0=$(net_cs)
		got=$(wget -q -O - --post-file /tmp/put.txt "$url/cgi-bin/sink")
		t1=$(net_cs)
		rm -f /tmp/put.txt
		echo "NET-INFO put bytes=$got ms=$(((t1 - t0) * 10))"
	fi
	if [ -n "$net_blast" ]; then
		rx0=$(cat /sys/class/net/eth0/statistics/rx_packets)
		sent=$(wget -q -O - "$url/cgi-bin/blast")
		rx1=$(cat /sys/class/net/eth0/statistics/rx_packets)
		echo "NET-INFO blast $sent received=$((rx1 - rx0))"
	fi
}

net_checks() {
	# shellcheck disable=SC2086  # the parameters are separate words
	modprobe virtio_net $net_params || { failed "modprobe virtio_net $net_params failed"; return; }
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e /sys/class/net/eth0 ] || { failed "no eth0"; return; }
	mac=$(cat /sys/class/net/eth0/address)
	echo "NET-INFO mac=$mac mtu=$(cat /sys/class/net/eth0/mtu)"
	echo "NET-INFO features=$(cat /sys/class/net/eth0/device/features)"
	echo "NET-INFO params csum=$(cat /sys/module/virtio_net/parameters/csum) gso=$(cat /sys/module/virtio_net/parameters/gso)"
	[ -z "$net_mac" ] || [ "$mac" = "$net_mac" ] || failed "eth0: MAC $mac, expected $net_mac"
	[ -z "$net_mtu" ] || [ "$(cat /sys/class/net/eth0/mtu)" = "$net_mtu" ] ||
		failed "eth0: MTU $(cat /sys/class/net/eth0/mtu), expected $net_mtu"
	ip link set lo up
	ip addr add 10.0.2.2/24 dev eth0 || failed "ip addr add failed"
	ip link set eth0 up || failed "ip link set eth0 up failed"
	# the link state reaches operstate through linkwatch, up to a second later
	i=0
	while [ "$(cat /sys/class/net/eth0/operstate)" != up ] && [ $i -lt 30 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(cat /sys/class/net/eth0/operstate)" = up ] ||
		failed "eth0 operstate $(cat /sys/class/net/eth0/operstate), expected up"

	# One ping to settle the link and both neighbour tables (its result is
	# only reported: a first echo can meet the host's tap still coming up),
	# then three that must all come back.
	ping -c 1 -w 5 $host > /tmp/ping.out 2>&1
	echo "NET-INFO first ping $(grep 'packets transmitted' /tmp/ping.out)"
	if ping -c 3 -w 15 $host > /tmp/ping.out 2>&1; then
		echo "NET-INFO ping $(grep 'packets transmitted' /tmp/ping.out)"
	else
		failed "ping $host: $(tail -n 2 /tmp/ping.out | tr '\n' ' ')"
	fi
	# 6000 bytes: IP fragments both ways
	ping -c 2 -s 6000 -w 10 $host > /tmp/ping.out 2>&1 ||
		failed "ping -s 6000 $host: $(tail -n 2 /tmp/ping.out | tr '\n' ' ')"

	if [ -n "$net_blob" ]; then
		t0=$(net_cs)
		if wget -q -O /tmp/blob "$url/blob"; then
			t1=$(net_cs)
			got=$(sha256sum /tmp/blob | cut -d' ' -f1)
			echo "NET-INFO blob bytes=$(wc -c < /tmp/blob) ms=$(((t1 - t0) * 10))"
			[ "$got" = "$net_blob" ] || failed "blob: sha256 $got, expected $net_blob"
		else
			failed "wget $url/blob failed"
		fi
		rm -f /tmp/blob
	fi

	if [ -n "$net_upload" ]; then
		# busybox wget posts a file as a string: send text
		base64 /payload.bin > /tmp/up.b64
		want=$(sha256sum /tmp/up.b64 | cut -d' ' -f1)
		t0=$(net_cs)
		got=$(wget -q -O - --post-file /tmp/up.b64 "$url/cgi-bin/up")
		t1=$(net_cs)
		echo "NET-INFO upload bytes=$(wc -c < /tmp/up.b64) ms=$(((t1 - t0) * 10))"
		[ "$got" = "$want" ] || failed "upload: the host got sha256 '$got', expected $want"
		rm -f /tmp/up.b64
	fi

	if [ -n "$net_pinged" ]; then
		i=0
		until wget -q -O /dev/null "$url/pinged" 2> /dev/null; do
			i=$((i + 1))
			[ $i -lt 60 ] || { failed "the host never pinged us"; break; }
			sleep 0.5
		done
	fi
	net_measure
	s=/sys/class/net/eth0/statistics
	echo "NET-INFO stats rx_packets=$(cat $s/rx_packets) rx_bytes=$(cat $s/rx_bytes) rx_errors=$(cat $s/rx_errors) rx_dropped=$(cat $s/rx_dropped) tx_packets=$(cat $s/tx_packets) tx_bytes=$(cat $s/tx_bytes) tx_errors=$(cat $s/tx_errors)"
	[ "$(cat $s/rx_errors)" = 0 ] || failed "eth0: $(cat $s/rx_errors) receive errors"
	[ "$(cat $s/tx_errors)" = 0 ] || failed "eth0: $(cat $s/tx_errors) transmit errors"

	# unbinding resets the device (status 0); a new driver instance must work
	ip link set eth0 down
	rmmod virtio_net || { failed "rmmod virtio_net failed"; return; }
	# shellcheck disable=SC2086
	modprobe virtio_net $net_params || { failed "modprobe virtio_net again failed"; return; }
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if ! ip addr add 10.0.2.2/24 dev eth0 || ! ip link set eth0 up; then
		failed "eth0 after reloading virtio_net: cannot configure it"
	fi
	if ping -c 2 -w 15 $host > /tmp/ping.out 2>&1; then
		echo "NET-INFO reloaded ping $(grep 'packets transmitted' /tmp/ping.out)"
	else
		failed "ping $host after reloading virtio_net: $(tail -n 2 /tmp/ping.out | tr '\n' ' ')"
	fi
	ip link set eth0 down
}
net_checks
