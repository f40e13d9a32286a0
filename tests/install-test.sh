#!/bin/sh
# install-test -- `make install DESTDIR=...` puts every file where the man pages say, the
# installed programs run, a program builds against the installed library, the unit verifies,
# and `make uninstall` leaves nothing behind. Run by `make check` (paths come from Makefile).
set -u
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { desc=$1; shift; if "$@" >/dev/null 2>&1; then ok "$desc"; else bad "$desc"; fi; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/raftkv-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT
cd "$abs_top_builddir" || exit 1

if ! $MAKE -s install DESTDIR="$dest" >"$dest.log" 2>&1; then
	cat "$dest.log"
	bad "make install"
	echo "install-test: $pass passed, $fail failed"
	exit 1
fi
rm -f "$dest.log"
ok "make install DESTDIR=$dest"

D=$dest
# Where raftkvd(8), raftkvctl(1), raftkv.conf(5) and client.h say things are.
for f in "$RK_SBINDIR/raftkvd" "$RK_BINDIR/raftkvctl" "$RK_BINDIR/raftkv-bench" \
	"$RK_SYSCONFDIR/raftkv/raftkv.conf" \
	"$RK_INCLUDEDIR/raftkv/client.h" "$RK_LIBDIR/pkgconfig/raftkv.pc" \
	"$RK_LIBDIR/libraftkv.so" "$RK_MANDIR/man8/raftkvd.8" "$RK_MANDIR/man1/raftkvctl.1" \
	"$RK_MANDIR/man5/raftkv.conf.5" "$RK_UNITDIR/raftkvd@.service" \
	"$RK_SYSUSERSDIR/raftkv.conf"; do
	check "installed $f" test -e "$D$f"
done

# The installed programs run, against the installed library.
export LD_LIBRARY_PATH="$D$RK_LIBDIR"
check "raftkvd --version" "$D$RK_SBINDIR/raftkvd" --version
check "raftkvctl --version" "$D$RK_BINDIR/raftkvctl" --version
check "raftkv-bench --help" "$D$RK_BINDIR/raftkv-bench" --help
check "the sample config validates" "$D$RK_SBINDIR/raftkvd" -c "$D$RK_SYSCONFDIR/raftkv/raftkv.conf" \
	--print-config
check "raftkvctl links the installed libraftkv" sh -c \
	"ldd '$D$RK_BINDIR/raftkvctl' | grep -q '$D$RK_LIBDIR/libraftkv.so'"

# A program builds with pkg-config against the installed header and library.
cat >"$dest/use.c" <<'C'
#include <raftkv/client.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct rkc_options o = { .endpoints = "127.0.0.1:1" };
	struct rkc_client *c;

	if (rkc_open(&o, &c) != RKC_OK)
		return 1;
	rkc_close(c);
	return strcmp(rkc_strstatus(RKC_NOT_FOUND), "key not found") != 0;
}
C
pc() { PKG_CONFIG_PATH="$D$RK_LIBDIR/pkgconfig" pkg-config --define-variable=prefix="$D$RK_PREFIX" "$@"; }
# Same compiler and sanitizer flags as the build: an ASan libraftkv needs an ASan program.
if ${RK_CC:-cc} ${RK_BUILD_CFLAGS:-} -o "$dest/use" "$dest/use.c" $(pc --cflags raftkv) \
	$(pc --libs raftkv) ${RK_BUILD_LDFLAGS:-} >"$dest/cc.log" 2>&1 &&
	"$dest/use"; then
	ok "a program builds and runs with pkg-config raftkv"
else
	cat "$dest/cc.log"
	bad "a program builds and runs with pkg-config raftkv"
fi
rm -f "$dest/cc.log"

# Man pages lint clean.
for m in man8/raftkvd.8 man1/raftkvctl.1 man5/raftkv.conf.5; do
	if command -v mandoc >/dev/null; then
		check "mandoc -Tlint $m" sh -c "test -z \"\$(mandoc -Tlint '$D$RK_MANDIR/$m' 2>&1)\""
	else
		check "groff -ww $m" sh -c "test -z \"\$(groff -man -ww -z '$D$RK_MANDIR/$m' 2>&1)\""
	fi
done

# The unit verifies (pointed at the installed daemon, which is not at its final path yet).
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$dest/units"
	sed "s|$RK_SBINDIR/raftkvd|$D$RK_SBINDIR/raftkvd|" "$D$RK_UNITDIR/raftkvd@.service" \
		>"$dest/units/raftkvd@.service"
	check "systemd-analyze verify raftkvd@node1.service" \
		systemd-analyze verify --man=no "$dest/units/raftkvd@node1.service"
	check "the unit runs as a dedicated user" grep -q '^User=raftkv$' "$dest/units/raftkvd@.service"
	check "the unit is Type=notify" grep -q '^Type=notify$' "$dest/units/raftkvd@.service"
else
	bad "systemd-analyze is not installed (Debian package systemd)"
fi

# Uninstall removes everything install put.
rm -rf "$dest/units" "$dest/use" "$dest/use.c"
if $MAKE -s uninstall DESTDIR="$dest" >/dev/null 2>&1; then
	left=$(find "$dest" -type f -o -type l)
	if [ -z "$left" ]; then ok "make uninstall leaves no file"; else bad "make uninstall left: $left"; fi
else
	bad "make uninstall"
fi

echo "install-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
