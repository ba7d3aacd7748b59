# smp: the guest starts every AP the MADT lists with INIT-SIPI-SIPI; each
# checks in with its APIC ID; the count must equal --cpus.
lodge_run --kernel "$GUESTS/smp.elf" --cmdline "cpus=4" --cpus 4 --memory 128
expect_status 1
expect_out '^smp: MADT lists 4 CPUs, BSP is APIC 0$'
for id in 0 1 2 3; do
	expect_out "^smp: cpu $id \\(APIC $id\\) checked in\$"
done
expect_out '^smp: 4 of 4 CPUs checked in$'

lodge_run --kernel "$GUESTS/smp.elf" --cmdline "cpus=1" --cpus 1 --memory 64
expect_status 1
expect_out '^smp: 1 of 1 CPUs checked in$'
