# exceptions: #UD, #DE, #GP and #PF raised and caught in the guest, each with
# the right vector, RIP, error code and CR2; then (unhandled=1) a #PF nobody
# expects, reported by the guest library with status 67 (GUEST_EXIT_EXCEPTION).
lodge_run --kernel "$GUESTS/exceptions.elf" --cmdline "" --cpus 1 --memory 64
expect_status 1
expect_out '^exception #UD: vector 6 \(#UD\)'
expect_out '^exception #DE: vector 0 \(#DE\)'
expect_out '^exception #GP-noncanonical: vector 13 \(#GP\) .* err=0x0$'
expect_out '^exception #GP-selector: vector 13 \(#GP\) .* err=0x2000$'
expect_out '^exception #PF-read: vector 14 \(#PF\) .* err=0x0 cr2=0x5000001234$'
expect_out '^exception #PF-write: vector 14 \(#PF\) .* err=0x2 cr2=0x5000001234$'
expect_out '^exception #PF-protection: vector 14 \(#PF\) .* err=0x3 '
expect_out '^exceptions: all 7 matched$'

lodge_run --kernel "$GUESTS/exceptions.elf" --cmdline "unhandled=1 pf_addr=0x7777000" \
	--cpus 1 --memory 256
expect_status 67
expect_out '^exceptions: all 7 matched$'
expect_out '^guest: unexpected exception 14 \(#PF\) rip=0x[0-9a-f]+ err=0x0 cr2=0x7777000 '
