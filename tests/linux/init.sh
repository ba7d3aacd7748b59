#!/bin/sh
# /init of the Linux test guest (busybox sh), packed by tests/linux/prepare.
# Checks from inside the guest what the VMM promised, as the kernel command
# line tells it:
#   lodge.expect.cpus=N     N CPUs online
#   lodge.expect.mem=MiB    MemTotal within [75% of MiB - 16 MiB, MiB]
#   lodge.modules=a,b       modprobe these (default: those prepare packed,
#                           listed in /etc/modules.load; empty: none)
#   lodge.test.reboot=1     end with reboot -f instead of poweroff -f
#   lodge.test.wait=1       after the report, wait (for the host to end the VM,
#                           e.g. Ctrl+Alt+Del through the API) instead of ending it
#   lodge.test.script=NAME  also run /tests/NAME.sh (tests/linux/scripts/),
#                           which reports problems with failed "why"
# and always that /payload.bin has the sha256 in /etc/payload.sha256 (the
# initrd arrived whole). Prints on the console, one marker per line:
#   LINUX-CMDLINE <the contents of /proc/cmdline>  (the host compares)
#   LINUX-INFO <facts>
#   LINUX-OK cpus=N mem_kib=K    or    LINUX-FAIL <reasons>
# then powers off (or reboots). It never returns: pid 1 must not exit.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
set -f

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2> /dev/null
# keep kernel messages from cutting into the report lines below
dmesg -n 1

failures=""
failed() {
	failures="$failures${failures:+; }$*"
}

# count_cpus LIST: how many CPUs a sysfs list like "0-3,5" names
count_cpus() {
	n=0
	oldifs=$IFS
	IFS=,
	for r in $1; do
		case $r in
		*-*) n=$((n + ${r#*-} - ${r%-*} + 1)) ;;
		?*) n=$((n + 1)) ;;
		esac
	done
	IFS=$oldifs
	echo "$n"
}

cmdline=$(cat /proc/cmdline)
echo "LINUX-CMDLINE $cmdline"

exp_cpus=""
exp_mem=""
script=""
end=poweroff
modules=$(cat /etc/modules.load 2> /dev/null)
for w in $cmdline; do
	case $w in
	lodge.expect.cpus=*) exp_cpus=${w#*=} ;;
	lodge.expect.mem=*) exp_mem=${w#*=} ;;
	lodge.modules=*) modules=$(echo "${w#*=}" | tr , ' ') ;;
	lodge.test.reboot=1) end=reboot ;;
	lodge.test.script=*) script=${w#*=} ;;
	lodge.test.wait=1) end=wait ;;
	esac
done

for m in $modules; do
	modprobe "$m" || failed "modprobe $m failed"
done

cpus=$(count_cpus "$(cat /sys/devices/system/cpu/online)")
if [ -n "$exp_cpus" ] && [ "$cpus" != "$exp_cpus" ]; then
	failed "cpus: $cpus online ($(cat /sys/devices/system/cpu/online)), expected $exp_cpus"
fi

mem_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
if [ -n "$exp_mem" ]; then
	hi=$((exp_mem * 1024))
	lo=$((exp_mem * 1024 * 3 / 4 - 16 * 1024))
	if [ -z "$mem_kib" ] || [ "$mem_kib" -gt "$hi" ] || [ "$mem_kib" -lt "$lo" ]; then
		failed "mem: MemTotal ${mem_kib:-?} KiB, expected $lo..$hi KiB for $exp_mem MiB"
	fi
fi

want=$(cat /etc/payload.sha256 2> /dev/null)
got=$(sha256sum /payload.bin 2> /dev/null | cut -d' ' -f1)
if [ -z "$want" ] || [ "$got" != "$want" ]; then
	failed "initrd payload: sha256 ${got:-missing}, expected ${want:-?}"
fi

if [ -n "$script" ]; then
	if [ -f "/tests/$script.sh" ]; then
		. "/tests/$script.sh"
	else
		failed "no test script /tests/$script.sh"
	fi
fi

read -r up _ < /proc/uptime
echo "LINUX-INFO kernel=$(uname -r) uptime=$up cpuinfo=$(grep -c ^processor /proc/cpuinfo) modules=$(echo $modules | tr ' ' ,)"
if [ -n "$failures" ]; then
	echo "LINUX-FAIL $failures"
	dmesg | tail -n 20 | sed 's/^/LINUX-DMESG /'
else
	echo "LINUX-OK cpus=$cpus mem_kib=$mem_kib"
fi

sync
if [ "$end" = wait ]; then
	echo "LINUX-WAITING"
	while :; do sleep 1; done
fi
$end -f
echo "LINUX-FAIL $end -f returned"
while :; do sleep 3600; done
