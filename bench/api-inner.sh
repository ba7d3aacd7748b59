#!/bin/sh
# The measuring half of bench/api. Usage: bench/api-inner.sh native|partial|lab
# (lab: part 2 goes into the KVM lab). BENCH_RUNS (default 20).
set -u
where=${1:-native}
n=${BENCH_RUNS:-20}
b=build/bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lodge-bench-api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "?") }'; }

part1() {
: > "$tmp/cpu"
: > "$tmp/wall"
: > "$tmp/floor"
for i in $(seq "$n"); do
	s=$tmp/api.$i.sock
	t0=$(now_us)
	build/lodge --api-sock "$s" --level Info 2> "$tmp/log" &
	pid=$!
	until curl -s --unix-socket "$s" http://localhost/ > /dev/null 2>&1; do :; done
	echo $(($(now_us) - t0)) >> "$tmp/wall"
	kill -TERM $pid
	wait $pid 2> /dev/null
	sed -n 's/.*serving .* (\([0-9]*\) CPU us after exec).*/\1/p' "$tmp/log" >> "$tmp/cpu"
	t0=$(now_us)
	$b/empty
	echo $(($(now_us) - t0)) >> "$tmp/floor"
done
cpu=$(median < "$tmp/cpu")
wall=$(median < "$tmp/wall")
floor=$(median < "$tmp/floor")
echo "bench/api: $n runs each, medians, where=$where"
echo "exec -> API socket: lodge's own CPU time ${cpu} us (target < 2000, Firecracker's figure 8000)"
echo "exec -> curl GET / answered: lodge ${wall} us wall, exec of an empty program ${floor} us" \
	"(the shell's timing includes curl's own start in every poll)"
}

# 2. InstanceStart -> running
part2() {
	: > "$tmp/start"
	for i in $(seq "$n"); do
		s=$tmp/start.$i.sock
		build/lodge --api-sock "$s" --level Info 2> "$tmp/log2" &
		pid=$!
		until curl -s --unix-socket "$s" http://localhost/ > /dev/null 2>&1; do :; done
		curl -s --unix-socket "$s" -X PUT http://localhost/boot-source \
			-d "{\"kernel_image_path\": \"$root/$b/tiny.elf\"}" > /dev/null
		curl -s --unix-socket "$s" -X PUT http://localhost/machine-config \
			-d '{"vcpu_count": 1, "mem_size_mib": 128}' > /dev/null
		curl -s --unix-socket "$s" -X PUT http://localhost/actions \
			-d '{"action_type": "InstanceStart"}' > /dev/null
		wait $pid 2> /dev/null
		sed -n 's/.*InstanceStart: the VM runs \([0-9]*\) us after the request.*/\1/p' \
			"$tmp/log2" >> "$tmp/start"
	done
	echo "InstanceStart -> VM running: $(median < "$tmp/start") us (median of $(wc -l < "$tmp/start"); target < 1000)"
}
root=$(pwd)
[ "$where" = lab-part2 ] || part1
if [ "$where" = lab ]; then
	echo "InstanceStart part: no usable /dev/kvm here: measuring inside the KVM lab"
	tests/lab/run --timeout 600 --include "$b" --include "$(command -v curl)" \
		--env BENCH_RUNS="$n" -- bench/api-inner.sh lab-part2 2>&1 | grep -E '^InstanceStart'
else
	part2
fi
