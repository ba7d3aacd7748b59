# Sourced by /init (tests/linux/init.sh) with lodge.test.script=snapshot: a
# workload for the host to snapshot in the middle of, and to finish in a
# restored VM. Keys:
#   lodge.snap.rounds=N   rounds (default 20)
# Prints "SNAP-READY" once /dev/vda is there, then per round i: writes a
# 64 KiB block of round-dependent data at offset i * 64 KiB of /dev/vda with
# O_DIRECT-free dd + sync, reads it back and compares, checks that the
# uptime and CLOCK_MONOTONIC (via /proc/uptime) did not go backwards,
# prints "SNAP-ROUND i", sleeps 0.2 s (timers). Ends with "SNAP-DONE
# rounds=N" or calls failed().

rounds=20
for w in $cmdline; do
	case $w in
	lodge.snap.rounds=*) rounds=${w#*=} ;;
	esac
done

i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ ! -b /dev/vda ]; then
	failed "snapshot: no /dev/vda"
else
	echo "SNAP-READY"
	last=0
	i=0
	while [ $i -lt "$rounds" ]; do
		# 64 KiB of data that depends on the round only
		yes "lodge snapshot round $i" | head -c 65536 > /tmp/block
		dd if=/tmp/block of=/dev/vda bs=65536 seek=$i count=1 conv=fsync 2> /dev/null ||
			failed "snapshot: round $i: write failed"
		echo 3 > /proc/sys/vm/drop_caches
		dd if=/dev/vda of=/tmp/back bs=65536 skip=$i count=1 2> /dev/null ||
			failed "snapshot: round $i: read failed"
		cmp -s /tmp/block /tmp/back || failed "snapshot: round $i: read back differs"
		read -r up _ < /proc/uptime
		now=$(echo "$up" | tr -d .)
		[ "$now" -ge "$last" ] || failed "snapshot: round $i: uptime went back from $last to $now"
		last=$now
		echo "SNAP-ROUND $i uptime=$up"
		sleep 0.2
		i=$((i + 1))
	done
	echo "SNAP-DONE rounds=$rounds"
fi
