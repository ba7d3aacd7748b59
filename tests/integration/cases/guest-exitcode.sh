# exitcode: debug-exit status (v << 1) | 1, ACPI power-off and i8042 reset
# both end lodge with status 0.
lodge_run --kernel "$GUESTS/exitcode.elf" --cmdline "code=42" --cpus 1 --memory 64
expect_status 85
expect_out '^exitcode: exiting with code 42$'

lodge_run --kernel "$GUESTS/exitcode.elf" --cmdline "code=0" --cpus 1 --memory 64
expect_status 1

lodge_run --kernel "$GUESTS/exitcode.elf" --cmdline "action=poweroff" --cpus 1 --memory 64
expect_status 0
expect_out '^exitcode: powering off$'

lodge_run --kernel "$GUESTS/exitcode.elf" --cmdline "action=reset" --cpus 1 --memory 64
expect_status 0
expect_out '^exitcode: resetting$'
