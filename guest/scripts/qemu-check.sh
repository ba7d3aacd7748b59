#!/bin/sh
# Boot every test guest under QEMU's emulator (TCG, microvm with ACPI; the
# multiboot guest also on pc) and check its exit status and output, the same
# facts tests/integration/cases/guest-*.sh check under lodge. QEMU differs
# from lodge only where noted: a triple fault with -no-reboot exits 0 (lodge:
# 4). Run from guest/ after `make`: sh scripts/qemu-check.sh [NAME...]
#
# Environment: QEMU (default qemu-system-x86_64), CPU (QEMU -cpu model, default
# max), TIMEOUT (seconds per boot, default 60).

: "${QEMU:=qemu-system-x86_64}"
: "${TIMEOUT:=60}"
: "${CPU:=max}"
B=build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/guest-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
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

echo "qemu-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
