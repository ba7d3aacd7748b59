# demo: the guest `make run` boots reports what it sees (CPU, memory, ACPI
# tables and DSDT devices, CPUs brought up) and powers off via ACPI S5.
lodge_run --kernel "$GUESTS/demo.elf" --cmdline "console=ttyS0" --cpus 2 --memory 128
expect_status 0
expect_out '^=== lodge demo guest ===$'
expect_out '^cmdline: +console=ttyS0$'
expect_out '^acpi: +RSDP at 0x[0-9a-f]+, root table XSDT$'
expect_out '^acpi: +APIC rev'
expect_out '^acpi: +device [A-Z0-9_]{4} +_HID PNP0501$'
expect_out '^cpus: +MADT lists 2,'
expect_out '^cpus: +2 of 2 checked in'
expect_out '^=== powering off ===$'
