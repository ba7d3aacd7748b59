# memmap: the PVH memory map covers --memory (less the hole below 1 MiB), has
# no overlapping RAM and nothing in the 3-4 GiB MMIO hole; also with RAM
# split around the hole (3 GiB below it, 256 MiB above 4 GiB).
lodge_run --kernel "$GUESTS/memmap.elf" --cmdline "mem_mib=256" --cpus 1 --memory 256
expect_status 1
expect_out '^memmap: [0-9]+ entries from pvh$'
expect_out '^memmap: RAM total matches mem_mib=256$'

lodge_run --kernel "$GUESTS/memmap.elf" --cmdline "mem_mib=3328" --cpus 1 --memory 3328
expect_status 1
expect_out '^memmap: \[0x0100000000-0x0110000000\) RAM '
expect_out '^memmap: RAM total matches mem_mib=3328$'
