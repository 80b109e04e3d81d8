#!/usr/bin/env bash
# Starts virtlogd and libvirtd when no libvirt daemon answers on
# qemu:///system, so tests and the demo have a real daemon. Does nothing when
# one already runs (under systemd or started earlier). Never touches devices.
set -euo pipefail

answers() { virsh -q -c qemu:///system uri >/dev/null 2>&1; }

if answers; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "start-libvirtd: no libvirtd answers on qemu:///system and starting one needs root" >&2
  exit 1
fi
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl start virtlogd.socket libvirtd.socket libvirtd.service >/dev/null 2>&1 || true
fi
if ! answers; then
  pgrep -x virtlogd >/dev/null || /usr/sbin/virtlogd -d
  pgrep -x libvirtd >/dev/null || /usr/sbin/libvirtd -d
fi
for _ in $(seq 1 50); do
  answers && exit 0
  sleep 0.2
done
echo "start-libvirtd: libvirtd did not come up on qemu:///system" >&2
exit 1
