# virtio-blk: the block guest against lodge --drive, on pattern images from
# guest/build/blkimg (sector n of disk d: 64 times (n * 0x9E3779B97F4A7C15)
# ^ (d << 56)): single, multi-segment, 256 KiB and batched reads, reads
# beyond the capacity (IOERR), GET_ID (the drive_id), writes + FLUSH,
# WRITE_ZEROES and DISCARD, checked afterwards in the image file; both io
# engines, with and without EVENT_IDX and INDIRECT_DESC, with interrupts and
# polled, a small queue; two read-only disks told apart by their pattern.
# lodge's request count (--log-level info) must equal the guest's.
"$GUESTS/blkimg" 2048 1 > "$TMP/d1.img" || fail "blkimg failed"

# fresh_d0: a pristine 4096-sector image of disk 0.
fresh_d0() {
	"$GUESTS/blkimg" 4096 0 > "$TMP/d0.img" || fail "blkimg failed"
}

# image_written: d0 holds what write=1 wsector=64 wcount=8 leaves.
image_written() {
	"$GUESTS/blkimg" check "$TMP/d0.img" 64 8 || fail "d0.img after write=1: $1"
}

# requests_match DRIVE: the guest's request total is lodge's count for DRIVE.
requests_match() {
	g=$(sed -n 's/^virtio-blk: \([0-9][0-9]*\) requests, .*/\1/p' "$TMP/out" | tail -n 1)
	l=$(sed -n "s/.*virtio-blk $1: \([0-9][0-9]*\) requests, .*/\1/p" "$TMP/err" | tail -n 1)
	[ -n "$g" ] && [ "$g" = "$l" ] ||
		{ show_output; fail "the guest made ${g:-?} requests, lodge counted ${l:-?} on $1"; }
}

blk_run() {
	lodge_run --kernel "$GUESTS/virtio-blk.elf" --cpus 1 --memory 128 --log-level info "$@"
	expect_status 1
	expect_out '^virtio-blk: all checks passed$'
}

# Sync engine, interrupts, EVENT_IDX and indirect descriptors; GET_ID.
fresh_d0
blk_run --cmdline "sectors=4096 write=1 wsector=64 wcount=8 serial=lodge_disk_0" \
	--drive "$TMP/d0.img,drive_id=lodge_disk_0"
expect_out '^virtio: device 0 at 0xd0000000 size 0x1000 irq 5: id 2 \(block\) version 2 vendor 0x45444f4c$'
expect_out '^virtio-blk: device 0 is disk 0: 4096 sectors, .* seg_max 1022, blk_size 512$'
expect_out '^virtio-blk: mode interrupt, event_idx on, indirect on, queue size 128$'
expect_out '^virtio-blk: multi-segment read: 8 segments'
expect_out '^virtio-blk: large read: 256 KiB'
expect_out '^virtio-blk: batch: 16 requests in flight, one kick$'
expect_out '^virtio-blk: read beyond capacity: IOERR, device still works$'
expect_out '^virtio-blk: id "lodge_disk_0"$'
expect_out '^virtio-blk: wrote sectors 64-71, flushed, read back$'
expect_out '^virtio-blk: write zeroes of sectors 72-79 read back as zeros$'
expect_out '^virtio-blk: discarded sectors 80-87, they read back as (zeros|old data)$'
expect_out '^virtio-blk: [0-9]+ requests, [0-9]+ kicks, [1-9][0-9]* interrupts$'
requests_match lodge_disk_0
image_written "Sync engine"

# Async engine (io_uring), write-back cache (FLUSH is fdatasync), plain rings.
fresh_d0
blk_run --cmdline "sectors=4096 write=1 event_idx=0 indirect=0" \
	--drive "$TMP/d0.img,io_engine=Async,cache_type=Writeback"
expect_out '^virtio-blk: mode interrupt, event_idx off, indirect off, queue size 128$'
expect_out '^virtio-blk: id "drive0"$'
expect_out '^virtio-blk: wrote sectors 64-71, flushed, read back$'
expect_out '^virtio-blk: write zeroes of sectors 72-79 read back as zeros$'
expect_out '^virtio-blk: [0-9]+ requests, [0-9]+ kicks, [1-9][0-9]* interrupts$'
expect_err 'virtio-blk drive0: [1-9][0-9]* requests'
grep -q 'io_uring unavailable' "$TMP/err" && fail "lodge fell back to the Sync engine"
requests_match drive0
image_written "Async engine"

# Polled, a queue of 8 without indirect descriptors: 6 segments at most, 2 in flight.
fresh_d0
blk_run --cmdline "sectors=4096 poll=1 qsize=8 indirect=0 write=1" --drive "$TMP/d0.img"
expect_out '^virtio-blk: mode polled, event_idx on, indirect off, queue size 8$'
expect_out '^virtio-blk: multi-segment read: 6 segments'
expect_out '^virtio-blk: batch: 2 requests in flight'
expect_out '^virtio-blk: [0-9]+ requests, [0-9]+ kicks, 0 interrupts$'
requests_match drive0
image_written "polled, queue size 8"

# Polled on the Async engine, without EVENT_IDX: lodge must not interrupt at all.
fresh_d0
blk_run --cmdline "sectors=4096 poll=1 event_idx=0" --drive "$TMP/d0.img,io_engine=Async"
expect_out '^virtio-blk: mode polled, event_idx off, indirect on, queue size 128$'
expect_out '^virtio-blk: [0-9]+ requests, [0-9]+ kicks, 0 interrupts$'
expect_err 'virtio-blk drive0: [0-9]+ requests, .*, 0 interrupts, [1-9][0-9]* suppressed'
requests_match drive0
"$GUESTS/blkimg" verify "$TMP/d0.img" 0 || fail "d0.img changed by reads"

# Two read-only disks, disk 1 first (Async) then disk 0 (Sync): the guest
# tells them apart by sector 0; writes get IOERR and change nothing.
blk_run --cmdline "disks=2 ro=1 sectors=4096 sectors1=2048" \
	--drive "$TMP/d1.img,is_read_only=true,io_engine=Async" \
	--drive "$TMP/d0.img,is_read_only=true"
expect_out '^virtio-blk: device 0 is disk 1: 2048 sectors, features 0x[0-9a-f]*'
expect_out '^virtio-blk: device 1 is disk 0: 4096 sectors'
expect_out '^virtio-blk: read-only: write got IOERR, sector unchanged$'
expect_out '^virtio-blk: disk 1: first and last sectors match$'
expect_err 'virtio-blk drive0: [1-9][0-9]* requests'
expect_err 'virtio-blk drive1: [1-9][0-9]* requests'
"$GUESTS/blkimg" verify "$TMP/d0.img" 0 || fail "read-only d0.img changed"
"$GUESTS/blkimg" verify "$TMP/d1.img" 1 || fail "read-only d1.img changed"
