# hello: the smallest PVH guest prints a greeting and its command line, then
# writes 0 to the debug-exit port (status 1).
lodge_run --kernel "$GUESTS/hello.elf" --cmdline "greeting=yes x=1" --cpus 1 --memory 64
expect_status 1
expect_out '^hello from the lodge test guest$'
expect_out '^boot: pvh$'
expect_out '^cmdline: greeting=yes x=1$'
