#!/usr/bin/env bash
# End-to-end tests on a real kernel: boots Debian's own kernel in QEMU (TCG,
# q35, emulated Intel IOMMU with interrupt remapping) with a busybox
# initramfs holding pcipass, and checks what pcipass does to real devices:
# two emulated NVMe controllers and an e1000e, inside the guest only. Nothing
# on this machine is bound, unbound or written outside BUILD/e2e.
#
#   scripts/e2e.sh [BUILD [KERNEL]]
#
# BUILD is a configured build folder (default build). KERNEL is which Debian
# kernel boots: `default` (what linux-image-amd64 depends on: 6.1 on Debian
# 12), `newest` (the newest linux-image-X.Y-amd64 the archive offers: 6.12,
# whose sysfs and VFIO are what newer hosts run), or a package name. Each
# kernel gets its own work folder: BUILD/e2e for the default,
# BUILD/e2e-VERSION for the others.
#
# Exit codes: 0 passed, 1 failed, 77 skipped (QEMU, the kernel package or
# TCG are not available here; the reason is printed).
#
# Stage 1 (tests/e2e/guest.sh, checked by tests/e2e/check.py): doctor, list,
# groups, bind, refusal of the mounted controller, release, permissions; then
# a second boot with the same state disk, restore and status. Stage 2, a
# third boot with libvirtd and QEMU added: bind, status and release through
# libvirt's remote protocol (qemu+tcp://127.0.0.1), then pcipass bringup into a nested
# guest that libvirt starts with the controller passed through, as root
# (qemu:///system), live hotplug (attach --live, detach --live) into a
# running guest through libvirt's API, and as an unprivileged user
# (qemu:///session). Stage 3,
# two more boots: bind the free controller, then boot with the two
# controllers in each other's slot: restore must refuse the mounted one now
# at the journaled address, by its serial, and say where the bound one went.
# The README's "Proof on a real kernel" says what each step proves.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
kernel_choice=${2:-default}

skip() {
  echo "e2e: SKIPPED: $*" >&2
  exit 77
}

bash scripts/install-deps.sh
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"

if [[ ! -x $build/pcipass ]]; then
  cmake -S . -B "$build" -G Ninja >/dev/null
  ninja -C "$build" pcipass >/dev/null
fi
pcipass=$(cd "$build" && pwd)/pcipass

# --- the kernel and busybox, from Debian's archive (cached in WORK/debs)
# The kernel package a meta-package depends on. No early exit in a reader of
# a pipe: under pipefail the writer's SIGPIPE (exit 141) would end the script.
kernel_of() {
  apt-cache depends "$1" 2>/dev/null | awk '!found && /Depends: linux-image-[0-9]/ {print $2; found = 1}'
}
case $kernel_choice in
  default)
    kernel_pkg=$(kernel_of linux-image-amd64)
    [[ -n $kernel_pkg ]] || skip "apt knows no linux-image-amd64 package"
    ;;
  newest)
    meta=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E '^linux-image-[0-9]+\.[0-9]+-amd64$' | sort -V | tail -n 1 || true)
    [[ -n $meta ]] || skip "apt knows no linux-image-X.Y-amd64 package"
    kernel_pkg=$(kernel_of "$meta")
    [[ -n $kernel_pkg ]] || skip "apt knows no kernel behind $meta"
    ;;
  linux-image-*) kernel_pkg=$kernel_choice ;;
  *) echo "e2e: KERNEL is default, newest or a linux-image-... package, not '$kernel_choice'" >&2; exit 2 ;;
esac
kver=${kernel_pkg#linux-image-}
if [[ $kernel_choice == default ]]; then work=$build/e2e; else work=$build/e2e-$kver; fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
echo "e2e: kernel $kver (work folder $work)"
debs=$work/debs
mkdir -p "$debs"
fetch() {  # fetch PACKAGE: the .deb in $debs (downloaded once)
  local deb
  deb=$(compgen -G "$debs/$1_*.deb" | sort | sed -n 1p || true)
  if [[ -z $deb ]]; then
    (cd "$debs" && apt-get download "$1" >/dev/null 2>&1) || return 1
    deb=$(compgen -G "$debs/$1_*.deb" | sort | sed -n 1p)
  fi
  echo "$deb"
}
kernel_deb=$(fetch "$kernel_pkg") || skip "cannot download $kernel_pkg (no network or apt source)"
busybox_deb=$(fetch busybox-static) || skip "cannot download busybox-static"

kernel_dir=$work/kernel
if [[ ! -f $kernel_dir/lib/modules/$kver/modules.dep ]]; then
  rm -rf "$kernel_dir"
  dpkg -x "$kernel_deb" "$kernel_dir"
  depmod -b "$kernel_dir" "$kver"
fi
busybox_dir=$work/busybox
[[ -x $busybox_dir/bin/busybox ]] || dpkg -x "$busybox_deb" "$busybox_dir"

# --- the initramfs
rootfs=$work/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,e2e,var/lib/pcipass}
cp "$busybox_dir/bin/busybox" "$rootfs/bin/busybox"
install -m 755 tests/e2e/init "$rootfs/init"
install -m 755 tests/e2e/guest.sh "$rootfs/e2e/guest.sh"

# copy_libs FILE...: every shared library FILE links, at the same paths (ldd
# gives the whole closure, the loader included).
copy_libs() {
  local lib
  for lib in $(ldd "$@" 2>/dev/null | grep -o '/[^ ]*'); do
    if [[ ! -e $rootfs$lib ]]; then
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    fi
  done
}
install -m 755 "$pcipass" "$rootfs/usr/sbin/pcipass"
strip --strip-debug "$rootfs/usr/sbin/pcipass"
copy_libs "$pcipass"
# libvirt is loaded only by the commands that talk to it (dlopen): ldd does
# not see it.
libvirt_so=$(ldconfig -p | awk '!found && /libvirt\.so\.0 .*x86-64/ {print $NF; found = 1}')
if [[ -n $libvirt_so ]]; then
  mkdir -p "$rootfs$(dirname "$libvirt_so")"
  cp -L "$libvirt_so" "$rootfs$libvirt_so"
  copy_libs "$libvirt_so"
fi
for ids in /usr/share/misc/pci.ids /usr/share/hwdata/pci.ids /usr/share/pci.ids; do
  if [[ -e $ids ]]; then
    mkdir -p "$rootfs$(dirname "$ids")"
    cp -L "$ids" "$rootfs$ids"
  fi
done
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
e2e:x:1000:1000:e2e:/home/e2e:/bin/sh
libvirt-qemu:x:64055:108:libvirt qemu:/var/lib/libvirt:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
kvm:x:108:e2e
e2e:x:1000:
libvirt-qemu:x:64055:
EOF

# Only the modules the test loads, with what they depend on.
moddir=lib/modules/$kver
mkdir -p "$rootfs/$moddir"
cp "$kernel_dir/$moddir"/modules.{order,builtin,builtin.modinfo} "$rootfs/$moddir/"
for m in nvme e1000e ext4 crc32c_generic vfio-pci vfio_iommu_type1; do
  for dep in $(modprobe -d "$kernel_dir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'); do
    rel=${dep#"$kernel_dir"/}
    mkdir -p "$rootfs/$(dirname "$rel")"
    cp "$dep" "$rootfs/$rel"
  done
done
depmod -b "$rootfs" "$kver"

initrd=$work/initrd.cpio
(cd "$rootfs" && find . | cpio -o -H newc --quiet) >"$initrd"

# Stage 2 adds libvirtd (with its qemu and node-device drivers), virsh and
# QEMU, taken from the installed Debian packages, as a second archive the
# kernel unpacks over the first.
nested=$work/nested
rm -rf "$nested"
mkdir -p "$nested"/{etc/libvirt,var/lib/libvirt/qemu,var/cache/libvirt/qemu,var/log/libvirt/qemu,e2e}
nested_files=(/usr/sbin/libvirtd /usr/sbin/virtlogd /usr/bin/virsh /usr/bin/qemu-system-x86_64
  /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so)
while read -r f; do
  [[ -f $f ]] && nested_files+=("$f")
done < <(dpkg -L libvirt0 libvirt-daemon libvirt-daemon-driver-qemu 2>/dev/null |
  grep -E '^/usr/lib/x86_64-linux-gnu/(libvirt|libvirt-qemu)[.]so|/libvirt/connection-driver/libvirt_driver_(qemu|nodedev)[.]so|^/usr/share/libvirt/cpu_map/x86_|^/usr/share/libvirt/cpu_map/index')
for f in /usr/share/seabios/bios-256k.bin /usr/share/seabios/bios.bin /usr/share/qemu/kvmvapic.bin \
  /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/vgabios-stdvga.bin; do
  [[ -e $f ]] && nested_files+=("$f")
done
for f in "${nested_files[@]}"; do
  mkdir -p "$nested$(dirname "$f")"
  cp -L "$f" "$nested$f"
done
saved_rootfs=$rootfs
rootfs=$nested
for f in "${nested_files[@]}"; do
  if [[ $(file -bL "$f") == *ELF* ]]; then copy_libs "$f"; fi
done
rootfs=$saved_rootfs
# Files the first archive has already need not be repeated.
(cd "$nested" && find . -type f) | while read -r f; do
  if [[ -e $rootfs/$f ]]; then rm -f "$nested/$f"; fi
done
cp tests/e2e/libvirtd.conf tests/e2e/qemu.conf "$nested/etc/libvirt/"
sed -e 's|<name>pcipass-guest</name>|<name>e2e-nested</name>|' xml-templates/guest-q35.xml \
  >"$nested/e2e/nested.xml"
(cd "$nested" && find . | cpio -o -H newc --quiet) >"$work/nested.cpio"
cat "$initrd" "$work/nested.cpio" >"$work/initrd-nested.cpio"

# --- disks: the state disk is ext4 (made here, as a file); the free one is blank
state_img=$work/state.img
free_img=$work/free.img
rm -f "$state_img" "$free_img"
truncate -s 64M "$state_img" "$free_img"
mkfs.ext4 -q -F -L pcipass-state "$state_img"

# --- boot: run_guest PHASE
run_guest() {
  local phase=$1
  local console=$work/$phase.console results=$work/$phase.results
  rm -f "$console" "$results"
  local start=$SECONDS
  set +e
  local image=$initrd memory=1024
  if [[ $phase == nested ]]; then image=$work/initrd-nested.cpio memory=3072; fi
  local state_disk=(-drive "if=none,id=state,file=$state_img,format=raw"
    -device nvme,drive=state,serial=e2e-state)
  local free_disk=(-drive "if=none,id=free,file=$free_img,format=raw"
    -device nvme,drive=free,serial=e2e-free)
  local disks=("${state_disk[@]}" "${free_disk[@]}")
  # swap2: the two controllers in each other's slot, as after moving cards.
  if [[ $phase == swap2 ]]; then disks=("${free_disk[@]}" "${state_disk[@]}"); fi
  timeout 300 qemu-system-x86_64 \
    -machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m "$memory" \
    -uuid 5ad0c3e2-7f6b-4c1d-9e2a-3b4c5d6e7f80 \
    -device intel-iommu,intremap=on,caching-mode=on \
    -kernel "$kernel_dir/boot/vmlinuz-$kver" -initrd "$image" \
    -append "console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=4 pcipass_e2e=$phase" \
    -display none -monitor none -no-reboot \
    -serial "file:$console" -serial "file:$results" \
    "${disks[@]}" \
    -netdev user,id=net0 -device e1000e,netdev=net0 \
    >"$work/$phase.qemu.log" 2>&1
  local rc=$?
  set -e
  echo "e2e: $phase: QEMU exited $rc after $((SECONDS - start)) s"
  if ((rc != 0)) && ! grep -q '@@E2E DONE' "$results" 2>/dev/null; then
    if grep -qiE 'could not|not supported|failed to initialize' "$work/$phase.qemu.log"; then
      skip "QEMU cannot run here: $(head -1 "$work/$phase.qemu.log")"
    fi
  fi
}

run_guest boot1
run_guest boot2
run_guest nested
run_guest swap1
run_guest swap2
/usr/bin/python3 tests/e2e/check.py "$work"
