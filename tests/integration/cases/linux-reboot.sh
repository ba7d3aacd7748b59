# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# Linux asks for a reboot (reboot -f, through the keyboard controller as
# reboot=k says): lodge ends the VM with status 0, as for a power-off.
. "$LINUX/case-lib.sh"
linux_boot "$LINUX/vmlinux" 1 256 lodge.test.reboot=1
expect_status 0
linux_expect_ok
expect_out 'reboot: Restarting system'
expect_no_out 'reboot: Power down'
