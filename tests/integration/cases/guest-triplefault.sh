# triplefault: an exception with an empty IDT shuts the vCPU down; lodge
# exits 4 with a register dump naming the triple fault, and the guest prints
# nothing more.
lodge_run --kernel "$GUESTS/triplefault.elf" --cmdline "" --cpus 1 --memory 64
expect_status 4
expect_out '^triple fault now$'
expect_no_out 'still running'
expect_err 'triple fault'
