#!/bin/sh
# The measuring half of bench/blk (natively or inside the lab).
# Usage: bench/blk-inner.sh native|partial|lab
# BLK_MIB (image size, default 128), BLK_REQ_KIB (default 512), BLK_DEPTH (8),
# BLK_RAND (random reads, default 5000).
set -u
where=${1:-native}
mib=${BLK_MIB:-128}
req=${BLK_REQ_KIB:-512}
depth=${BLK_DEPTH:-8}
nrand=${BLK_RAND:-5000}
b=build/bench
guest=guest/build/blkbench.elf
img=${TMPDIR:-/tmp}/lodge-bench-blk.img
qemu=$(command -v qemu-system-x86_64 || true)
trap 'rm -f "$img"' EXIT

# MMIO exits to user space, counted by KVM's tracepoint kvm_userspace_exit
# (KVM's own counters vanish with the VM). Needs tracefs and root.
tr=/sys/kernel/tracing
[ -d $tr/events ] || mount -t tracefs nodev $tr 2> /dev/null || true
trace_on() {
	[ -w $tr/events/kvm/kvm_userspace_exit/enable ] || return 0
	echo > $tr/trace
	echo 1 > $tr/events/kvm/kvm_userspace_exit/enable
}
trace_count() {
	if [ -w $tr/events/kvm/kvm_userspace_exit/enable ]; then
		echo 0 > $tr/events/kvm/kvm_userspace_exit/enable
		grep -c 'reason KVM_EXIT_MMIO' $tr/trace
	else
		echo "?"
	fi
}

head -c $((mib * 1024 * 1024)) /dev/urandom > "$img"
echo "bench/blk: ${mib} MiB image, sequential ${req} KiB reads, ${nrand} random 4 KiB reads, depth $depth, where=$where"

# run_vmm NAME MODE ARGS...: the guest's line and the MMIO exits of one run.
run_vmm() {
	name=$1 m=$2
	shift 2
	trace_on
	line=$("$@" 2> "$b/$name.err" | tr -d '\r' | grep '^blkbench: ' || true)
	exits=$(trace_count)
	[ -n "$line" ] || { echo "$name $m: no result"; tail -n 5 "$b/$name.err"; }
	echo "$name $m: ${line#blkbench: *: } mmio_exits=$exits"
}

args_seq="mode=seq req_kib=$req depth=$depth"
args_rand="mode=rand count=$nrand depth=$depth"
for m in seq rand; do
	if [ $m = seq ]; then a=$args_seq; else a=$args_rand; fi
	# host: the page cache is warm for everyone (the image was just written)
	if [ $m = seq ]; then
		echo "host $m: $($b/readfile "$img" seq "$req")"
	else
		echo "host $m: $($b/readfile "$img" rand "$nrand")"
	fi
	run_vmm lodge $m build/lodge run --kernel "$guest" --memory 256 --serial stdio \
		--drive "$img,is_read_only=true,io_engine=Async" --cmdline "$a"
	run_vmm lodge-sync $m build/lodge run --kernel "$guest" --memory 256 --serial stdio \
		--drive "$img,is_read_only=true" --cmdline "$a"
	if [ -n "$qemu" ]; then
		run_vmm qemu $m "$qemu" -M microvm,acpi=on -accel kvm -cpu host -m 256 -smp 1 \
			-nographic -nodefaults -no-user-config -display none -serial stdio -no-reboot \
			-L /usr/share/qemu -device isa-debug-exit,iobase=0xf4,iosize=4 \
			-global virtio-mmio.force-legacy=false \
			-drive "id=d0,file=$img,format=raw,if=none,readonly=on,aio=io_uring" \
			-device virtio-blk-device,drive=d0 -kernel "$guest" \
			-append "virtio_mmio.device=512@0xfeb02e00:47 $a"
	fi
done > "$b/blk.txt"
cat "$b/blk.txt"

# ratios: MB/s from the guest's ms; exits per request
awk '
function num(s, k,   i, n, a) { n = split(s, a, /[ ,]+/); for (i = 1; i <= n; i++) if (a[i] ~ "^" k "=") { sub(k "=", "", a[i]); return a[i] + 0 } return -1 }
/^host / { split($2, m, ":"); host[m[1]] = num($0, "bytes") / (num($0, "ms") > 0 ? num($0, "ms") : 1) / 1000 }
/^(lodge|lodge-sync|qemu) [a-z]+: [0-9]+ bytes/ {
	split($2, m, ":"); who = $1; md = m[1];
	bytes = $3; reqs = $6; ms = $8;
	mbs[who, md] = bytes / (ms > 0 ? ms : 1) / 1000;
	epr[who, md] = num($0, "mmio_exits") / reqs;
	seen[who] = 1
}
END {
	for (md in host) {
		printf "%s: host %.0f MB/s", md, host[md];
		for (w in seen) printf ", %s %.0f MB/s (%.0f%% of host, %.3f MMIO exits/request)", w, mbs[w, md], 100 * mbs[w, md] / host[md], epr[w, md];
		printf "\n";
		if (("qemu", md) in mbs && mbs["qemu", md] > 0)
			printf "%s: ratio lodge/qemu throughput %.2fx, exits per request lodge %.3f vs qemu %.3f\n", md, mbs["lodge", md] / mbs["qemu", md], epr["lodge", md], epr["qemu", md];
	}
	print "targets: sequential >= 90% of host; fewer exits per request than QEMU";
}' "$b/blk.txt"
