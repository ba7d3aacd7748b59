#!/bin/sh
# The measuring half of bench/restore (runs natively or inside the lab).
# Usage: bench/restore-inner.sh native|partial|lab
# Knobs (environment, defaults in brackets):
#   BENCH_RUNS [20]               timed runs per restore figure
#   RESTORE_SIZES [128 512 1024 4096]  guest sizes, MiB
#   RESTORE_WS [16]               MiB the guest writes before its snapshot
#   TOUCH_MEM [512] TOUCH_MIB [4 16 64] TOUCH_RUNS [3]   first touch
#   CLONES [1 10 100] CLONE_MEM [32] CLONE_WS [8] CLONE_TOUCH [2]   clones:
#       guest size, MiB written before the snapshot, MiB each clone writes
#   QEMU_CLONES [= CLONES; in the lab 1 10; "" skips]   QEMU -incoming clones of
#       the same guest (~45 MiB each: 100 of them may not fit in the lab's RAM)
set -u
where=${1:-native}
n=${BENCH_RUNS:-20}
sizes=${RESTORE_SIZES:-128 512 1024 4096}
ws=${RESTORE_WS:-16}
touch_mem=${TOUCH_MEM:-512}
touch_mib=${TOUCH_MIB:-4 16 64}
touch_runs=${TOUCH_RUNS:-3}
clones=${CLONES:-1 10 100}
clone_mem=${CLONE_MEM:-32}
clone_ws=${CLONE_WS:-8}
clone_touch=${CLONE_TOUCH:-2}
qemu_clones=${QEMU_CLONES-$clones}
[ "$where" = lab ] && qemu_clones=${QEMU_CLONES-1 10}
root=$(pwd)
b=$root/build/bench
lodge=$root/build/lodge
guest=$b/restore.elf
vmctl=$b/vmctl
qemu=$(command -v qemu-system-x86_64 || true)
hyperfine=$(command -v hyperfine || true)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lodge-bench-restore.XXXXXX")
pids=""         # what is running now, for the trap
cleanup() {
	for p in $pids; do kill -KILL "$p" 2> /dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "?") }'; }
# ratio A B: A / B with one decimal, "?" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f", a / b; else print "?" }'; }

# wait_line FILE REGEX SECONDS PID: until FILE has a line matching REGEX; 1 when PID
# ended or the time ran out first.
wait_line() {
	wl=0
	until grep -q -- "$2" "$1" 2> /dev/null; do
		wl=$((wl + 1))
		[ $wl -lt $(($3 * 100)) ] && kill -0 "$4" 2> /dev/null || return 1
		sleep 0.01
	done
}

# lodge_snapshot MiB ARGS NAME: boot the bench guest (cmdline ARGS) through
# the API, snapshot it at "restore: ready" into $tmp/NAME.{state,mem}.
lodge_snapshot() {
	cat > "$tmp/$3.json" << JSON
{"boot-source": {"kernel_image_path": "$guest", "boot_args": "$2"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": $1}}
JSON
	rm -f "$tmp/snap.sock"
	"$lodge" --api-sock "$tmp/snap.sock" --config-file "$tmp/$3.json" < /dev/null \
		> "$tmp/$3.boot" 2>&1 &
	sp=$!
	pids=$sp
	if ! wait_line "$tmp/$3.boot" '^restore: ready' 120 $sp; then
		kill -KILL $sp 2> /dev/null
		wait $sp 2> /dev/null
		pids=""
		echo "bench/restore: the $1 MiB guest ($2) never got ready:" >&2
		tail -n 5 "$tmp/$3.boot" >&2
		return 1
	fi
	"$vmctl" http "$tmp/snap.sock" PATCH /vm '{"state": "Paused"}' &&
		"$vmctl" http "$tmp/snap.sock" PUT /snapshot/create \
			"{\"snapshot_path\": \"$tmp/$3.state\", \"mem_file_path\": \"$tmp/$3.mem\"}"
	st=$?
	kill -TERM $sp
	wait $sp 2> /dev/null
	pids=""
	return $st
}

qcpu=host
[ "$where" = partial ] && qcpu=qemu64   # kvm_pvm: QEMU's -cpu host fails there
# qemu_cmd MiB ARGS: QEMU microvm's command line for the bench guest (without -serial).
qemu_cmd() {
	echo "$qemu -M microvm -accel kvm -cpu $qcpu -m $1 -smp 1 -nographic -nodefaults" \
		"-no-user-config -display none -L /usr/share/qemu" \
		"-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $guest"
}

# qemu_snapshot MiB ARGS NAME: the same under QEMU, saved paused with
# migrate into $tmp/NAME.mig.
qemu_snapshot() {
	rm -f "$tmp/qsnap.sock" "$tmp/$3.qboot"
	# shellcheck disable=SC2046
	$(qemu_cmd "$1") -append "$2" -serial "file:$tmp/$3.qboot" \
		-qmp "unix:$tmp/qsnap.sock,server=on,wait=off" < /dev/null > "$tmp/$3.qerr" 2>&1 &
	sp=$!
	pids=$sp
	if ! wait_line "$tmp/$3.qboot" '^restore: ready' 120 $sp; then
		kill -KILL $sp 2> /dev/null
		wait $sp 2> /dev/null
		pids=""
		echo "bench/restore: QEMU: the $1 MiB guest never got ready:" >&2
		tail -n 3 "$tmp/$3.qerr" "$tmp/$3.qboot" >&2
		return 1
	fi
	"$vmctl" qmp "$tmp/qsnap.sock" '{"execute": "stop"}' \
		"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > $tmp/$3.mig\"}}" \
		wait-migration '{"execute": "quit"}'
	st=$?
	[ $st -eq 0 ] || kill -KILL $sp 2> /dev/null
	wait $sp 2> /dev/null
	pids=""
	return $st
}

# time_cmd STATUS CMD...: "mean_us= median_us= ..." of N runs of CMD (expected
# exit STATUS): hyperfine where installed (natively), else bench/runs.c.
time_cmd() {
	want=$1
	shift
	if [ -n "$hyperfine" ]; then
		"$@" < /dev/null > /dev/null 2>&1
		[ $? -eq "$want" ] || { echo "failed=1"; return; }
		"$hyperfine" -N -i --warmup 2 --runs "$n" --export-csv "$tmp/h.csv" "$*" > /dev/null 2>&1 ||
			{ echo "failed=1"; return; }
		awk -F, 'NR == 2 { printf "mean_us=%.0f median_us=%.0f min_us=%.0f stddev_us=%.0f tool=hyperfine\n",
			$2 * 1e6, $4 * 1e6, $7 * 1e6, $3 * 1e6 }' "$tmp/h.csv"
	else
		"$b/runs" "$n" "$want" "$@"
	fi
}

# trace_point STATE MEM BACKEND POINT: median over 5 runs of lodge's own
# "+N us POINT" trace (LODGE_LOG=debug), from its start.
trace_point() {
	for i in 1 2 3 4 5; do
		LODGE_LOG=debug "$lodge" run --restore "$1" --mem "$2" --mem-backend "$3" \
			< /dev/null 2>&1 > /dev/null | sed -n "s/^lodge: trace: +\([0-9]*\) us $4\$/\1/p"
	done | median
}

echo "bench/restore: where=$where, $n runs per figure, guest ws=$ws MiB written before the snapshot" \
	"(guest sizes are RAM; memory files are sparse)"
[ -n "$hyperfine" ] && echo "  lodge run --restore timed with $hyperfine" ||
	echo "  lodge run --restore timed with bench/runs.c (no hyperfine)"
[ -n "$qemu" ] || echo "  (qemu-system-x86_64 not installed: no QEMU columns)"

# 0. The host's floor: what any VMM pays for a VM that can run, per process.
fl0=$("$b/runs" "$n" 0 "$b/vmfloor")
fl1=$("$b/runs" "$n" 0 "$b/vmfloor" irqchip)
echo "host floor (bench/vmfloor, a process creating a VM, a memory slot and a vCPU): $fl0"
echo "  the same with an in-kernel irqchip (KVM_CREATE_IRQCHIP, as lodge): $fl1"

# 1. Restore to running, per guest size.
: > "$tmp/table"
for m in $sizes; do
	echo "== $m MiB guest"
	lodge_snapshot "$m" "ws=$ws touch=0" "x$m" || continue
	lodge_snapshot "$m" "ws=$ws touch=0 idle" "i$m" || continue
	echo "  memory file: $(du -k "$tmp/x$m.mem" | cut -f1) KiB allocated of $m MiB"
	cf=$(time_cmd 1 "$lodge" run --restore "$tmp/x$m.state" --mem "$tmp/x$m.mem" \
		--mem-backend file)
	echo "  lodge run --restore, file: start -> exit $cf"
	cu=$(time_cmd 1 "$lodge" run --restore "$tmp/x$m.state" --mem "$tmp/x$m.mem" \
		--mem-backend uffd)
	echo "  lodge run --restore, uffd: start -> exit $cu"
	tf=$(trace_point "$tmp/x$m.state" "$tmp/x$m.mem" file "threads started")
	tu=$(trace_point "$tmp/x$m.state" "$tmp/x$m.mem" uffd "threads started")
	kf=$(trace_point "$tmp/x$m.state" "$tmp/x$m.mem" file kvm_map_memory)
	echo "  lodge's own trace (median of 5): vCPUs running ${tf} us (file), ${tu} us (uffd)" \
		"after its start; ${kf} us of it to kvm_map_memory"
	rm -f "$tmp/api.log"
	body="{\"snapshot_path\": \"$tmp/i$m.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$tmp/i$m.mem\"}, \"resume_vm\": true}"
	api=$("$vmctl" torun "$n" api "$tmp/api.sock" "$body" -e "$tmp/api.log" \
		-- "$lodge" --api-sock "$tmp/api.sock" --level Info)
	logged=$(sed -n 's/.* the VM runs \([0-9]*\) us after the request.*/\1/p' "$tmp/api.log" | median)
	echo "  lodge API: start -> PUT /snapshot/load answered (VM running): $api"
	echo "  lodge API: lodge's log: the VM runs ${logged} us after the request (median)"
	q=""
	if [ -n "$qemu" ] && qemu_snapshot "$m" "ws=$ws touch=0 idle" "q$m"; then
		echo "  QEMU migration file: $(du -k "$tmp/q$m.mig" | cut -f1) KiB"
		# shellcheck disable=SC2046
		q=$("$vmctl" torun "$n" qmp "$tmp/q.sock" -f "$tmp/q$m.mig" -e "$tmp/qemu.log" \
			-- $(qemu_cmd "$m") -append "ws=$ws touch=0 idle" -serial file:/dev/null \
			-qmp "unix:$tmp/q.sock,server=on,wait=off" -incoming fd:3)
		echo "  QEMU -incoming: start -> running (query-status): $q"
	fi
	printf '%s %s %s %s %s %s %s %s %s\n' "$m" "$(field "$cf" median_us)" \
		"$(field "$cu" median_us)" "${tf:-?}" "$(field "$api" req_median_us)" "${logged:-?}" \
		"$(field "$api" median_us)" "$(field "$q" median_us)" \
		"$(ratio "$(field "$q" median_us)" "$(field "$api" median_us)")" >> "$tmp/table"
done

# 2. First touch of the working set: after a restore (file, uffd) and on a fresh boot.
echo "== first touch: $touch_mem MiB guest, the guest's own TSC time of one pass" \
	"(median of $touch_runs), one word per 4 KiB page"
: > "$tmp/ttable"
for t in $touch_mib; do
	row="$t"
	for i in $(seq "$touch_runs"); do
		"$lodge" run --kernel "$guest" --cmdline "ws=$t fresh" --memory "$touch_mem" \
			--serial stdio < /dev/null 2> /dev/null |
			sed -n 's/^restore: boot touch .* \([0-9]*\) us .*/\1/p'
	done | median > "$tmp/v"
	row="$row $(cat "$tmp/v")"
	for mode in write read; do
		r=""
		[ $mode = read ] && r=" read"
		lodge_snapshot "$touch_mem" "ws=$t$r" "t$t$mode" || { row="$row ? ?"; continue; }
		for be in file uffd; do
			for i in $(seq "$touch_runs"); do
				"$lodge" run --restore "$tmp/t$t$mode.state" --mem "$tmp/t$t$mode.mem" \
					--mem-backend $be < /dev/null 2> /dev/null |
					sed -n 's/^restore: restored touch .* \([0-9]*\) us .*/\1/p'
			done | median > "$tmp/v"
			row="$row $(cat "$tmp/v")"
		done
		rm -f "$tmp/t$t$mode.mem"
	done
	echo "$row" >> "$tmp/ttable"
done

# 3. Clones: K restores of one snapshot at once, each writing CLONE_TOUCH MiB, then idle.
# sum_smaps PIDS: "rss pss private_dirty" in KiB, summed over PIDS.
sum_smaps() {
	for p in $1; do cat "/proc/$p/smaps_rollup"; done 2> /dev/null | awk '
		/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } /^Private_Dirty:/ { d += $2 }
		END { printf "%d %d %d\n", r, p, d }'
}
# stop_all PIDS: SIGTERM each, wait.
stop_all() {
	for p in $1; do kill -TERM "$p" 2> /dev/null; done
	for p in $1; do wait "$p" 2> /dev/null; done
	pids=""
}
: > "$tmp/ctable"
if lodge_snapshot "$clone_mem" "ws=$clone_ws touch=$clone_touch idle" clone; then
	echo "== clones: $clone_mem MiB guest, $clone_ws MiB written before the snapshot," \
		"$clone_touch MiB written by each clone"
	for k in $clones; do
		cp=""
		for i in $(seq "$k"); do
			"$lodge" run --restore "$tmp/clone.state" --mem "$tmp/clone.mem" < /dev/null \
				> "$tmp/c$i.out" 2>&1 &
			cp="$cp $!"
		done
		pids=$cp
		i=0
		bad=0
		for p in $cp; do
			i=$((i + 1))
			wait_line "$tmp/c$i.out" '^restore: idle' 120 "$p" || bad=$((bad + 1))
		done
		# shellcheck disable=SC2046
		set -- $(sum_smaps "$cp")
		note=""
		[ $bad -eq 0 ] || note=" ($bad never got idle)"
		echo "  lodge x$k: RSS $1 KiB, PSS $2 KiB, private dirty $3 KiB in all$note"
		echo "lodge $k $1 $2 $3 $bad" >> "$tmp/ctable"
		stop_all "$cp"
	done
fi
if [ -n "$qemu" ] && [ -n "$qemu_clones" ] && qemu_snapshot "$clone_mem" \
	"ws=$clone_ws touch=$clone_touch idle" qclone; then
	for k in $qemu_clones; do
		cp=""
		for i in $(seq "$k"); do
			rm -f "$tmp/qc$i.sock"
			# shellcheck disable=SC2046
			$(qemu_cmd "$clone_mem") -append "ws=$clone_ws touch=$clone_touch idle" \
				-serial file:/dev/null -qmp "unix:$tmp/qc$i.sock,server=on,wait=off" \
				-incoming fd:3 3< "$tmp/qclone.mig" < /dev/null > /dev/null 2>&1 &
			cp="$cp $!"
		done
		pids=$cp
		bad=0
		for i in $(seq "$k"); do
			"$vmctl" qmp "$tmp/qc$i.sock" wait-running || bad=$((bad + 1))
		done
		# shellcheck disable=SC2046
		set -- $(sum_smaps "$cp")
		note=""
		[ $bad -eq 0 ] || note=" ($bad never ran)"
		echo "  QEMU x$k: RSS $1 KiB, PSS $2 KiB, private dirty $3 KiB in all$note"
		echo "qemu $k $1 $2 $3 $bad" >> "$tmp/ctable"
		stop_all "$cp"
	done
fi

# Summary.
echo
echo "summary (medians, us; where=$where)"
echo "restore to running: lodge run --restore is start -> guest exit (whole process);"
echo "  own = lodge's trace, its start -> vCPUs running; req = the PUT /snapshot/load request"
echo "  alone; log = lodge's 'VM runs N us after the request'; API and QEMU = process start ->"
echo "  VM running through the control socket (like with like); ratio = QEMU / lodge API"
printf '%-6s %9s %9s %7s %7s %7s %9s %9s %7s\n' MiB run-file run-uffd own req log API QEMU ratio
while read -r m cf cu tf req lg api q r; do
	printf '%-6s %9s %9s %7s %7s %7s %9s %9s %7s\n' "$m" "$cf" "$cu" "$tf" "$req" "$lg" "$api" \
		"${q:-n/a}" "${r:-n/a}"
done < "$tmp/table"
awk '$7 > 0 { if (!min || $7 < min) min = $7; if ($7 > max) max = $7 }
	$9 > 0 && (!rmin || $9 < rmin) { rmin = $9 }
	END {
		if (min) printf "lodge API start -> running: %d..%d us over the sizes (target: ~1000, independent of size)\n", min, max;
		if (rmin) printf "QEMU / lodge: at least %.1fx (target >= 20x)\n", rmin;
	}' "$tmp/table"
echo "host floor per process: $(field "$fl0" median_us) us bare VM," \
	"$(field "$fl1" median_us) us with an in-kernel irqchip (lodge's own figures include it)"
echo "first touch ($touch_mem MiB guest; us per pass, us per 4 KiB page in brackets):"
printf '%-6s %14s %14s %14s %14s %14s\n' MiB fresh-boot file-write uffd-write file-read uffd-read
while read -r t fr fw uw frd urd; do
	pages=$((t * 256))
	set -- "$fr" "$fw" "$uw" "$frd" "$urd"
	line=$(printf '%-6s' "$t")
	for v in "$@"; do
		line="$line $(awk -v v="$v" -v p="$pages" 'BEGIN { if (v == "?" || v == "") printf "%14s", "?";
			else printf "%14s", sprintf("%d (%.2f)", v, v / p) }')"
	done
	echo "$line"
done < "$tmp/ttable"
if [ -s "$tmp/ctable" ]; then
	echo "clone memory (KiB, all clones together; per clone = PSS / K; growth = PSS added per"
	echo "  clone beyond the first; each clone writes $clone_touch MiB of its $clone_mem MiB guest):"
	printf '%-6s %5s %10s %10s %10s %10s %10s\n' VMM K RSS PSS priv-dirty PSS/clone growth
	awk '{ if ($2 == 1) one[$1] = $4 }
		{ g = ($2 > 1 && one[$1]) ? sprintf("%d", ($4 - one[$1]) / ($2 - 1)) : "-";
		  printf "%-6s %5d %10d %10d %10d %10d %10s%s\n", $1, $2, $3, $4, $5, $4 / $2, g,
			$6 ? "  (" $6 " failed)" : "" }' "$tmp/ctable"
fi
