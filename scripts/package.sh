#!/usr/bin/env bash
# Builds the Debian package of pcipass: pcipass_VERSION_ARCH.deb.
#
#   scripts/package.sh [--build DIR] [--out DIR] [--no-lintian] [--no-deps]
#
# Without --build it configures and builds a Release pcipass (no tests, no
# benchmarks) in build-deb/. With --build it packages that build folder as it
# is (the tests do, with their own build): nothing is configured or compiled.
# The package is what `cmake --install DIR --prefix /usr` installs, staged
# with DESTDIR and stripped, plus DEBIAN/: control (Depends computed by
# dpkg-shlibdeps, with pci.ids, which pcipass reads; deb-systemd-helper, which
# the maintainer scripts call, is essential), md5sums, and packaging/debian/postinst
# and postrm (they enable pcipass-restore.service and start nothing). Then
# lintian checks it: an error fails the script. The .deb goes to --out
# (default: the build folder). --no-deps skips scripts/install-deps.sh (the
# tests: they install nothing).
#
# Why not dpkg-buildpackage: it would compile everything again from source
# through debhelper; this packages the very build the tests ran, with
# Debian's own tools (cmake --install, dpkg-shlibdeps, dpkg-deb, lintian).
#
# Exit codes: 0 built (and lintian found no error), 1 failed, 2 usage.
set -euo pipefail

build=
out=
lint=yes
deps=yes
while (($#)); do
  case $1 in
    --build) build=$(realpath -m "${2:?--build needs a folder}"); shift 2 ;;
    --out) out=$(realpath -m "${2:?--out needs a folder}"); shift 2 ;;
    --no-lintian) lint=no; shift ;;
    --no-deps) deps=no; shift ;;
    *)
      echo "package.sh: unknown argument '$1' (--build DIR, --out DIR, --no-lintian, --no-deps)" >&2
      exit 2
      ;;
  esac
done
cd "$(dirname "$0")/.."
root=$PWD

if [[ $deps == yes ]]; then bash scripts/install-deps.sh; fi

if [[ -z $build ]]; then
  build=$root/build-deb
  mkdir -p "$build"
  # -O2, as scripts/bench.sh: GCC 12's -O3 raises false -Wmaybe-uninitialized
  # and -Wrestrict errors in libstdc++.
  if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DPCIPASS_WERROR=ON \
    -DPCIPASS_BUILD_TESTS=OFF -DPCIPASS_BUILD_BENCH=OFF && ninja -C "$build"; } >"$build/package-build.log" 2>&1; then
    tail -n 30 "$build/package-build.log" >&2
    echo "package.sh: building pcipass in $build failed (the whole log: $build/package-build.log)" >&2
    exit 1
  fi
fi
[[ -f $build/CMakeCache.txt && -x $build/pcipass ]] ||
  { echo "package.sh: $build is not a built pcipass folder" >&2; exit 1; }
build=$(cd "$build" && pwd)
out=${out:-$build}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
changelog_version=$(sed -n '1s/^pcipass (\([^)]*\)).*/\1/p' packaging/debian/changelog)
if [[ $version != "$changelog_version" ]]; then
  echo "package.sh: the project is version $version but packaging/debian/changelog" \
    "begins with $changelog_version: add a changelog entry" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr --strip >/dev/null

# dpkg-shlibdeps reads debian/control of a source package: give it a minimal one.
mkdir -p "$work/src/debian"
printf 'Source: pcipass\n\nPackage: pcipass\nArchitecture: any\n' >"$work/src/debian/control"
if ! (cd "$work/src" && dpkg-shlibdeps -O -e"$stage/usr/sbin/pcipass") >"$work/shlibs" 2>"$work/shlibs.err"; then
  cat "$work/shlibs.err" >&2
  echo "package.sh: dpkg-shlibdeps failed" >&2
  exit 1
fi
shlibs=$(sed -n 's/^shlibs:Depends=//p' "$work/shlibs")
[[ -n $shlibs ]] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
install -m 755 packaging/debian/postinst packaging/debian/postrm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$shlibs, pci.ids/" \
  packaging/debian/control.in >"$stage/DEBIAN/control"

deb=$out/pcipass_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "package.sh: built $deb"

if [[ $lint == yes ]]; then
  # Errors fail the package; warnings and notes are printed for people.
  status=0
  lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian" 2>&1 || status=$?
  grep -v '^running with root privileges is not recommended!$' "$work/lintian" || true
  if ((status != 0)); then
    echo "package.sh: lintian found errors in $deb" >&2
    exit 1
  fi
fi
