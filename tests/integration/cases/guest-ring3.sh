# needs: full-kvm  (on kvm_pvm, SYSCALL from ring 3 arrives at LSTAR still at CPL 3:
# the fetch of syscall_entry, a supervisor page, faults with err=0x5; seen 2026-12-02)
# ring3: guest code runs in ring 3 and returns through syscall; a ring-3 read
# of a supervisor page faults with the user bit set; cli in ring 3 is #GP.
lodge_run --kernel "$GUESTS/ring3.elf" --cmdline "" --cpus 1 --memory 64
expect_status 1
expect_out '^ring3: computed 0x[0-9a-f]+ in ring 3 '
expect_out '^ring3: hello from ring 3$'
expect_out '^ring3: CS in ring 3 was 0x33 \(CPL 3\)$'
expect_out '^ring3: read of supervisor page: #PF err=0x5 '
expect_out '^ring3: cli in ring 3: #GP err=0x0$'
expect_out '^ring3: all checks passed$'
