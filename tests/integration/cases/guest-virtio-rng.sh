# virtio-rng: the entropy guest against lodge --entropy: four 64-byte
# buffers (two singly, two with one kick, one of them a 2-segment chain,
# indirect when negotiated), with interrupts and polled, with and without
# EVENT_IDX and INDIRECT_DESC, and behind a rate limiter. lodge's counters
# (--log-level info, at exit) must agree with the guest's: 4 requests; no
# interrupts at all when the guest polls without EVENT_IDX (NO_INTERRUPT).
ENTROPY0='^virtio: device 0 at 0xd0000000 size 0x1000 irq 5: id 4 \(entropy\) version 2 vendor 0x45444f4c$'

lodge_run --kernel "$GUESTS/virtio-rng.elf" --cmdline "" --cpus 1 --memory 64 --entropy \
	--log-level info
expect_status 1
expect_out "$ENTROPY0"
expect_out 'event_idx on, indirect on$'
expect_out '^virtio-rng: queue size 64, mode interrupt$'
expect_out '^virtio-rng: requests 2 and 3 \(indirect chain\) together'
expect_out '^virtio-rng: 4 requests, [0-9]+ kicks, [1-9][0-9]* interrupts$'
expect_out '^virtio-rng: all checks passed$'
expect_err 'virtio-rng: 4 requests, [0-9]+ exits to lodge .*, [1-9][0-9]* interrupts'

lodge_run --kernel "$GUESTS/virtio-rng.elf" --cmdline "poll=1 event_idx=0 indirect=0" \
	--cpus 1 --memory 64 --entropy --log-level info
expect_status 1
expect_out 'event_idx off, indirect off$'
expect_out 'mode polled$'
expect_out '^virtio-rng: requests 2 and 3 \(direct chain\) together'
expect_out '^virtio-rng: 4 requests, [0-9]+ kicks, 0 interrupts$'
expect_out '^virtio-rng: all checks passed$'
expect_err 'virtio-rng: 4 requests, .*, 0 interrupts, [1-9][0-9]* suppressed'

lodge_run --kernel "$GUESTS/virtio-rng.elf" --cmdline "poll=1" --cpus 1 --memory 64 --entropy \
	--log-level info
expect_status 1
expect_out 'event_idx on, indirect on$'
expect_out '^virtio-rng: 4 requests, [0-9]+ kicks, 0 interrupts$'
expect_out '^virtio-rng: all checks passed$'
expect_err 'virtio-rng: 4 requests, .*, [1-9][0-9]* suppressed'

# 64 bytes per 100 ms: the four requests take about 300 ms, and all arrive.
lodge_run --kernel "$GUESTS/virtio-rng.elf" --cmdline "event_idx=0" --cpus 1 --memory 64 \
	--entropy=rate_limiter.bandwidth.size=64,rate_limiter.bandwidth.refill_time=100 \
	--log-level info
expect_status 1
expect_out 'event_idx off, indirect on$'
expect_out '^virtio-rng: all checks passed$'
expect_err 'virtio-rng: 4 requests'
