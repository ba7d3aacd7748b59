#!/bin/sh
# The measuring half of bench/start (runs natively or inside the lab).
# Usage: bench/start-inner.sh native|partial|lab
set -u
where=${1:-native}
n=${BENCH_RUNS:-20}
b=build/bench
guest=$b/tiny.elf
qemu=$(command -v qemu-system-x86_64 || true)

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "bench/start: $n runs each, tiny PVH guest, where=$where"
floor=$($b/runs "$n" 1 $b/floor "$guest")
echo "floor  $floor"
lodge=$($b/runs "$n" 1 build/lodge run --kernel "$guest" --serial none --memory 128)
echo "lodge  $lodge"
if [ -n "$qemu" ]; then
	qemu_line=$($b/runs "$n" 1 "$qemu" -M microvm -accel kvm -cpu host -m 128 -smp 1 \
		-nographic -nodefaults -no-user-config -display none -serial none \
		-L /usr/share/qemu -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$guest")
	echo "qemu   $qemu_line"
else
	qemu_line=""
	echo "qemu   (qemu-system-x86_64 not installed: no QEMU column)"
fi
rss=$(LODGE_REPORT_RSS=1 build/lodge run --kernel "$guest" --serial none --memory 128 2>&1 >/dev/null |
	sed -n 's/.*rss: //p')
echo "lodge own memory at exit: $rss"
echo "where lodge's time goes (one run, LODGE_LOG=debug):"
LODGE_LOG=debug build/lodge run --kernel "$guest" --serial none --memory 128 2>&1 >/dev/null |
	sed -n 's/^lodge: trace: /  /p'
printf "%s\n" "  (the in-kernel PIT is created on the guest's first PIT access: this guest never makes one)"

f=$(field "$floor" mean_us)
l=$(field "$lodge" mean_us)
q=$(field "$qemu_line" mean_us)
own=$(field "$rss" own_kib)
awk -v f="$f" -v l="$l" -v q="${q:-0}" -v own="$own" -v where="$where" 'BEGIN {
	target = (where == "lab") ? 1.2 : 1.5;
	printf "ratio lodge/floor      %.2fx  (target <= %.1fx)\n", l / f, target;
	if (q > 0)
		printf "ratio qemu/lodge       %.2fx  (target >= %s)\n", q / l,
			(where == "lab") ? "n/a in the lab, floor is only ~5x below QEMU there" : "15x";
	printf "lodge own RSS (all RSS less resident guest RAM) %.2f MiB (target < 2 MiB)\n", own / 1024;
}'
