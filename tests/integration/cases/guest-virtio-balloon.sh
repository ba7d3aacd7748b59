# virtio-balloon: the balloon guest against lodge --balloon. 8 MiB of 128 MiB
# (2048 pages) with deflate-on-OOM, statistics every second and free page
# reporting: the guest inflates 2048 pages, deflates 512 and reuses them,
# answers statistics requests and reports 8 free pages; lodge must count
# the same (--log-level info, at exit), release the inflated pages (they
# read back changed) and show the guest's statistics. Then polled without
# EVENT_IDX and indirect descriptors and without the optional queues, and
# a balloon of 0 MiB that asks for nothing.
lodge_run --kernel "$GUESTS/virtio-balloon.elf" \
	--cmdline "wait_ms=5000 pages=2048 deflate=512 stats=2" --cpus 1 --memory 128 \
	--balloon 8,deflate_on_oom=true,stats_polling_interval_s=1,free_page_reporting=true \
	--log-level info
expect_status 1
expect_out '^virtio: device 0 at 0xd0000000 size 0x1000 irq 5: id 5 \(balloon\) version 2 vendor 0x45444f4c$'
expect_out 'stats on, page reporting on, must tell host off$'
expect_out '^virtio-balloon: num_pages 2048, actual 0'
expect_out '^virtio-balloon: inflated 2048 pages at 0x[0-9a-f]+, actual 2048$'
expect_out '^virtio-balloon: deflated 512 pages, actual 1536, reused them \(content before reuse: changed\)$'
expect_out '^virtio-balloon: answered ([2-9]|[1-9][0-9]+) stats requests'
expect_out '^virtio-balloon: reported 8 free pages in 5 segments, reused them$'
expect_out '^virtio-balloon: [0-9]+ requests, [0-9]+ kicks, [1-9][0-9]* interrupts$'
expect_out '^virtio-balloon: all checks passed$'
expect_err 'virtio-balloon: target 2048 pages, actual 1536; inflated 2048, deflated 512, reported 8 pages, 0 invalid PFNs; released [0-9]+ bytes'
expect_err 'virtio-balloon: last statistics \(([2-9]|[1-9][0-9]+) received\): free_memory=[1-9][0-9]* total_memory=[1-9][0-9]* available_memory=[1-9]'
released=$(sed -n 's/.*virtio-balloon: target .*; released \([0-9]*\) bytes.*/\1/p' "$TMP/err")
[ "${released:-0}" -ge $((2048 * 4096)) ] ||
	{ show_output; fail "lodge released ${released:-?} bytes, expected at least 8 MiB"; }

lodge_run --kernel "$GUESTS/virtio-balloon.elf" \
	--cmdline "wait_ms=5000 pages=1024 poll=1 event_idx=0 indirect=0" --cpus 1 --memory 128 \
	--balloon 4 --log-level info
expect_status 1
expect_out 'stats off, page reporting off, must tell host off$'
expect_out '^virtio-balloon: inflated 1024 pages at 0x[0-9a-f]+, actual 1024$'
expect_out '^virtio-balloon: deflated 512 pages, actual 512, reused them'
expect_out '^virtio-balloon: [0-9]+ requests, [0-9]+ kicks, 0 interrupts$'
expect_out '^virtio-balloon: all checks passed$'
expect_err 'virtio-balloon: target 1024 pages, actual 512; inflated 1024, deflated 512, reported 0 pages, 0 invalid PFNs'
expect_err 'virtio-balloon: [0-9]+ requests, .*, 0 interrupts'

lodge_run --kernel "$GUESTS/virtio-balloon.elf" --cmdline "" --cpus 1 --memory 64 \
	--balloon 0 --log-level info
expect_status 1
expect_out '^virtio-balloon: num_pages 0, actual 0'
expect_out '^virtio-balloon: no pages requested$'
expect_out '^virtio-balloon: all checks passed$'
expect_err 'virtio-balloon: target 0 pages, actual 0; inflated 0'
