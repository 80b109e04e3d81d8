#!/usr/bin/env bash
# The Debian package and `cmake --install`, from a built folder:
#
#   tests/packaging/run.sh BUILD SIMHOST
#
# BUILD is the tests' build folder (packaged as it is: nothing is configured
# or compiled), SIMHOST the generated workstation host. Checks that
# scripts/package.sh builds a package lintian finds no error in, with
# exactly the expected files and the computed dependencies; that the
# unpacked pcipass runs (--version, list on the simulated host); that the
# maintainer scripts only enable the boot unit; and that `cmake --install`
# to another prefix puts the prefix-dependent files where that prefix wants
# them. Everything happens in a temporary folder, except what `cmake
# --install` itself writes into BUILD (install_manifest.txt). Nothing is
# installed on the machine (package.sh --no-deps).
#
# Exit codes: 0 passed, 1 failed, 77 skipped (dpkg-deb, dpkg-shlibdeps or
# lintian missing).
set -euo pipefail
build=$(realpath "$1")
simhost=$(realpath "$2")
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
for tool in dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# --- the package
bash "$source_dir/scripts/package.sh" --no-deps --build "$build" --out "$work" >"$work/package.log" 2>&1 ||
  { cat "$work/package.log"; fail "scripts/package.sh (lintian errors are failures)"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
deb=$work/pcipass_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || fail "no $deb"
echo "ok   scripts/package.sh built $(basename "$deb") and lintian found no error"

# Every file, and nothing else (folders left out).
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$work/files"
cat >"$work/expected" <<'EOF'
/lib/systemd/system/pcipass-restore.service
/usr/sbin/pcipass
/usr/share/bash-completion/completions/pcipass
/usr/share/doc/pcipass/README.md
/usr/share/doc/pcipass/changelog.gz
/usr/share/doc/pcipass/copyright
/usr/share/doc/pcipass/docs/architecture.md
/usr/share/doc/pcipass/docs/benchmarks.md
/usr/share/doc/pcipass/docs/json.md
/usr/share/doc/pcipass/docs/kconfig.md
/usr/share/doc/pcipass/docs/kdevops.md
/usr/share/fish/vendor_completions.d/pcipass.fish
/usr/share/man/man8/pcipass.8.gz
/usr/share/pcipass/pcipass.Makefile
/usr/share/pcipass/xml-templates/guest-q35.xml
/usr/share/pcipass/xml-templates/hostdev-pci.xml
/usr/share/zsh/vendor-completions/_pcipass
EOF
diff -u "$work/expected" "$work/files" || fail "the package's files differ from the expected list"
dpkg-deb -c "$deb" | awk '$2 != "root/root" {bad = 1} END {exit bad}' || fail "a file not owned by root"
echo "ok   the package holds exactly the expected files, owned by root"

dpkg-deb -f "$deb" Depends >"$work/depends"
grep -q 'libc6 (>= ' "$work/depends" || fail "Depends lacks dpkg-shlibdeps' libc6: $(cat "$work/depends")"
grep -q 'pci.ids' "$work/depends" || fail "Depends lacks pci.ids: $(cat "$work/depends")"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
echo "ok   Depends computed by dpkg-shlibdeps, plus pci.ids: $(cat "$work/depends")"

# --- the unpacked files work
root=$work/root
dpkg-deb -x "$deb" "$root"
"$root/usr/sbin/pcipass" --version >"$work/version" || fail "the unpacked pcipass --version"
grep -q "^pcipass $version" "$work/version" || fail "--version says $(cat "$work/version")"
"$root/usr/sbin/pcipass" --sysfs-root "$simhost/sys" list >"$work/list" ||
  fail "the unpacked pcipass list on the simulated workstation"
grep -q '^0000:02:00.0 ' "$work/list" || fail "list shows no 0000:02:00.0: $(head -3 "$work/list")"
echo "ok   the unpacked pcipass runs: $(cat "$work/version"), list on the simulated workstation"
grep -qx 'ExecStart=/usr/sbin/pcipass restore' "$root/lib/systemd/system/pcipass-restore.service" ||
  fail "the packaged unit does not run /usr/sbin/pcipass restore"
zgrep -q '^\.TH PCIPASS 8' "$root/usr/share/man/man8/pcipass.8.gz" || fail "the manual page"
echo "ok   the unit runs /usr/sbin/pcipass restore; pcipass(8) is there, compressed"

# --- the maintainer scripts: deb-systemd-helper and systemctl are recorded, not run
dpkg-deb -e "$deb" "$work/control"
mkdir -p "$work/fakebin"
for tool in deb-systemd-helper systemctl pcipass; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$work/calls" >"$work/fakebin/$tool"
  chmod +x "$work/fakebin/$tool"
done
PATH=$work/fakebin:$PATH sh -e "$work/control/postinst" configure || fail "postinst configure"
grep -v '^systemctl --system daemon-reload' "$work/calls" >"$work/helper-calls" || true
cat >"$work/expected-calls" <<'EOF'
deb-systemd-helper unmask pcipass-restore.service
deb-systemd-helper --quiet was-enabled pcipass-restore.service
deb-systemd-helper enable pcipass-restore.service
EOF
diff -u "$work/expected-calls" "$work/helper-calls" || fail "postinst configure"
echo "ok   postinst only enables pcipass-restore.service (it starts nothing, runs no pcipass)"
: >"$work/calls"
PATH=$work/fakebin:$PATH sh -e "$work/control/postrm" remove || fail "postrm remove"
PATH=$work/fakebin:$PATH sh -e "$work/control/postrm" purge || fail "postrm purge"
grep -v '^systemctl --system daemon-reload' "$work/calls" >"$work/helper-calls" || true
cat >"$work/expected-calls" <<'EOF'
deb-systemd-helper mask pcipass-restore.service
deb-systemd-helper purge pcipass-restore.service
deb-systemd-helper unmask pcipass-restore.service
EOF
diff -u "$work/expected-calls" "$work/helper-calls" || fail "postrm remove, purge"
echo "ok   postrm masks the unit on remove and forgets it on purge, and touches nothing else"

# --- cmake --install to another prefix
DESTDIR=$work/opt cmake --install "$build" --prefix /opt/pcipass >/dev/null
opt=$work/opt/opt/pcipass
[[ -f $opt/share/zsh/site-functions/_pcipass ]] || fail "zsh completion not in site-functions"
grep -qx 'ExecStart=/opt/pcipass/sbin/pcipass restore' "$opt/lib/systemd/system/pcipass-restore.service" ||
  fail "the unit of prefix /opt/pcipass does not run /opt/pcipass/sbin/pcipass"
(cd "$work/opt" && find . -type f | sed 's|^\./opt/pcipass||' | sort) >"$work/opt-files"
sed -e 's|^/usr||' -e 's|vendor-completions|site-functions|' \
  "$work/expected" | sort >"$work/opt-expected"
diff -u "$work/opt-expected" "$work/opt-files" || fail "cmake --install --prefix /opt/pcipass"
echo "ok   cmake --install --prefix /opt/pcipass (DESTDIR) installs the same set under that prefix"
