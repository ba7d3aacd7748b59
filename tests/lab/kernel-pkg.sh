# shellcheck shell=bash
# Helpers for the Debian cloud kernel package that both the KVM lab
# (tests/lab/run) and the Linux guest artifacts (tests/linux/prepare) are made
# from. Sourced by bash scripts on the host; nothing here runs in a guest.
#
# kpkg_init sets:
#   KPKG_CACHE    ${LODGE_CACHE:-$HOME/.cache/lodge}
#   KPKG_DEB      the .deb (downloaded into $KPKG_CACHE/debs when absent)
#   KPKG_VERSION  its package version (6.1.192-2)
#   KPKG_KVER     the kernel release (6.1.0-56-cloud-amd64)
#   KPKG_TREE     the unpacked package ($KPKG_CACHE/kernel/<version>)
#   KPKG_VMLINUZ  $KPKG_TREE/boot/vmlinuz-<release>
#   KPKG_MODDIR   $KPKG_TREE/lib/modules/<release>
# KPKG_STATUS: exit status of kpkg_die (default 1).
# Environment: LODGE_CACHE; LAB_KERNEL_DEB picks a .deb instead of the newest
# one in the cache.

kpkg_die() {
	echo "$KPKG_PROG: $*" >&2
	exit "${KPKG_STATUS:-1}"
}

: "${KPKG_PROG:=lab}"

# kpkg_need CMD...: fail with a hint when a host tool is missing.
kpkg_need() {
	local c
	for c in "$@"; do
		command -v "$c" > /dev/null 2>&1 ||
			kpkg_die "$c not found: run tests/lab/setup (as root) or install it"
	done
}

# kpkg_find_deb: newest cached linux-image-*-cloud-amd64 .deb, downloading
# the one linux-image-cloud-amd64 depends on when the cache has none.
kpkg_find_deb() {
	local debs="$KPKG_CACHE/debs" pkg f
	if [ -n "${LAB_KERNEL_DEB:-}" ]; then
		[ -f "$LAB_KERNEL_DEB" ] || kpkg_die "LAB_KERNEL_DEB=$LAB_KERNEL_DEB: no such file"
		KPKG_DEB=$LAB_KERNEL_DEB
		return
	fi
	f=$(ls "$debs"/linux-image-*-cloud-amd64_*.deb 2> /dev/null | sort -V | tail -n 1)
	if [ -z "$f" ]; then
		kpkg_need apt-get apt-cache
		pkg=$(apt-cache depends linux-image-cloud-amd64 2> /dev/null |
			awk '/Depends: linux-image-/ { print $2; exit }')
		[ -n "$pkg" ] || kpkg_die "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"
		echo "$KPKG_PROG: downloading $pkg into $debs" >&2
		mkdir -p "$debs"
		(cd "$debs" && apt-get download "$pkg" > /dev/null) ||
			kpkg_die "apt-get download $pkg failed"
		f=$(ls "$debs"/"$pkg"_*.deb 2> /dev/null | sort -V | tail -n 1)
		[ -n "$f" ] || kpkg_die "apt-get download $pkg left no .deb in $debs"
	fi
	KPKG_DEB=$f
}

kpkg_init() {
	KPKG_CACHE=${LODGE_CACHE:-$HOME/.cache/lodge}
	kpkg_need dpkg-deb
	kpkg_find_deb
	KPKG_VERSION=$(dpkg-deb -f "$KPKG_DEB" Version) ||
		kpkg_die "$KPKG_DEB: not a Debian package"
	KPKG_TREE=$KPKG_CACHE/kernel/$KPKG_VERSION
	if [ ! -f "$KPKG_TREE/.unpacked" ]; then
		echo "$KPKG_PROG: unpacking $(basename "$KPKG_DEB") into $KPKG_TREE" >&2
		rm -rf "$KPKG_TREE"
		mkdir -p "$KPKG_TREE"
		dpkg-deb -x "$KPKG_DEB" "$KPKG_TREE" || kpkg_die "dpkg-deb -x $KPKG_DEB failed"
		touch "$KPKG_TREE/.unpacked"
	fi
	KPKG_VMLINUZ=$(ls "$KPKG_TREE"/boot/vmlinuz-* 2> /dev/null | head -n 1)
	[ -n "$KPKG_VMLINUZ" ] || kpkg_die "$KPKG_DEB has no boot/vmlinuz-*"
	KPKG_KVER=${KPKG_VMLINUZ##*/vmlinuz-}
	KPKG_MODDIR=$KPKG_TREE/lib/modules/$KPKG_KVER
	[ -d "$KPKG_MODDIR" ] || kpkg_die "$KPKG_DEB has no lib/modules/$KPKG_KVER"
}

# kpkg_module_path NAME: the module's path relative to $KPKG_MODDIR
# ("-" and "_" are the same in module names, as for modprobe).
kpkg_module_path() {
	local idx="$KPKG_TREE/.modindex" name=${1//-/_}
	if [ ! -f "$idx" ]; then
		(cd "$KPKG_MODDIR" && find kernel -name '*.ko' |
			awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko$/, "", n);
			       gsub(/-/, "_", n); print n, $0 }') > "$idx.tmp" &&
			mv "$idx.tmp" "$idx"
	fi
	awk -v n="$name" '$1 == n { print $2; exit }' "$idx"
}

# kpkg_module_deps RELPATH: the names of the modules RELPATH depends on.
kpkg_module_deps() {
	tr '\0' '\n' < "$KPKG_MODDIR/$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# kpkg_resolve NAME...: the modules' paths (relative to $KPKG_MODDIR) with
# all their dependencies, one a line, each after what it depends on.
# A name that is built into the kernel is skipped; an unknown one is fatal.
kpkg_resolve() {
	local seen=" " out=""
	_kpkg_visit() {
		local n=${1//-/_} p d
		case "$seen" in *" $n "*) return 0 ;; esac
		seen="$seen$n "
		p=$(kpkg_module_path "$n")
		if [ -z "$p" ]; then
			grep -q "/$n.ko\$\|/${n//_/-}.ko\$" "$KPKG_MODDIR/modules.builtin" 2> /dev/null && return 0
			kpkg_die "kernel module $n is not in $(basename "$KPKG_DEB")"
		fi
		for d in $(kpkg_module_deps "$p"); do
			_kpkg_visit "$d"
		done
		out="$out$p"$'\n'
	}
	local m
	for m in "$@"; do
		_kpkg_visit "$m"
	done
	printf '%s' "$out"
}

# kpkg_stage_modules DEST NAME...: copy the modules and their dependencies
# into DEST/lib/modules/<release>/ and write a modules.dep there (busybox
# depmod), so that busybox modprobe in the guest loads them by name.
kpkg_stage_modules() {
	local dest=$1 p list bb
	shift
	list=$(kpkg_resolve "$@") || exit "${KPKG_STATUS:-1}"
	bb=$(kpkg_busybox) || exit "${KPKG_STATUS:-1}"
	mkdir -p "$dest/lib/modules/$KPKG_KVER"
	for p in $list; do
		mkdir -p "$dest/lib/modules/$KPKG_KVER/${p%/*}"
		cp "$KPKG_MODDIR/$p" "$dest/lib/modules/$KPKG_KVER/$p"
	done
	"$bb" depmod -b "$dest" "$KPKG_KVER" ||
		kpkg_die "busybox depmod failed"
}

# kpkg_busybox: path of a static busybox (package busybox-static).
kpkg_busybox() {
	local b
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] || continue
		if LC_ALL=C readelf -lW "$b" 2> /dev/null | grep -q 'program interpreter'; then
			continue
		fi
		echo "$b"
		return 0
	done
	kpkg_die "no static busybox: run tests/lab/setup or apt-get install busybox-static"
}

# kpkg_hash FILE|STRING...: a short key over files' contents and strings.
kpkg_hash() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then cat "$a"; else printf '%s\n' "$a"; fi
	done | sha256sum | cut -c1-16
}
