# Sourced by /init (tests/linux/init.sh) with lodge.test.script=virtio:
# checks lodge's virtio devices through Linux's own drivers. Keys:
#   lodge.blk.sha256=HEX   /dev/vda's whole content has this sha256
#   lodge.blk.sectors=N    /dev/vda has N 512-byte sectors
#   lodge.blk.ro=1         /dev/vdb is read-only (a write fails)
#   lodge.blk.write=1      copy /payload.bin to the start of /dev/vdb, sync
#   lodge.rng=1            /dev/hwrng is virtio_rng and gives bytes
# Reports lines "VIRTIO-INFO ..." and calls failed() for each problem.

blk_sha="" blk_sectors="" blk_ro="" blk_write="" rng=""
for w in $cmdline; do
	case $w in
	lodge.blk.sha256=*) blk_sha=${w#*=} ;;
	lodge.blk.sectors=*) blk_sectors=${w#*=} ;;
	lodge.blk.ro=1) blk_ro=1 ;;
	lodge.blk.write=1) blk_write=1 ;;
	lodge.rng=1) rng=1 ;;
	esac
done

# Devices probe asynchronously after modprobe: wait a little for them.
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

if [ -n "$blk_sectors$blk_sha" ]; then
	if wait_for /sys/block/vda; then
		n=$(cat /sys/block/vda/size)
		echo "VIRTIO-INFO vda sectors=$n"
		[ -z "$blk_sectors" ] || [ "$n" = "$blk_sectors" ] ||
			failed "vda: $n sectors, expected $blk_sectors"
		if [ -n "$blk_sha" ]; then
			got=$(sha256sum /dev/vda | cut -d' ' -f1)
			[ "$got" = "$blk_sha" ] || failed "vda: sha256 $got, expected $blk_sha"
		fi
	else
		failed "no /sys/block/vda"
	fi
fi

if [ -n "$blk_ro" ]; then
	if wait_for /dev/vdb; then
		[ "$(cat /sys/block/vdb/ro)" = 1 ] || failed "vdb: not read-only in sysfs"
		if dd if=/payload.bin of=/dev/vdb bs=4096 count=1 oflag=direct 2> /dev/null; then
			failed "vdb: a write to the read-only disk succeeded"
		fi
	else
		failed "no /dev/vdb"
	fi
fi

if [ -n "$blk_write" ]; then
	if wait_for /dev/vdb; then
		dd if=/payload.bin of=/dev/vdb bs=65536 conv=fsync 2> /dev/null ||
			failed "vdb: writing the payload failed"
		echo "VIRTIO-INFO vdb written"
	else
		failed "no /dev/vdb"
	fi
fi

if [ -n "$rng" ]; then
	if wait_for /sys/class/misc/hw_random/rng_current; then
		cur=$(cat /sys/class/misc/hw_random/rng_current)
		echo "VIRTIO-INFO hwrng=$cur"
		case $cur in virtio_rng*) ;; *) failed "hwrng is '$cur', not virtio_rng" ;; esac
		n=$(dd if=/dev/hwrng bs=64 count=4 2> /dev/null | wc -c)
		[ "$n" -gt 0 ] || failed "/dev/hwrng gave no bytes"
		echo "VIRTIO-INFO hwrng bytes=$n"
	else
		failed "no hw_random device"
	fi
fi
