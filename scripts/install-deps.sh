#!/usr/bin/env bash
# Installs, through apt, everything pcipass needs to build, test, demo and
# benchmark. Idempotent: packages already present are not reinstalled and apt
# is not even asked when nothing is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config ninja-build
  g++ clang libclang-rt-14-dev
  libvirt-dev libpugixml-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest libpci-dev
  # runtime data and tools
  pciutils pci.ids
  # real libvirt for the tests and the demo
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu
  qemu-system-x86 qemu-utils
  # Kconfig tools that must accept what pcipass generates
  kconfig-frontends python3-kconfiglib
  # misc tools the tests call
  python3 python3-yaml iproute2 util-linux kmod
  # the manual and shell completion that pcipass generates: read by the
  # real groff, bash (with bash-completion's helpers), zsh and fish in the tests
  groff-base bash-completion zsh fish
  # the Ansible collection's tests (ansible/): Debian's ansible-core
  ansible-core
  # the end-to-end tests: initramfs, disk images (the kernel and busybox are
  # fetched with apt-get download, not installed)
  cpio e2fsprogs file
  # the Debian package (scripts/package.sh): dpkg-shlibdeps, and lintian to judge it
  dpkg-dev lintian
  # the benchmarks' profile (scripts/bench.sh): system call counts and samples
  strace linux-perf
)

missing=()
for p in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != *"install ok installed"* ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
