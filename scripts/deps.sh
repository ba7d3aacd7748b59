#!/bin/sh
# Install the Debian packages lodge needs to build, test and run, when missing.
# Usage: scripts/deps.sh [build|test|bench]   (default: test, which includes build)
set -eu

build_pkgs="gcc make meson ninja-build pkg-config libjansson-dev liburing-dev libmicrohttpd-dev libxxhash-dev libcurl4-openssl-dev binutils"
# clang + libclang-rt-dev: the libFuzzer harnesses (-fsanitize=fuzzer lives in libclang-rt).
test_pkgs="libcmocka-dev libyaml-dev curl acpica-tools qemu-system-x86 busybox-static cpio lz4 ca-certificates clang libclang-rt-dev"
bench_pkgs="hyperfine"

case "${1:-test}" in
	build) want="$build_pkgs" ;;
	test) want="$build_pkgs $test_pkgs" ;;
	bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
	*) echo "deps.sh: unknown set '$1' (build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
