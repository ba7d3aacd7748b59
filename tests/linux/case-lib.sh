# Helpers for the integration cases tests/integration/cases/linux-*.sh
# (sourced after tests/integration/lib.sh; POSIX sh, also in the KVM lab).
# tests/linux/prepare copies this file into the artifacts folder, so a case
# finds it as "$LINUX/case-lib.sh" wherever the artifacts were packed.

if [ ! -f "$LINUX/vmlinux" ] || [ ! -f "$LINUX/initrd.cpio.gz" ]; then
	fail "no Linux test artifacts in $LINUX: run tests/linux/prepare"
fi

# A 2-vCPU Linux boot to userspace takes tens of seconds in the KVM lab.
[ "$TEST_TIMEOUT" -ge 180 ] || TEST_TIMEOUT=180

# linux_boot KERNEL CPUS MiB [ARGS [LODGE-FLAGS...]]: boot KERNEL with the
# test initrd, CPUS vCPUs and MiB of RAM, the serial console on stdout; the
# guest's /init checks the lodge.expect.* arguments. Sets LINUX_CMDLINE (what
# lodge is given; a case that adds devices appends what lodge adds to it).
linux_boot() {
	LINUX_CMDLINE="console=ttyS0 reboot=k panic=-1 lodge.expect.cpus=$2 lodge.expect.mem=$3${4:+ $4}"
	lb_kernel=$1 lb_cpus=$2 lb_mem=$3
	shift 3
	[ $# -eq 0 ] || shift
	lodge_run --kernel "$lb_kernel" --initrd "$LINUX/initrd.cpio.gz" --cpus "$lb_cpus" \
		--memory "$lb_mem" --serial stdio --cmdline "$LINUX_CMDLINE" "$@"
}

# linux_expect_ok: the guest's /init passed its checks and saw exactly the
# command line lodge was given.
linux_expect_ok() {
	reason=$(grep -a "LINUX-FAIL" "$TMP/out" | head -n 1 | tr -d "\r" | sed "s/.*LINUX-FAIL //")
	if [ -n "$reason" ]; then
		show_output
		fail "guest /init: $reason"
	fi
	expect_out 'LINUX-OK cpus=[0-9]+ mem_kib=[0-9]+'
	got=$(grep -a 'LINUX-CMDLINE ' "$TMP/out" | head -n 1 | tr -d '\r' | sed 's/.*LINUX-CMDLINE //')
	if [ "$got" != "$LINUX_CMDLINE" ]; then
		show_output
		fail "guest /proc/cmdline is '$got', expected '$LINUX_CMDLINE'"
	fi
}

# linux_expect_early_boot CPUS: the kernel's own early lines on the console:
# its banner, an e820 map with RAM at 1 MiB, CPUS CPUs found in the ACPI
# MADT and all of them brought up, the initrd found.
linux_expect_early_boot() {
	release=$(sed -n 's/^release=//p' "$LINUX/info")
	expect_out "Linux version ${release:-6}"
	expect_out 'BIOS-e820: \[mem 0x0000000000100000-0x[0-9a-f]{16}\] usable'
	expect_out 'ACPI: Using ACPI \(MADT\) for SMP configuration information'
	expect_out "smpboot: Allowing $1 CPUs"
	expect_out "smp: Brought up 1 node, $1 CPUs?"
	expect_out 'Freeing initrd memory'
}
