#!/usr/bin/env bash
# Starts virtlogd and libvirtd when no libvirt daemon answers on
# qemu:///system, so tests and the demo have a real daemon. Does nothing when
# one already runs (under systemd or started earlier). Never touches PCI
# devices.
set -euo pipefail

answers() { virsh -q -c qemu:///system uri >/dev/null 2>&1; }

# A /dev/kvm left root-only (0600 root:root: a container or a machine
# without udev's rule) makes libvirtd probe QEMU again on every domain
# definition: the probe (as root) finds KVM, the cache check (as
# libvirt-qemu) cannot use it and throws the cache away. Each define then
# takes about 50 s instead of milliseconds. udev's own rule gives /dev/kvm
# group kvm and mode 0660, which is what this does, and nothing more.
if [[ -c /dev/kvm && $(id -u) -eq 0 ]] && getent group kvm >/dev/null &&
  [[ $(stat -c '%a %G' /dev/kvm) == "600 root" ]]; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  echo "start-libvirtd: gave /dev/kvm udev's usual group kvm and mode 0660" >&2
fi

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
