# fwcfg: QEMU's fw_cfg as lodge offers it (signature, RAM size, CPU count,
# etc/e820 in the file directory), and all ones from an unassigned port.
lodge_run --kernel "$GUESTS/fwcfg.elf" --cmdline "mem_mib=256 cpus=2" --cpus 2 --memory 256
expect_status 1
expect_out '^fwcfg: signature "QEMU"$'
expect_out '^fwcfg: ram size 256 MiB$'
expect_out '^fwcfg: cpus 2$'
expect_out 'etc/e820$'
expect_out '^fwcfg: port 0x2f0 reads 0xff 0xffff 0xffffffff$'
expect_out '^fwcfg: all checks passed$'
