#!/usr/bin/env bash
# Sets everything up and shows pcipass's main flow on the bundled simulated
# workstation (tests/data/hosts/workstation.yaml): nothing on this machine is
# bound, unbound or written outside the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build pcipass pcipass-simhost >/dev/null

host=build/demo/workstation
build/tools/simhost/pcipass-simhost --force tests/data/hosts/workstation.yaml "$host"
pcipass() { build/pcipass --sysfs-root "$host/sys" "$@"; }

step() { printf '\n\033[1m$ pcipass %s\033[0m\n' "$*"; }
[[ -t 1 && -z ${NO_COLOR:-} ]] || step() { printf '\n$ pcipass %s\n' "$*"; }

echo "Simulated host: $host (a workstation: GPU + audio, two NVMe drives, a NIC, USB)"
step list
pcipass list
step groups
pcipass groups
step list --class 0108 --json
pcipass list --class 0108 --json

# The kdevops menu: what `make dynconfig` would offer on this host.
generated=build/demo/Kconfig.passthrough_libvirt.generated
step kconfig -o "$generated"
pcipass kconfig -o "$generated"
echo "(entry 0002 of $(grep -c '^config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_[0-9]*$' "$generated"); the free ZNS drive)"
sed -n '/^config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002$/,/^config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_TARGET_GUEST$/p' "$generated" | sed '$d'
