# Bad flags, config files and input files: one clear line on stderr, status 2.

lodge_run --kernel
expect_status 2; expect_one_line_err; expect_err "incomplete option '--kernel'"

lodge_run --kernel "$GUESTS/hello.elf" --cpus 0
expect_status 2; expect_one_line_err; expect_err "--cpus: 0 out of range"

lodge_run --kernel "$GUESTS/hello.elf" --memory lots
expect_status 2; expect_one_line_err; expect_err "--memory: 'lots' is not a number"

lodge_run --kernel "$GUESTS/hello.elf" --serial tty
expect_status 2; expect_one_line_err; expect_err "--serial: 'tty'"

lodge_run --kernel "$GUESTS/hello.elf" --frobnicate
expect_status 2; expect_one_line_err; expect_err "unknown or incomplete option '--frobnicate'"

lodge_run --cpus 1
expect_status 2; expect_one_line_err; expect_err "no kernel"

lodge_run --kernel "$TMP/does-not-exist"
expect_status 2; expect_one_line_err; expect_err "does-not-exist: No such file"

printf 'not a kernel at all' > "$TMP/junk"
lodge_run --kernel "$TMP/junk"
expect_status 2; expect_one_line_err; expect_err "junk"

lodge_run --kernel "$GUESTS/hello.elf" --initrd "$TMP"
expect_status 2; expect_one_line_err; expect_err "not a regular file"

printf '{"machine-config": {"vcpu_count": 2}}' > "$TMP/bad.json"
lodge_run --config "$TMP/bad.json"
expect_status 2; expect_one_line_err; expect_err "missing field 'mem_size_mib'"

printf '{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "drives": [{"drive_id": "x"}]}' "$GUESTS/hello.elf" > "$TMP/drives.json"
lodge_run --config "$TMP/drives.json"
expect_status 2; expect_one_line_err; expect_err "drives\[0\]: missing field 'path_on_host'"

# device flags: a missing image, a bad key, a tap that is not there
lodge_run --kernel "$GUESTS/hello.elf" --drive "$TMP/no-such.img"
expect_status 2; expect_one_line_err; expect_err "drive 'drive0': .*no-such.img: No such file or directory"
lodge_run --kernel "$GUESTS/hello.elf" --drive "$TMP/drives.json,is_read_only=maybe"
expect_status 2; expect_one_line_err; expect_err "is_read_only: expected a boolean"
lodge_run --kernel "$GUESTS/hello.elf" --balloon 64,bogus=1
expect_status 2; expect_one_line_err; expect_err "unknown field 'bogus'"

lodge_run --kernel "$GUESTS/hello.elf" --cpu-mask avx2,nonsense
expect_status 2; expect_one_line_err; expect_err "unknown CPUID feature 'nonsense'"

lodge_cmd frobnicate
expect_status 2; expect_err "unknown command 'frobnicate'"
