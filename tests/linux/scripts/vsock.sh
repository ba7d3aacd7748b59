# Sourced by /init (tests/linux/init.sh) with lodge.test.script=vsock: Linux's
# vmw_vsock_virtio_transport against lodge's virtio-vsock, the guest half of
# tests/integration/cases/linux-virtio-vsock.sh (its host half runs next to
# lodge and talks to lodge's Unix sockets). Keys:
#   lodge.vsock.cid=N      the guest's CID (from the config space) must be N
#   lodge.vsock.listen=P   echo one host-initiated connection on port P; the
#                          host waits for "VSOCK-LISTENING P" on the console
#   lodge.vsock.host=P     connect to the host (CID 2) port P, send a line,
#                          expect the line "hello from the host" back
#   lodge.vsock.refused=P  connecting to host port P must fail (nobody listens)
# Reports lines "VSOCK-INFO ..." and calls failed() for each problem.

vsock_cid="" vsock_listen="" vsock_host="" vsock_refused=""
for w in $cmdline; do
	case $w in
	lodge.vsock.cid=*) vsock_cid=${w#*=} ;;
	lodge.vsock.listen=*) vsock_listen=${w#*=} ;;
	lodge.vsock.host=*) vsock_host=${w#*=} ;;
	lodge.vsock.refused=*) vsock_refused=${w#*=} ;;
	esac
done

i=0
while [ ! -e /dev/vsock ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done

if [ -n "$vsock_cid" ]; then
	got=$(vsock-tool cid)
	echo "VSOCK-INFO cid=$got"
	[ "$got" = "$vsock_cid" ] || failed "vsock: guest CID '$got', expected $vsock_cid"
fi

if [ -n "$vsock_listen" ]; then
	# vsock-tool prints VSOCK-LISTENING (the host's cue), then VSOCK-ECHOED <bytes>.
	if vsock-tool listen "$vsock_listen" 1; then
		echo "VSOCK-INFO echo on port $vsock_listen done"
	else
		failed "vsock: echo on port $vsock_listen failed"
	fi
fi

if [ -n "$vsock_host" ]; then
	reply=$(vsock-tool connect 2 "$vsock_host" "hello from the guest")
	echo "VSOCK-INFO host port $vsock_host replied '$reply'"
	[ "$reply" = "hello from the host" ] ||
		failed "vsock: host port $vsock_host replied '$reply'"
fi

if [ -n "$vsock_refused" ]; then
	if vsock-tool connect 2 "$vsock_refused" "nobody" > /dev/null 2>&1; then
		failed "vsock: connecting to host port $vsock_refused succeeded"
	else
		echo "VSOCK-INFO host port $vsock_refused refused"
	fi
fi
