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
echo "(entry 0007: the free ZNS drive, with the number kdevops' own generator gives it;"
echo " numbers are kept from this file on every later run, so a .config never changes meaning)"
sed -n '/^config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007$/,/^config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_TARGET_GUEST$/p' "$generated" | sed '$d'

# make bringup: plan which device goes to which guest, look at every change
# first, then put the devices into two sample guests (XML files made from
# xml-templates/guest-q35.xml, as kdevops writes guestfs/NAME/NAME.xml).
guests=build/demo/guestfs
rm -rf "$guests"
for g in lab-xfs lab-btrfs; do
  mkdir -p "$guests/$g"
  sed "s|<name>[^<]*</name>|<name>$g</name>|" xml-templates/guest-q35.xml >"$guests/$g/$g.xml"
done
step plan --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0
pcipass plan --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0
step plan --guests lab-xfs 2d:00.0 "  (a GPU: the host's boot VGA, and half of its IOMMU group)"
pcipass plan --guests lab-xfs 2d:00.0 || echo "(exit code $?: refused, nothing changed)"
step bringup --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0 --xml-dir "$guests" --dry-run
pcipass --state-dir build/demo/state bringup --guests lab-xfs,lab-btrfs --technique roundrobin \
  02:00.0 06:00.0 --xml-dir "$guests" --dry-run
# A copied tree has no kernel behind it, so the demo leaves the drivers alone
# (--no-bind) and edits the guests only; on a real host bringup binds too.
step bringup --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0 --xml-dir "$guests" --no-bind
pcipass bringup --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0 \
  --xml-dir "$guests" --no-bind
echo
echo "\$ cat $guests/lab-xfs/lab-xfs.xml"
cat "$guests/lab-xfs/lab-xfs.xml"
step bringup ... --no-bind "  (again: nothing changes)"
pcipass bringup --guests lab-xfs,lab-btrfs --technique roundrobin 02:00.0 06:00.0 \
  --xml-dir "$guests" --no-bind
