# needs: full-kvm  (Linux gets only through early boot on kvm_pvm: ../shared/ENVIRONMENT.md)
# scripts/linux-shell boots Linux to an interactive busybox shell: keystrokes
# reach Linux's 8250 driver through lodge's UART (receive interrupts), and
# `poweroff -f` ends lodge with status 0. One vCPU: the Linux cases that are
# not about SMP boot with one, which keeps them clear of the lab's nested-SVM
# stop (tests/lab/README.md); linux-pvh, linux-bzimage and linux-virtio-blk
# boot with two.
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
"$ROOT/scripts/linux-shell" bzImage --cpus 1 < "$TMP/in" > "$TMP/out" 2> "$TMP/err" &
pid=$!
( sleep "$TEST_TIMEOUT"; kill -KILL $pid 2>/dev/null ) &
watchdog=$!
n=0
until grep -q '^/ # ' "$TMP/out" 2>/dev/null; do
	n=$((n + 1))
	if [ $n -ge $((TEST_TIMEOUT * 5)) ] || ! kill -0 $pid 2>/dev/null; then
		kill -KILL $pid 2>/dev/null
		show_output
		fail "no shell prompt"
	fi
	sleep 0.2
done
printf 'echo SHELL-WORKS $((6*7))\n' >&3
sleep 2
printf 'poweroff -f\n' >&3
wait $pid
STATUS=$?
kill $watchdog 2>/dev/null
exec 3>&-
expect_status 0
expect_out '^SHELL-WORKS 42'
expect_out 'reboot: Power down'
