# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Linux's virtio_balloon driver against lodge's virtio-balloon.
# 1. A 64 MiB balloon in 256 MiB with deflate-on-OOM, statistics every
#    second and free page reporting: the driver inflates all of it, the
#    guest then dirties and frees 96 MiB more; lodge reports (info level, at
#    exit) the pages inflated and reported and the bytes it released, and
#    LODGE_REPORT_RSS shows guest RAM resident on the host at exit well
#    under lodge's peak RSS.
# 2. A 16 MiB balloon with statistics only (statsq at index 2, nothing to
#    report): the guest's MemTotal shrinks by it, it stays inflated, and the
#    statistics it sends every second reach lodge.
# 3. What lodge refuses, in one line: a balloon larger than RAM, free page
#    hinting.
. "$LINUX/case-lib.sh"
VIRTIO0="virtio_mmio.device=4K@0xd0000000:5"

# count NAME: the number after "NAME " in lodge's balloon lines
count() {
	grep -a 'virtio-balloon: ' "$TMP/err" | tr ',;:' '\n\n\n' |
		sed -n "s/^ *$1 \([0-9][0-9]*\).*/\1/p" | head -n 1
}

# rss NAME: a value of the LODGE_REPORT_RSS line
rss() {
	sed -n "s/^lodge: rss:.* $1=\([0-9]*\).*/\1/p" "$TMP/err"
}

export LODGE_REPORT_RSS=1
linux_boot "$LINUX/vmlinux" 1 256 \
	"lodge.modules=virtio_mmio,virtio_balloon lodge.test.script=balloon lodge.balloon.pages=16384 lodge.balloon.churn=96 lodge.balloon.linger=5" \
	--balloon 64,deflate_on_oom=true,stats_polling_interval_s=1,free_page_reporting=true \
	--log-level info
unset LODGE_REPORT_RSS
LINUX_CMDLINE="$LINUX_CMDLINE $VIRTIO0"
expect_status 0
linux_expect_ok
expect_out 'BALLOON-INFO inflated=16384 '
expect_out 'BALLOON-INFO churned=96MiB'
expect_err 'virtio-balloon: target 16384 pages, actual 16384; inflated 16384, deflated 0, reported [1-9][0-9]* pages, 0 invalid PFNs'
expect_err 'virtio-balloon: last statistics \([0-9]+ received\):.* free_memory=[1-9][0-9]* total_memory=[1-9]'
released=$(count released)
reported=$(count reported)
guest_kib=$(rss guest_kib)
hwm_kib=$(rss hwm_kib)
echo "  released $released bytes, reported $reported pages; guest RAM resident at exit ${guest_kib:-?} KiB, peak RSS ${hwm_kib:-?} KiB"
# the balloon's 64 MiB and most of the 96 MiB the guest freed went back
[ "$released" -ge $(((64 + 64) * 1024 * 1024)) ] ||
	{ show_output; fail "lodge released $released bytes, expected at least 128 MiB"; }
[ "$reported" -ge $((64 * 256)) ] ||
	{ show_output; fail "the guest reported $reported free pages, expected at least 64 MiB"; }
# and the host saw it: the guest touched 64 + 96 MiB beyond its own use (a
# 256 MiB guest without a balloon keeps about 80 MiB resident here), yet
# what stays resident at exit is under 128 MiB and at least 64 MiB below
# lodge's peak
[ -n "$guest_kib" ] && [ -n "$hwm_kib" ] ||
	{ show_output; fail "no LODGE_REPORT_RSS line"; }
[ "$guest_kib" -lt $((128 * 1024)) ] && [ $((hwm_kib - guest_kib)) -ge $((64 * 1024)) ] ||
	{ show_output; fail "guest RAM resident at exit: $guest_kib KiB, peak RSS $hwm_kib KiB"; }

linux_boot "$LINUX/vmlinux" 1 256 \
	"lodge.modules=virtio_mmio,virtio_balloon lodge.test.script=balloon lodge.balloon.pages=4096 lodge.balloon.memtotal=1 lodge.balloon.linger=3" \
	--balloon 16,stats_polling_interval_s=1 --log-level info
LINUX_CMDLINE="$LINUX_CMDLINE $VIRTIO0"
expect_status 0
linux_expect_ok
expect_out 'BALLOON-INFO inflated=4096 '
expect_err 'virtio-balloon: target 4096 pages, actual 4096; inflated 4096, deflated 0, reported 0 pages, 0 invalid PFNs'
expect_err 'virtio-balloon: last statistics \(([3-9]|[1-9][0-9]+) received\):.* free_memory=[1-9][0-9]* total_memory=[1-9]'

lodge_run --kernel "$LINUX/vmlinux" --memory 32 --balloon 64
expect_status 2
expect_one_line_err
expect_err '^lodge: virtio-balloon: amount_mib 64 is more than the guest.s 32 MiB of RAM$'
lodge_run --kernel "$LINUX/vmlinux" --memory 32 --balloon 8,free_page_hinting=true
expect_status 2
expect_one_line_err
expect_err '^lodge: virtio-balloon: free_page_hinting: not supported$'
