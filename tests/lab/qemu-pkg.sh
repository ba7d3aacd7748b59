# Sourced by tests/lab/run (bash): which QEMU runs the lab.
#
# The system's qemu-system-x86_64 by default. LAB_QEMU=backports takes
# Debian's bookworm-backports QEMU instead (10.0, for trying whether a newer
# QEMU avoids the lab's nested-SVM stop: tests/lab/README.md, Known
# pitfalls): downloaded once with a private apt configuration into
# $KPKG_CACHE/qemu/ (the machine's apt sources are not touched), unpacked
# there and run with the system's libraries and SeaBIOS. If that fails it
# says so and uses the system QEMU.
#
# lab_qemu_cmd: print the command (binary and -L options) on stdout.
#   LAB_QEMU=system     the system qemu-system-x86_64 (the default)
#   LAB_QEMU=backports  QEMU from LAB_QEMU_SUITE (default bookworm-backports)
#   LAB_QEMU=CMD        any other command, used as it is

lab_qemu_fetch() {
	local dir=$1 suite=$2 apt_dir=$1.apt mirror
	mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources \
		2> /dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	rm -rf "$apt_dir" "$dir.new"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$apt_dir/debs" "$dir.new" || return 1
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$mirror" "$suite" > "$apt_dir/parts/lab.sources"
	local opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt_dir/parts"
		-o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1
		-o "Dir::Cache::archives=$apt_dir/debs" -o APT::Sandbox::User=root)
	timeout 300 apt-get "${opts[@]}" -qq update > "$apt_dir/log" 2>&1 || return 1
	(cd "$apt_dir/debs" && timeout 300 apt-get "${opts[@]}" -qq download \
		"qemu-system-x86/$suite" "qemu-system-common/$suite" "qemu-system-data/$suite") \
		>> "$apt_dir/log" 2>&1 || return 1
	for d in "$apt_dir"/debs/*.deb; do
		dpkg-deb -x "$d" "$dir.new" || return 1
	done
	"$dir.new/usr/bin/qemu-system-x86_64" --version > /dev/null 2>&1 || return 1
	rm -rf "$dir" && mv "$dir.new" "$dir" && rm -rf "$apt_dir"
}

lab_qemu_cmd() {
	local suite=${LAB_QEMU_SUITE:-bookworm-backports} dir
	case ${LAB_QEMU:-system} in
	system) echo qemu-system-x86_64; return ;;
	backports) ;;
	*) echo "$LAB_QEMU"; return ;;
	esac
	if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2> /dev/null ||
		! command -v dpkg-deb > /dev/null; then
		echo qemu-system-x86_64
		return
	fi
	dir=$KPKG_CACHE/qemu/$suite
	if [ ! -x "$dir/usr/bin/qemu-system-x86_64" ]; then
		echo "lab: fetching QEMU from $suite into $dir (once)" >&2
		if ! (flock 8 && { [ -x "$dir/usr/bin/qemu-system-x86_64" ] ||
			lab_qemu_fetch "$dir" "$suite"; }) 8> "$KPKG_CACHE/qemu.lock"; then
			echo "lab: could not get QEMU from $suite (see $dir.apt/log); using the system QEMU" >&2
			echo qemu-system-x86_64
			return
		fi
	fi
	echo "$dir/usr/bin/qemu-system-x86_64 -L $dir/usr/share/qemu -L /usr/share/seabios"
}
