#!/bin/sh
# Boot every test guest under QEMU's emulator (TCG, microvm with ACPI; the
# multiboot guest also on pc) and check its exit status and output, the same
# facts tests/integration/cases/guest-*.sh check under lodge. QEMU differs
# from lodge only where noted: a triple fault with -no-reboot exits 0 (lodge:
# 4). Run from guest/ after `make`: sh scripts/qemu-check.sh [NAME...]
#
# Environment: QEMU (default qemu-system-x86_64), CPU (QEMU -cpu model, default
# max), TIMEOUT (seconds per boot, default 60). The virtio-blk disk images
# come from build/blkimg (scripts/blkimg.c), which make builds.

: "${QEMU:=qemu-system-x86_64}"
: "${TIMEOUT:=60}"
: "${CPU:=max}"
B=build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/guest-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
skipped=0
only="$*"

# qemu MACHINE CPUS MEM KERNEL APPEND [EXTRA...]: output in $tmp/out, status in $status.
qemu() {
	m=$1 cpus=$2 mem=$3 kernel=$4 append=$5
	shift 5
	timeout "$TIMEOUT" "$QEMU" -M "$m" -accel tcg -cpu "$CPU" -smp "$cpus" -m "$mem" \
		-nographic -nodefaults -no-reboot -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$kernel" -append "$append" "$@" > "$tmp/out" 2> "$tmp/err" < "${STDIN:-/dev/null}"
	status=$?
}

# check NAME WANT_STATUS PATTERN...: every extended regex must match a line of the output.
check() {
	name=$1 want=$2
	shift 2
	why=""
	[ "$status" -eq "$want" ] || why="status $status, expected $want"
	for p in "$@"; do
		[ -n "$why" ] && break
		grep -E -q -- "$p" "$tmp/out" || why="output lacks /$p/"
	done
	if [ -z "$why" ]; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: $why"
		sed 's/^/    | /' "$tmp/out" | tail -n 20
		sed 's/^/    ! /' "$tmp/err" | tail -n 5
		failed=$((failed + 1))
	fi
}

want() {
	[ -z "$only" ] && return 0
	for n in $only; do [ "$n" = "$1" ] && return 0; done
	return 1
}

MV=microvm,acpi=on

if want hello; then
	qemu $MV 1 128 $B/hello.elf "greeting=yes x=1"
	check hello 1 '^hello from the lodge test guest$' '^cmdline: greeting=yes x=1$'
fi

if want exceptions; then
	qemu $MV 1 128 $B/exceptions.elf ""
	check exceptions 1 '^exception #UD: vector 6 \(#UD\)' '^exception #DE: vector 0 ' \
		'^exception #GP-selector: vector 13 \(#GP\) .* err=0x2000$' \
		'^exception #PF-write: vector 14 \(#PF\) .* err=0x2 cr2=0x5000001234$' \
		'^exception #PF-protection: vector 14 .* err=0x3 ' '^exceptions: all 7 matched$'
	qemu $MV 1 128 $B/exceptions.elf "unhandled=1 pf_addr=0x7777000"
	check exceptions-unhandled 67 '^exception #PF-read: .* cr2=0x7777000$' \
		'^guest: unexpected exception 14 \(#PF\) rip=0x[0-9a-f]+ err=0x0 cr2=0x7777000 '
fi

if want smp; then
	qemu $MV 4 128 $B/smp.elf "cpus=4"
	check smp 1 '^smp: MADT lists 4 CPUs' '^smp: cpu 3 \(APIC 3\) checked in$' \
		'^smp: 4 of 4 CPUs checked in$'
	qemu $MV 1 128 $B/smp.elf "cpus=1"
	check smp-1 1 '^smp: 1 of 1 CPUs checked in$'
fi

if want memmap; then
	qemu $MV 1 256 $B/memmap.elf "mem_mib=256"
	check memmap 1 '^memmap: RAM total matches mem_mib=256$'
	qemu $MV 1 4096 $B/memmap.elf "mem_mib=4096"
	check memmap-4g 1 '^memmap: \[0x0100000000-' '^memmap: RAM total matches mem_mib=4096$'
	qemu $MV 1 256 $B/memmap.elf "mem_mib=512"
	check memmap-wrong 65 'not within 1 MiB below mem_mib=512'
fi

if want exitcode; then
	qemu $MV 1 128 $B/exitcode.elf "code=42"
	check exitcode 85 '^exitcode: exiting with code 42$'
	qemu $MV 1 128 $B/exitcode.elf "action=poweroff"
	check exitcode-poweroff 0 '^exitcode: powering off$'
	qemu $MV 1 128 $B/exitcode.elf "action=reset"
	check exitcode-reset 0 '^exitcode: resetting$'
fi

if want triplefault; then
	qemu $MV 1 128 $B/triplefault.elf ""
	check triplefault 0 '^triple fault now$'
	if [ "$(wc -l < "$tmp/out")" -ne 1 ]; then
		echo "FAIL triplefault: output after the fault"
		failed=$((failed + 1))
	fi
fi

if want serial-input; then
	# Input queued before boot (a file), then input arriving while the guest
	# waits (a pipe).
	printf 'hello lodge\n' > "$tmp/in.txt"
	STDIN="$tmp/in.txt" qemu $MV 1 128 $B/serial-input.elf ""
	check serial-input 1 '^ready$' '^got: hello lodge$' \
		'^serial-input: [1-9][0-9]* receive interrupts$'
	mkfifo "$tmp/in"
	(sleep 2; printf 'late line\n') > "$tmp/in" &
	STDIN="$tmp/in" qemu $MV 1 128 $B/serial-input.elf ""
	check serial-input-late 1 '^ready$' '^got: late line$' \
		'^serial-input: [1-9][0-9]* receive interrupts$'
	(sleep 2; printf 'polled line\n') > "$tmp/in" &
	STDIN="$tmp/in" qemu $MV 1 128 $B/serial-input.elf "poll=1"
	check serial-input-poll 1 '^ready$' '^got: polled line$'
	wait
fi

if want timer; then
	qemu $MV 1 128 $B/timer.elf "ticks=10"
	check timer 1 '^timer: one-shot interrupt arrived' '^timer: 10 periodic ticks'
fi

if want ring3; then
	qemu $MV 1 128 $B/ring3.elf ""
	check ring3 1 '^ring3: hello from ring 3$' '^ring3: CS in ring 3 was 0x33 \(CPL 3\)$' \
		'^ring3: read of supervisor page: #PF err=0x5 ' '^ring3: all checks passed$'
fi

if want fwcfg; then
	qemu $MV 2 256 $B/fwcfg.elf "mem_mib=256 cpus=2"
	check fwcfg 1 '^fwcfg: signature "QEMU"$' 'etc/e820$' '^fwcfg: all checks passed$'
fi

if want multiboot; then
	printf 'first module: MAGIC-1234\n' > "$tmp/mod1"
	printf 'second\000\001\002' > "$tmp/mod2"
	# On pc, SeaBIOS's banner shares the first line: not anchored.
	for m in pc $MV; do
		qemu $m 1 128 $B/multiboot.elf "module_magic=MAGIC-1234" \
			-initrd "$tmp/mod1 modarg=1,$tmp/mod2"
		check "multiboot-${m%%,*}" 1 'multiboot: booted via multiboot' \
			'^multiboot: module 0 .* "[^"]*mod1 modarg=1"$' '^multiboot: module 1 bytes: 73 65 63 ' \
			'^multiboot: module_magic "MAGIC-1234" found$'
	done
fi

if want demo; then
	qemu $MV 2 256 $B/demo.elf "console=ttyS0"
	check demo 0 '^=== lodge demo guest ===$' '^acpi: +device COM1 +_HID PNP0501$' \
		'^cpus: +2 of 2 checked in' '^=== powering off ===$'
fi

# --- virtio guests -------------------------------------------------------------
# QEMU's virtio-mmio transports default to the legacy interface (Version 1);
# the guests speak only the modern one. microvm with acpi=on does not add
# the virtio_mmio.device= words to the command line itself, so vmmio writes
# them: QEMU plugs the first -device into the last transport. With acpi=on
# microvm has a second IOAPIC and 24 transports at 0xfeb00000 + 512 * t on
# GSI 24 + t; with ioapic2=off, 8 transports on GSI 16 + t.
VIO="-global virtio-mmio.force-legacy=false"
MV1=$MV,ioapic2=off

# vmmio COUNT [TRANSPORTS GSI_BASE]: the words for the first COUNT -devices.
vmmio() {
	n=$1 nt=${2:-24} gsi=${3:-24} words="" i=0
	while [ "$i" -lt "$n" ]; do
		t=$((nt - 1 - i))
		size=512
		[ $((i % 2)) -eq 1 ] && size=0x200
		words="$words virtio_mmio.device=$size@$(printf '0x%x' $((0xfeb00000 + 512 * t))):$((gsi + t))"
		i=$((i + 1))
	done
	echo "${words# }"
}

# The disk image tool, scripts/blkimg.c (built by make as build/blkimg):
# "mkimg SECTORS DISK" writes the pattern image (sector n of disk d: 64 times
# the little-endian (n * 0x9E3779B97F4A7C15) ^ (d << 56)); "mkimg check FILE
# S C" checks what virtio-blk write=1 leaves: sectors [S, S+C) complemented,
# [S+C, S+2C) zero, the rest of the pattern outside [S+2C, S+3C) (discarded)
# untouched; "mkimg verify FILE DISK" checks the whole image is the pattern.
mkimg() {
	if [ ! -x "$B/blkimg" ]; then
		echo "qemu-check: $B/blkimg is missing (run make first)" >&2
		return 2
	fi
	"$B/blkimg" "$@"
}

# HMP command (for the balloon): qemu ... -chardev pipe,id=mon,path=$tmp/mon -mon chardev=mon.
monitor_send() {
	rm -f "$tmp/mon.in" "$tmp/mon.out"
	mkfifo "$tmp/mon.in" "$tmp/mon.out"
	echo "$1" > "$tmp/mon.in" &
	mon_writer=$!
	cat "$tmp/mon.out" > /dev/null &
	mon_reader=$!
}

monitor_done() {
	kill "$mon_writer" "$mon_reader" 2> /dev/null
	wait "$mon_writer" "$mon_reader" 2> /dev/null
}

if want virtio-rng; then
	# The extra entry at transport 0 has no device behind it (a placeholder).
	qemu $MV 1 128 $B/virtio-rng.elf "$(vmmio 1) virtio_mmio.device=512@0xfeb00000:24" \
		$VIO -device virtio-rng-device
	check virtio-rng 1 '^virtio: 2 command-line entries, 1 devices, 1 placeholders$' \
		'event_idx on, indirect on$' '^virtio-rng: requests 2 and 3 \(indirect chain\)' \
		'^virtio-rng: 4 requests, [0-9]+ kicks, [1-9][0-9]* interrupts$' \
		'^virtio-rng: all checks passed$'
	qemu $MV 1 128 $B/virtio-rng.elf "$(vmmio 1) poll=1" $VIO -device virtio-rng-device
	check virtio-rng-poll 1 'mode polled$' '^virtio-rng: 4 requests, [0-9]+ kicks, 0 interrupts$' \
		'^virtio-rng: all checks passed$'
	qemu $MV1 1 128 $B/virtio-rng.elf "$(vmmio 1 8 16) event_idx=0 indirect=0" \
		$VIO -device virtio-rng-device
	check virtio-rng-plain-ioapic1 1 'event_idx off, indirect off$' \
		'^virtio-rng: requests 2 and 3 \(direct chain\)' \
		'^virtio-rng: 4 requests, [0-9]+ kicks, [1-9][0-9]* interrupts$' \
		'^virtio-rng: all checks passed$'
	qemu $MV 1 128 $B/virtio-rng.elf "$(vmmio 1)" -device virtio-rng-device
	check virtio-rng-legacy 65 'id 4 \(entropy\) version 1 ' 'assertion failed'
fi

if want virtio-blk; then
	mkimg 4096 0 > "$tmp/disk0.img" && mkimg 2048 1 > "$tmp/disk1.img"
	blk0="-drive if=none,id=d0,format=raw,file=$tmp/disk0.img"
	blk1="-drive if=none,id=d1,format=raw,file=$tmp/disk1.img"
	qemu $MV 1 128 $B/virtio-blk.elf \
		"$(vmmio 1) sectors=4096 write=1 wsector=64 wcount=8 serial=lodge-disk-0 discard_zeroes=1" \
		$VIO $blk0,discard=unmap -device virtio-blk-device,drive=d0,serial=lodge-disk-0
	check virtio-blk 1 '^virtio-blk: device 0 is disk 0: 4096 sectors' \
		'^virtio-blk: batch: 16 requests in flight, one kick$' \
		'^virtio-blk: read beyond capacity: IOERR, device still works$' \
		'^virtio-blk: id "lodge-disk-0"$' '^virtio-blk: wrote sectors 64-71, flushed, read back$' \
		'^virtio-blk: write zeroes of sectors 72-79 read back as zeros$' \
		'^virtio-blk: discarded sectors 80-87, they read back as zeros$' \
		'^virtio-blk: [0-9]+ requests, [0-9]+ kicks, [1-9][0-9]* interrupts$' \
		'^virtio-blk: all checks passed$'
	if mkimg check "$tmp/disk0.img" 64 8 > "$tmp/err"; then
		echo "PASS virtio-blk-image"
		passed=$((passed + 1))
	else
		echo "FAIL virtio-blk-image: the image after write=1: $(cat "$tmp/err")"
		failed=$((failed + 1))
	fi
	mkimg 4096 0 > "$tmp/disk0.img"
	qemu $MV 1 128 $B/virtio-blk.elf "$(vmmio 1) sectors=4096 write=1 event_idx=0 indirect=0" \
		$VIO $blk0 -device virtio-blk-device,drive=d0
	check virtio-blk-plain 1 'event_idx off, indirect off' '^virtio-blk: id ""$' \
		'^virtio-blk: wrote sectors 64-71, flushed' '^virtio-blk: all checks passed$'
	mkimg 4096 0 > "$tmp/disk0.img"
	qemu $MV 1 128 $B/virtio-blk.elf "$(vmmio 1) poll=1 qsize=8 indirect=0 write=1" \
		$VIO $blk0 -device virtio-blk-device,drive=d0
	check virtio-blk-poll 1 'mode polled, event_idx on, indirect off, queue size 8$' \
		'^virtio-blk: multi-segment read: 6 segments' '^virtio-blk: batch: 2 requests in flight' \
		'^virtio-blk: [0-9]+ requests, [0-9]+ kicks, 0 interrupts$' \
		'^virtio-blk: all checks passed$'
	qemu $MV 1 128 $B/virtio-blk.elf "$(vmmio 1) ro=1 sectors=4096" \
		$VIO $blk0,readonly=on -device virtio-blk-device,drive=d0
	check virtio-blk-ro 1 '^virtio-blk: read-only: write got IOERR, sector unchanged$' \
		'^virtio-blk: all checks passed$'
	qemu $MV1 1 128 $B/virtio-blk.elf "$(vmmio 2 8 16) disks=2 sectors=4096 sectors1=2048" \
		$VIO $blk1,readonly=on -device virtio-blk-device,drive=d1 \
		$blk0,readonly=on -device virtio-blk-device,drive=d0
	check virtio-blk-2disks 1 '^virtio-blk: device 0 is disk 1: 2048 sectors' \
		'^virtio-blk: device 1 is disk 0: 4096 sectors' \
		'^virtio-blk: disk 1: first and last sectors match$' '^virtio-blk: all checks passed$'
fi

if want virtio-balloon; then
	# -m 128, "balloon 120": the device asks for 8 MiB = 2048 pages. QEMU
	# returns the stats buffer every second with the polling interval set.
	bal="-global virtio-balloon-device.guest-stats-polling-interval=1"
	bal="$bal -chardev pipe,id=mon,path=$tmp/mon -mon chardev=mon"
	monitor_send "balloon 120"
	qemu $MV 1 128 $B/virtio-balloon.elf "$(vmmio 1) wait_ms=20000 pages=2048 deflate=512 stats=1" \
		$VIO $bal -device virtio-balloon-device,free-page-reporting=on
	monitor_done
	check virtio-balloon 1 '^virtio-balloon: num_pages 2048, actual 0' \
		'^virtio-balloon: inflated 2048 pages at 0x[0-9a-f]+, actual 2048$' \
		'^virtio-balloon: deflated 512 pages, actual 1536, reused them' \
		'^virtio-balloon: answered [1-9][0-9]* stats requests' \
		'^virtio-balloon: reported 8 free pages in 5 segments, reused them$' \
		'^virtio-balloon: [0-9]+ requests, [0-9]+ kicks, [1-9][0-9]* interrupts$' \
		'^virtio-balloon: all checks passed$'
	monitor_send "balloon 124"
	qemu $MV 1 128 $B/virtio-balloon.elf \
		"$(vmmio 1) wait_ms=20000 pages=1024 poll=1 event_idx=0 indirect=0" \
		$VIO $bal -device virtio-balloon-device,deflate-on-oom=on
	monitor_done
	check virtio-balloon-poll 1 '^virtio-balloon: inflated 1024 pages' \
		'^virtio-balloon: deflated 512 pages, actual 512' \
		'^virtio-balloon: [0-9]+ requests, [0-9]+ kicks, 0 interrupts$' \
		'^virtio-balloon: all checks passed$'
	qemu $MV 1 128 $B/virtio-balloon.elf "$(vmmio 1)" $VIO -device virtio-balloon-device
	check virtio-balloon-idle 1 '^virtio-balloon: no pages requested$' \
		'^virtio-balloon: all checks passed$'
fi

if want virtio-net; then
	# Two NICs on one QEMU hub: NIC 0 pings NIC 1, the guest answers for both.
	nets="-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0"
	nets="$nets -device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"
	nets="$nets -device virtio-net-device,netdev=n1,mac=52:54:00:12:34:57"
	macs="mac=52:54:00:12:34:56 mac1=52:54:00:12:34:57"
	qemu $MV 1 128 $B/virtio-net.elf "$(vmmio 2) loopback=1 pings=4 $macs" $VIO $nets
	check virtio-net 1 '^virtio-net: nic 0 mac 52:54:00:12:34:56 ip 10.0.0.2, mrg_rxbuf on' \
		'^virtio-net: nic 1 answered ARP for 10.0.0.3$' '^virtio-net: 4 echo replies received$' \
		'^virtio-net: nic 0: [0-9]+ frames received, [0-9]+ sent, .* [1-9][0-9]* interrupts$' \
		'^virtio-net: all checks passed$'
	plain="mrg_rxbuf=0 event_idx=0 indirect=0"
	qemu $MV1 1 128 $B/virtio-net.elf \
		"$(vmmio 2 8 16) loopback=1 pings=3 ip=192.168.7.1 ip1=192.168.7.9 $plain" $VIO $nets
	check virtio-net-plain 1 'ip 192.168.7.1, mrg_rxbuf off, event_idx off, indirect off' \
		'^virtio-net: nic 1 answered ARP for 192.168.7.9$' '^virtio-net: 3 echo replies received$' \
		'^virtio-net: all checks passed$'
	qemu $MV 1 128 $B/virtio-net.elf "$(vmmio 2) loopback=1 poll=1" $VIO $nets
	check virtio-net-poll 1 '^virtio-net: 4 echo replies received$' \
		'^virtio-net: nic 1: .* 0 interrupts$' '^virtio-net: all checks passed$'
	qemu $MV 1 128 $B/virtio-net.elf "$(vmmio 1) seconds=1" $VIO \
		-netdev hubport,id=n0,hubid=0 -device virtio-net-device,netdev=n0
	check virtio-net-responder 1 '^virtio-net: sent gratuitous ARP$' \
		'^virtio-net: answered 0 ARP requests, 0 echo requests$' '^virtio-net: all checks passed$'
fi

if want virtio-hostile; then
	# QEMU survives every attack but two, which make it write disk data into
	# MMIO through its bounce buffer: buf-lapic (into the LAPIC page: the
	# guest takes an NMI) and buf-mmio (into the device's own registers).
	# QEMU answers many attacks differently from lodge's documented ABI (it
	# accepts bad queue sizes, rings and buffers outside RAM, refuses
	# zero-length buffers and short headers with DEVICE_NEEDS_RESET, ...), so
	# the guest runs with strict=0, which only reports those; the lines
	# checked are the attacks both answer alike, and every attack must leave
	# the devices working.
	all=$(sed -n 's/^\t{ "\([a-z0-9-]*\)", a_.*/\1/p' tests/virtio-hostile.c)
	list=$(echo "$all" | grep -v -x -e buf-lapic -e buf-mmio | paste -s -d, -)
	n=$(echo "$list" | tr ',' '\n' | wc -l)
	mkimg 2048 0 > "$tmp/disk0.img"
	qemu $MV 1 128 $B/virtio-hostile.elf "$(vmmio 2) strict=0 attack=$list" $VIO \
		-drive if=none,id=d0,format=raw,file="$tmp/disk0.img" \
		-device virtio-blk-device,drive=d0 -device virtio-rng-device
	set --
	for a in loop-self loop-2 chain-long next-out-of-range head-out-of-range \
		readable-after-writable len-huge indirect-len-odd indirect-len-zero indirect-huge \
		indirect-nested indirect-loop indirect-outside avail-jump; do
		set -- "$@" "^virtio-hostile: $a: DEVICE_NEEDS_RESET, config interrupt, later kicks ignored; recovered\$"
	done
	check virtio-hostile 1 "$@" \
		'^virtio-hostile: narrow-regs: narrow and misaligned reads give 0, narrow writes to Status ignored, narrow QueueNotify writes ignored, answered: blk status (0|0x0), used length 513; recovered$' \
		'^virtio-hostile: bad-requests: IOERR for bad sectors and lengths, UNSUPP for an unknown type, .*device still serves reads; recovered$' \
		'^virtio-hostile: reset-in-flight: reset with 128 reads in flight, 4 times: .*, nothing written after; recovered$' \
		"^virtio-hostile: all $n attacks survived\$"
	if mkimg verify "$tmp/disk0.img" 0 > "$tmp/err"; then
		echo "PASS virtio-hostile-image"
		passed=$((passed + 1))
	else
		echo "FAIL virtio-hostile-image: the image changed: $(cat "$tmp/err")"
		failed=$((failed + 1))
	fi
fi

if want virtio-vsock; then
	# QEMU's vsock device is vhost-vsock: it needs /dev/vhost-vsock and
	# ioeventfds, which QEMU's virtio-mmio offers only under KVM; these
	# checks run under TCG. So the vsock guest is not run here; the integration
	# case qemu-virtio-vsock runs it under QEMU on KVM (in the KVM lab).
	why="QEMU's vsock device needs vhost-vsock with KVM ioeventfds; these checks run under TCG"
	[ -c /dev/vhost-vsock ] || why="no /dev/vhost-vsock on this host ($why)"
	echo "SKIP virtio-vsock: $why"
	skipped=$((skipped + 1))
fi

summary="qemu-check: $passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
