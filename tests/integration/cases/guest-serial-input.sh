# serial-input: a line on lodge's stdin reaches the guest's COM1, through
# receive interrupts (IOAPIC pin 4) by default and by polling with poll=1.
printf 'hello lodge\n' > "$TMP/stdin"
lodge_run --kernel "$GUESTS/serial-input.elf" --cmdline "" --cpus 1 --memory 64
expect_status 1
expect_out '^ready$'
expect_out '^got: hello lodge$'
expect_out '^serial-input: [1-9][0-9]* receive interrupts$'

printf 'polled line\n' > "$TMP/stdin"
lodge_run --kernel "$GUESTS/serial-input.elf" --cmdline "poll=1" --cpus 1 --memory 64
expect_status 1
expect_out '^ready$'
expect_out '^got: polled line$'
rm -f "$TMP/stdin"
