# timer: LAPIC timer interrupts wake the guest from hlt, one-shot and periodic.
lodge_run --kernel "$GUESTS/timer.elf" --cmdline "ticks=10" --cpus 1 --memory 64
expect_status 1
expect_out '^timer: one-shot interrupt arrived'
expect_out '^timer: 10 periodic ticks'
