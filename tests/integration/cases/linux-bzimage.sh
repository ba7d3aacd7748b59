# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Linux boots from its bzImage (the Linux x86 boot protocol) with 2 vCPUs
# and 256 MiB to the test /init, which checks what it got and powers off:
# lodge ends with status 0.
. "$LINUX/case-lib.sh"
linux_boot "$LINUX/bzImage" 2 256
expect_status 0
linux_expect_ok
linux_expect_early_boot 2
expect_out 'reboot: Power down'
