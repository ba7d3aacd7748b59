# multiboot: an ELF32 multiboot (v1) kernel gets its command line, memory map
# and modules (--initrd is module 0, each --module follows) in the MBI.
printf 'first module: MAGIC-1234\n' > "$TMP/mod1"
printf 'second\000\001\002' > "$TMP/mod2"
lodge_run --kernel "$GUESTS/multiboot.elf" --cmdline "module_magic=MAGIC-1234" \
	--initrd "$TMP/mod1" --module "$TMP/mod2 modarg=2" --cpus 1 --memory 128
expect_status 1
expect_out '^multiboot: booted via multiboot'
expect_out '^multiboot: cmdline: .*module_magic=MAGIC-1234'
expect_out '^multiboot: mmap \[0x0000100000-0x[0-9a-f]+\) RAM$'
expect_out '^multiboot: 2 modules$'
expect_out '^multiboot: module 0 \[0x[0-9a-f]+-0x[0-9a-f]+\) 25 bytes '
expect_out '^multiboot: module 1 \[0x[0-9a-f]+-0x[0-9a-f]+\) 9 bytes ".*modarg=2"$'
expect_out '^multiboot: module 1 bytes: 73 65 63 6f 6e 64 00 01 02 '
expect_out '^multiboot: module_magic "MAGIC-1234" found$'
