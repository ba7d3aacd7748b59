# pit: the 8254 works as a PIT-driven kernel expects: channel 0 interrupts on
# IOAPIC pin 0, latched counts read back, channel 2 gated through port 0x61.
lodge_run --kernel "$GUESTS/pit.elf" --cmdline "ticks=10" --cpus 1 --memory 64
expect_status 1
expect_out '^pit: [0-9]+ channel 0 interrupts through IOAPIC pin 0$'
expect_out '^pit: latched counts [0-9]+ then [0-9]+ \(period 1193\)$'
expect_out '^pit: channel 2 output rose after [0-9]+ polls$'

# The first PIT access of a VM creates lodge's in-kernel PIT and is applied to
# it; whatever kind of access comes first, the PIT works afterwards.
for first in speaker latch; do
	lodge_run --kernel "$GUESTS/pit.elf" --cmdline "first=$first" --cpus 1 --memory 64
	expect_status 1
	expect_out "^pit: first access: "
	expect_out '^pit: [0-9]+ channel 0 interrupts through IOAPIC pin 0$'
	expect_out '^pit: channel 2 output rose after [0-9]+ polls$'
done
