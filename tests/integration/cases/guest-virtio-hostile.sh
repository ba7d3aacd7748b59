# virtio-hostile: a driver that breaks the virtio rules (descriptor loops,
# buffers and rings outside RAM or over MMIO, bad indirect tables, queue
# sizes, avail indices, notifications and features out of order, narrow
# register accesses, resets with requests in flight, ...) against two
# virtio-blk drives (Sync and Async engines) with a virtio-rng beside them.
# After every attack the guest checks lodge's documented answer
# (docs/GUEST-ABI.md: DEVICE_NEEDS_RESET + a config interrupt, IOERR, ...),
# resets the device, re-initialises it, reads sectors back and uses the rng.
# Run twice: with lodge, and with the ASan+UBSan build (build-asan/lodge;
# in the KVM lab it must be packed: tests/lab/run --include build-asan/lodge)
# so that any host access outside guest RAM is caught. The images must be
# untouched afterwards (every attack only reads).
attacks="loop-self loop-2 chain-long next-out-of-range head-out-of-range
readable-after-writable buf-above-ram buf-mmio buf-lapic buf-straddle buf-wrap
len-huge len-zero indirect-len-odd indirect-len-zero indirect-huge indirect-nested
indirect-next indirect-loop indirect-outside indirect-unnegotiated qsize-zero
qsize-npot qsize-above-max ring-mmio ring-outside ring-high ring-misaligned
ring-straddle avail-jump notify-early features-unoffered narrow-regs config-oob
bad-queue-index bad-requests short-header no-status reset-in-flight
unready-in-flight"
nattacks=$(echo "$attacks" | wc -w)

"$GUESTS/blkimg" 2048 0 > "$TMP/d0.img" || fail "blkimg failed"
"$GUESTS/blkimg" 4096 1 > "$TMP/d1.img" || fail "blkimg failed"

# hostile_run NAME: run the guest under $LODGE, check its lines and the images.
hostile_run() {
	echo "== $1"
	lodge_run --kernel "$GUESTS/virtio-hostile.elf" --cmdline "attack=all" \
		--cpus 1 --memory 128 --drive "$TMP/d0.img" \
		--drive "$TMP/d1.img,io_engine=Async,cache_type=Writeback" --entropy \
		--log-level info
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP/err"; then
		grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP/err" |
			head -n 60
		fail "$1: sanitizer report on stderr"
	fi
	n=$(grep -c 'differs: ' "$TMP/out")
	if [ "$n" -gt 0 ]; then
		grep 'differs: ' "$TMP/out"
		first=$(grep -m 1 'differs: ' "$TMP/out" | sed 's/^virtio-hostile: //')
		fail "$1: $n outcomes differ from docs/GUEST-ABI.md; first: $first"
	fi
	expect_status 1
	expect_out '^virtio-hostile: block device 0 at 0xd0000000: disk 0, 2048 sectors'
	expect_out '^virtio-hostile: block device 1 at 0xd0001000: disk 1, 4096 sectors'
	for a in $attacks; do
		n=$(grep -c "^virtio-hostile: $a: .*; recovered$" "$TMP/out")
		[ "$n" -eq 2 ] || { show_output; fail "$1: attack $a: $n of 2 'recovered' lines"; }
	done
	expect_out "^virtio-hostile: all $((2 * nattacks)) attacks survived$"
	expect_err 'virtio-blk drive0: [1-9][0-9]* requests'
	expect_err 'virtio-blk drive1: [1-9][0-9]* requests'
	expect_err 'virtio-rng: [1-9][0-9]* requests'
	"$GUESTS/blkimg" verify "$TMP/d0.img" 0 || fail "$1: drive0 image changed"
	"$GUESTS/blkimg" verify "$TMP/d1.img" 1 || fail "$1: drive1 image changed"
}

# The ASan build first: a host memory error matters more than a deviation
# from the documented behaviour, which both runs would report alike.
# A sanitizer report must not look like the guest's status 1 (with_asan).
asan=${LODGE_ASAN:-$ROOT/build-asan/lodge}
if [ -x "$asan" ]; then
	with_asan hostile_run "ASan lodge"
	"$GUESTS/blkimg" 2048 0 > "$TMP/d0.img" && "$GUESTS/blkimg" 4096 1 > "$TMP/d1.img" ||
		fail "blkimg failed"
fi
hostile_run lodge
[ -x "$asan" ] ||
	fail "no ASan build at $asan (make asan; in the KVM lab: tests/lab/run --include build-asan/lodge)"
