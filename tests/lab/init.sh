#!/bin/sh
# /init of the KVM lab (busybox sh). tests/lab/run packs it into the lab's
# base archive. It loads KVM, runs one command from /lab/run.env with a
# timeout and reports on the console (ttyS0), one marker per line:
#   LAB-READY <uptime>     /dev/kvm is there, the command starts
#   LAB-ERROR <what>       the lab itself is broken (followed by LAB-EXIT 125)
#   LAB-TIMEOUT <secs>     the command ran out of time (LAB-EXIT 124 follows)
#   LAB-EXIT <status>      the command's exit status; the lab powers off
# and writes "LAB-HEARTBEAT <uptime>" every 5 s to ttyS1 (the console when
# there is no ttyS1), so that the host tells a stopped lab from a slow test.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb

finish() {
	echo "LAB-EXIT $1"
	sync
	poweroff -f
	# poweroff -f does not return; should it, the host's timeout ends QEMU
	while :; do sleep 60; done
}

lab_error() {
	echo "LAB-ERROR $*"
	dmesg | tail -n 20 | sed 's/^/lab dmesg: /'
	finish 125
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# files packed under /tmp (absolute host paths) must stay visible
[ -n "$(ls -A /tmp 2> /dev/null)" ] || mount -t tmpfs -o mode=1777 tmpfs /tmp
# the rootfs (initramfs) is writable; a host test's mkdir -p of a parent works

[ -f /lab/run.env ] || lab_error "no /lab/run.env: the per-run archive is missing"
. /lab/run.env

for m in $(cat /lab/modules.load) $LAB_MODULES; do
	opts=""
	[ "$m" = kvm_amd ] && opts=$LAB_KVM_AMD_OPTS
	modprobe "$m" $opts || lab_error "modprobe $m $opts failed"
done
[ -c /dev/kvm ] || lab_error "no /dev/kvm after loading kvm_amd (the CPU model lacks SVM?)"

# the host's repository path leads to /repo, so absolute paths into it work
if [ -n "$LAB_REPO_HOST" ] && [ "$LAB_REPO_HOST" != /repo ]; then
	mkdir -p "${LAB_REPO_HOST%/*}"
	ln -s /repo "$LAB_REPO_HOST"
fi

hb=/dev/console
[ -c /dev/ttyS1 ] && hb=/dev/ttyS1
(
	while :; do
		read -r up _ < /proc/uptime
		echo "LAB-HEARTBEAT $up"
		sleep 5
	done > "$hb" 2>&1
) &
hbpid=$!

mkdir -p "$LAB_CWD"
cd "$LAB_CWD" || lab_error "cd $LAB_CWD failed"
read -r up _ < /proc/uptime
echo "LAB-READY $up"

# The command runs in its own session, so that a timeout ends it and every
# process it started (kill -PGID).
setsid "$@" < /dev/null &
pid=$!
(
	sleep "$LAB_TIMEOUT"
	kill -0 "$pid" 2> /dev/null || exit 0
	: > /lab/timed-out
	echo "LAB-TIMEOUT $LAB_TIMEOUT"
	kill -TERM -"$pid" 2> /dev/null
	sleep 5
	kill -KILL -"$pid" 2> /dev/null
) &
wdpid=$!
wait "$pid"
rc=$?
kill "$wdpid" "$hbpid" 2> /dev/null
wait "$wdpid" 2> /dev/null
# the watchdog ended the command: report 124 like timeout(1)
if [ -f /lab/timed-out ]; then rc=124; fi
finish "$rc"
