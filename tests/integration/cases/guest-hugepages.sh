# --hugepages: guest RAM from 2 MiB huge pages (memfd MFD_HUGETLB). The case
# reserves the pages it needs and gives the host back its old setting.
# Without root or reservable pages it fails: it does not skip.
old=$(cat /proc/sys/vm/nr_hugepages) || fail "cannot read /proc/sys/vm/nr_hugepages"
want=$((old + 40))
echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || fail "cannot reserve huge pages (needs root)"
got=$(cat /proc/sys/vm/nr_hugepages)
restore() { echo "$old" > /proc/sys/vm/nr_hugepages; }
if [ "$got" -lt "$want" ]; then
	restore
	fail "only $got of $want huge pages could be reserved"
fi
free_before=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)

lodge_run --kernel "$GUESTS/memmap.elf" --cmdline "mem_mib=64" --memory 64 --hugepages
st=$STATUS
free_after=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
restore
STATUS=$st
expect_status 1
expect_out '^memmap: RAM total matches mem_mib=64$'
# lodge gave every huge page back when it ended.
[ "$free_after" -eq "$free_before" ] || fail "huge pages free: $free_before before, $free_after after"

# An odd size cannot be made of 2 MiB pages: one line, status 2.
lodge_run --kernel "$GUESTS/memmap.elf" --memory 65 --hugepages
expect_status 2
expect_one_line_err
expect_err "huge pages need a multiple of 2 MiB"
