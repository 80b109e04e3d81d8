#!/usr/bin/env bash
# kdevops' vfio-permissions, done by pcipass: takes the same arguments (PCI
# addresses such as 0000:2d:00.0 0000:2e:00.0) and lets the libvirt-qemu
# group (kvm when it does not exist) use them from qemu:///session. Extra
# pcipass options may follow the addresses: --group G, --guest-memory 16G,
# --dry-run. PCIPASS names the binary (default: pcipass on PATH).
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: vfio-permissions.sh PCI_ADDRESS... [pcipass permissions options]" >&2
  exit 2
fi
exec "${PCIPASS:-pcipass}" permissions "$@"
