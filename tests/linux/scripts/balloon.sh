# Sourced by /init (tests/linux/init.sh) with lodge.test.script=balloon:
# drives lodge's virtio-balloon through Linux's virtio_balloon driver. Keys:
#   lodge.balloon.pages=N     wait (up to 90 s) until the balloon holds N
#                             4 KiB pages (/proc/vmstat balloon_inflate minus
#                             balloon_deflate; Linux 6.1 has no other gauge,
#                             and with deflate_on_oom MemTotal does not move)
#   lodge.balloon.memtotal=1  MemTotal must have shrunk by those pages (the
#                             driver takes them off the managed count only
#                             without VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#   lodge.balloon.churn=MiB   then write MiB to a file in the initramfs and
#                             delete it: freed pages free page reporting
#                             should hand to the host
#   lodge.balloon.linger=S    then stay S seconds (statistics polls, reports)
# Reports lines "BALLOON-INFO ..." and calls failed() for each problem.

bl_pages="" bl_memtotal="" bl_churn="" bl_linger=""
for w in $cmdline; do
	case $w in
	lodge.balloon.pages=*) bl_pages=${w#*=} ;;
	lodge.balloon.memtotal=1) bl_memtotal=1 ;;
	lodge.balloon.churn=*) bl_churn=${w#*=} ;;
	lodge.balloon.linger=*) bl_linger=${w#*=} ;;
	esac
done

# balloon_held: pages in the balloon now
balloon_held() {
	awk '$1 == "balloon_inflate" { i = $2 } $1 == "balloon_deflate" { d = $2 }
		END { print i - d }' /proc/vmstat
}

if [ -n "$bl_pages" ]; then
	i=0
	held=$(balloon_held)
	while [ "$held" -lt "$bl_pages" ] && [ $i -lt 900 ]; do
		sleep 0.1
		i=$((i + 1))
		held=$(balloon_held)
	done
	echo "BALLOON-INFO inflated=$held after ${i}00 ms"
	[ "$held" -ge "$bl_pages" ] || failed "balloon holds $held pages, expected $bl_pages"
	now_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
	echo "BALLOON-INFO memtotal_kib=$now_kib"
	if [ -n "$bl_memtotal" ] && [ -n "$exp_mem" ]; then
		max=$((exp_mem * 1024 - bl_pages * 4))
		[ "$now_kib" -le "$max" ] ||
			failed "MemTotal $now_kib KiB with a $bl_pages-page balloon, expected at most $max"
	fi
fi

if [ -n "$bl_churn" ]; then
	dd if=/dev/zero of=/balloon-churn bs=1M count="$bl_churn" 2> /dev/null ||
		failed "writing $bl_churn MiB to /balloon-churn failed"
	rm -f /balloon-churn
	echo "BALLOON-INFO churned=${bl_churn}MiB"
fi

[ -z "$bl_linger" ] || sleep "$bl_linger"
