# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Linux (the Debian cloud kernel) boots through the PVH entry of its vmlinux
# ELF with 2 vCPUs and 256 MiB to a busybox /init (tests/linux/init.sh), which
# checks the CPUs, memory, command line and initrd it got and powers off:
# lodge ends with status 0.
. "$LINUX/case-lib.sh"
linux_boot "$LINUX/vmlinux" 2 256
expect_status 0
linux_expect_ok
linux_expect_early_boot 2
expect_out 'reboot: Power down'
