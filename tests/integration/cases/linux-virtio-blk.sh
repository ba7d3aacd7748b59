# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Linux's own virtio drivers (modules, found through the DSDT and the
# command line) against lodge's virtio-blk and virtio-rng: a data disk read
# whole and checked by sha256, a read-only disk that refuses writes, a disk
# the guest writes the initrd payload to (checked on the host after), and
# /dev/hwrng. Both io engines: Sync on the first disks, Async on the last.
. "$LINUX/case-lib.sh"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$TMP/data.img"
data_sha=$(sha256sum "$TMP/data.img" | cut -d' ' -f1)
head -c $((2 * 1024 * 1024)) /dev/zero > "$TMP/out.img"

linux_boot "$LINUX/vmlinux" 2 256 \
	"lodge.modules=virtio_mmio,virtio_blk,virtio_rng lodge.test.script=virtio lodge.blk.sectors=8192 lodge.blk.sha256=$data_sha lodge.blk.write=1 lodge.rng=1" \
	--drive "$TMP/data.img,is_read_only=true" --drive "$TMP/out.img,io_engine=Async" \
	--entropy --log-level info
LINUX_CMDLINE="$LINUX_CMDLINE virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 virtio_mmio.device=4K@0xd0002000:7"
expect_status 0
linux_expect_ok
expect_out 'VIRTIO-INFO vda sectors=8192'
expect_out 'VIRTIO-INFO vdb written'
expect_out 'VIRTIO-INFO hwrng=virtio_rng'
# the payload landed at the start of the written disk, the rest untouched
payload=$(cat "$LINUX/payload.sha256")
got=$(head -c $((1024 * 1024)) "$TMP/out.img" | sha256sum | cut -d' ' -f1)
[ "$got" = "$payload" ] || fail "out.img: first MiB has sha256 $got, expected the payload's $payload"
tail=$(tail -c $((1024 * 1024)) "$TMP/out.img" | tr -d '\000' | wc -c)
[ "$tail" -eq 0 ] || fail "out.img: $tail non-zero bytes after the payload"
# lodge reports each device's counters at info level
expect_err 'virtio-blk drive1: [1-9][0-9]* requests, [0-9]+ exits to lodge'
expect_err 'virtio-rng: [1-9][0-9]* requests'
