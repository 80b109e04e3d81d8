#!/bin/busybox sh
# What the end-to-end guest runs, under busybox, as root, on a real kernel
# with an emulated Intel IOMMU. It asserts nothing itself: every step's
# output goes to the second serial port (/dev/ttyS1) between markers, and
# tests/e2e/check.py checks it on the host.
#
#   guest.sh boot1|boot2|nested|swap1|swap2
#
# The guest has two NVMe controllers told apart by serial number: e2e-state
# (ext4, mounted on /var/lib/pcipass: used by the host, and it keeps pcipass's
# journal across the reboot) and e2e-free (the one pcipass binds).
phase=$1
results=/dev/ttyS1

# emit NAME: the text of standard input as one record.
emit() {
  {
    echo "@@E2E BEGIN $1"
    cat
    echo
    echo "@@E2E END"
  } >"$results"
}

# step NAME COMMAND...: runs COMMAND, records its stdout, stderr and exit code.
step() {
  name=$1
  shift
  "$@" >/tmp/step.out 2>/tmp/step.err
  rc=$?
  emit "$name.stdout" </tmp/step.out
  emit "$name.stderr" </tmp/step.err
  echo "$rc" | emit "$name.rc"
  echo "e2e: $name -> $rc"
}

# busybox's own view of every PCI function: address vendor device class
# driver group (- when none).
pci_facts() {
  for d in /sys/bus/pci/devices/*; do
    driver=-
    group=-
    [ -e "$d/driver" ] && driver=$(basename "$(readlink "$d/driver")")
    [ -e "$d/iommu_group" ] && group=$(basename "$(readlink "$d/iommu_group")")
    echo "${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class") $driver $group"
  done
}

# How the kernel can reset each function: ADDRESS METHODS, METHODS the
# reset_method attribute with commas ("-" without one, "reset" when only the
# older reset attribute is there).
reset_facts() {
  for d in /sys/bus/pci/devices/*; do
    methods=-
    if [ -e "$d/reset_method" ]; then
      methods=$(tr ' ' ',' <"$d/reset_method")
    elif [ -e "$d/reset" ]; then
      methods=reset
    fi
    echo "${d##*/} $methods"
  done
}

# Mode, owner and group of the vfio nodes, the free controller's sysfs files
# and the files bind writes: PATH MODE UID GID.
file_facts() {
  for f in /dev/vfio/* "/sys/bus/pci/devices/$free"/* /sys/bus/pci/drivers/*/unbind \
    /sys/bus/pci/drivers_probe; do
    [ -e "$f" ] || continue
    echo "$f $(stat -c '%a %u %g' "$f")"
  done
}

# Address of the NVMe controller with serial number $1.
nvme_address() {
  for c in /sys/class/nvme/nvme*; do
    if [ "$(cat "$c/serial" | tr -d ' ')" = "$1" ]; then
      basename "$(readlink -f "$c/device")"
      return
    fi
  done
}

# The block device of the namespace behind the controller with serial $1.
nvme_block() {
  for c in /sys/class/nvme/nvme*; do
    if [ "$(cat "$c/serial" | tr -d ' ')" = "$1" ]; then
      for n in "$c"/nvme*n1; do
        [ -e "$n" ] && echo "/dev/${n##*/}" && return
      done
    fi
  done
}

modprobe nvme
modprobe e1000e
modprobe crc32c_generic
modprobe ext4
modprobe vfio-pci
modprobe vfio_iommu_type1

# The controllers probe asynchronously.
for _ in $(seq 1 100); do
  state=$(nvme_address e2e-state)
  free=$(nvme_address e2e-free)
  state_block=$(nvme_block e2e-state)
  [ -n "$state" ] && [ -n "$free" ] && [ -n "$state_block" ] && [ -b "$state_block" ] && break
  sleep 0.1
done
mount -t ext4 "$state_block" /var/lib/pcipass
printf 'state %s\nfree %s\nstate_block %s\n' "$state" "$free" "$state_block" | emit setup
cat /proc/mounts | emit mounts

case $phase in
  boot1)
    pci_facts | emit facts.before
    reset_facts | emit facts.reset
    step doctor pcipass --json doctor
    step list pcipass --json list
    step groups pcipass --json groups
    step bind-used pcipass bind "$state"
    step bind pcipass --json bind "$free"
    pci_facts | emit facts.bound
    cat "/sys/bus/pci/devices/$free/driver_override" | emit override.bound
    file_facts | emit files.bound
    step list-bound pcipass --json list
    step release pcipass --json release "$free"
    pci_facts | emit facts.released
    cat "/sys/bus/pci/devices/$free/driver_override" | emit override.released
    # Leave the free controller bound and opened to the kvm group: the
    # second boot restores exactly this.
    step bind-again pcipass --json bind "$free"
    step permissions pcipass --json permissions --group kvm "$free"
    file_facts | emit files.permissions
    cat /etc/udev/rules.d/*pcipass* 2>&1 | emit udev-rule
    cat /etc/security/limits.d/*pcipass* 2>&1 | emit limits
    step status pcipass --json status
    ;;
  boot2)
    pci_facts | emit facts.rebooted
    step status-rebooted pcipass --json status
    step restore pcipass --json restore
    pci_facts | emit facts.restored
    file_facts | emit files.restored
    step status pcipass --json status
    ;;
  nested)
    # Stage 2: libvirt starts a nested guest with the controller passed
    # through, after pcipass bringup bound it and added its <hostdev>.
    ln -sfn /run /var/run
    mkdir -p /run/libvirt /tmp/home
    export HOME=/tmp/home
    ip link set lo up  # the TCP listener below is on 127.0.0.1
    # A name of its own: pcipass ties a usage report to its host by it.
    echo pcipass-e2e >/proc/sys/kernel/hostname
    libvirtd -d --listen
    for _ in $(seq 1 300); do
      [ -S /run/libvirt/libvirt-sock ] && break
      sleep 0.2
    done

    # Binding through libvirt's remote protocol: this guest's own libvirtd
    # over TCP on 127.0.0.1 (tests/e2e/libvirtd.conf), a URI pcipass treats
    # as another host. Its usage comes from its own list --json.
    remote=qemu+tcp://127.0.0.1/system
    pcipass --json list >/tmp/usage.json 2>/tmp/usage.err
    step remote-bind-used pcipass -c "$remote" --host-usage /tmp/usage.json bind "$state"
    # The report of a machine built alike (another name, the same devices)
    # is refused: the UUID QEMU gave this guest (e2e.sh) confirms nothing
    # when the names disagree.
    sed 's/"pcipass-e2e"/"pcipass-e2e-twin"/' /tmp/usage.json >/tmp/twin.json
    step remote-bind-twin pcipass -c "$remote" --host-usage /tmp/twin.json bind "$free"
    step remote-bind pcipass -c "$remote" --host-usage /tmp/usage.json --json bind "$free"
    pci_facts | emit facts.remote-bound
    step remote-status pcipass -c "$remote" --json status
    step remote-release pcipass -c "$remote" --host-usage /tmp/usage.json --json release "$free"
    pci_facts | emit facts.remote-released

    step nested-define virsh -c qemu:///system define /e2e/nested.xml
    step nested-bringup pcipass -c qemu:///system --json bringup "$free=e2e-nested"
    pci_facts | emit facts.nested-bound
    step nested-start virsh -c qemu:///system start --paused e2e-nested
    step nested-dumpxml virsh -c qemu:///system dumpxml e2e-nested
    step nested-pci virsh -c qemu:///system qemu-monitor-command e2e-nested --hmp 'info qtree'
    step nested-destroy virsh -c qemu:///system destroy e2e-nested
    pci_facts | emit facts.nested-stopped
    step nested-release pcipass --json release "$free"
    pci_facts | emit facts.nested-released
    virsh -c qemu:///system dumpxml --inactive e2e-nested >/tmp/nested-hostdev.xml

    # The same bringup through libvirt's remote protocol: the controller is
    # bound by virNodeDeviceDetachFlags there, the guest read there (its
    # definition already has the hostdev), and the guest starts with it.
    step remote-bringup pcipass -c "$remote" --host-usage /tmp/usage.json --json bringup "$free=e2e-nested"
    pci_facts | emit facts.remote-bringup
    step remote-nested-start virsh -c qemu:///system start --paused e2e-nested
    step remote-nested-pci virsh -c qemu:///system qemu-monitor-command e2e-nested --hmp 'info qtree'
    step remote-nested-destroy virsh -c qemu:///system destroy e2e-nested
    step remote-nested-release pcipass -c "$remote" --host-usage /tmp/usage.json --json release "$free"
    pci_facts | emit facts.remote-nested-released

    # Live hotplug through libvirt's API, over the remote protocol: a running
    # guest (paused: its CPUs never run, but QEMU and its PCIe slots do) gets
    # the controller and gives it back. First e2e-nested's definition still
    # holds the controller, so attaching it to another guest is refused.
    sed 's|<name>e2e-nested</name>|<name>e2e-live</name>|' /e2e/nested.xml >/tmp/live.xml
    step live-define virsh -c qemu:///system define /tmp/live.xml
    step live-start virsh -c qemu:///system start --paused e2e-live
    step live-bind pcipass -c "$remote" --host-usage /tmp/usage.json --json bind "$free"
    step live-attach-held pcipass -c "$remote" --host-usage /tmp/usage.json attach --live e2e-live "$free"
    virsh -c qemu:///system undefine e2e-nested >/dev/null 2>&1
    step live-attach pcipass -c "$remote" --host-usage /tmp/usage.json --json attach --live e2e-live "$free"
    step live-pci virsh -c qemu:///system qemu-monitor-command e2e-live --hmp 'info qtree'
    # libvirt itself refuses to give a device in use back to the host.
    step live-release-used pcipass -c "$remote" --host-usage /tmp/usage.json release "$free"
    pci_facts | emit facts.live-used
    step live-detach pcipass -c "$remote" --host-usage /tmp/usage.json --json detach --live e2e-live "$free"
    step live-pci-detached virsh -c qemu:///system qemu-monitor-command e2e-live --hmp 'info qtree'
    step live-dumpxml virsh -c qemu:///system dumpxml e2e-live
    step live-destroy virsh -c qemu:///system destroy e2e-live
    step live-release pcipass -c "$remote" --host-usage /tmp/usage.json --json release "$free"
    pci_facts | emit facts.live-released
    tail -40 /tmp/libvirtd.log 2>&1 | emit libvirtd-log
    tail -40 /var/log/libvirt/qemu/e2e-nested.log 2>&1 | emit qemu-log

    # The unprivileged path: user e2e (group kvm) starts the same guest
    # through its own qemu:///session libvirtd, after root ran pcipass bind
    # and permissions. The memlock limit is what pcipass wrote to limits.d,
    # applied as PAM would at login (busybox su has no PAM).
    step session-bind pcipass --json bind "$free"
    # Before pcipass permissions the start must fail on /dev/vfio/N (the
    # memlock limit is generous until then, so that is the only thing missing).
    memlock=4194304
    mkdir -p /tmp/e2e-home
    cp /tmp/nested-hostdev.xml /tmp/e2e-home/nested.xml
    chown -R e2e /tmp/e2e-home
    as_e2e() {
      (ulimit -l "$memlock" && su -s /bin/sh e2e -c \
        "cd /tmp/e2e-home && HOME=/tmp/e2e-home XDG_RUNTIME_DIR=/tmp/e2e-home/run $*")
    }
    step session-id as_e2e id
    step session-define as_e2e virsh -c qemu:///session define nested.xml
    step session-start-unopened as_e2e virsh -c qemu:///session start --paused e2e-nested
    # The limit is sized from the guest's own definition (128 MiB), found
    # because it holds the device.
    step session-permissions pcipass --json permissions --group kvm --xml-dir /tmp/e2e-home "$free"
    file_facts | emit files.session
    memlock=$(awk '$2 == "hard" && $3 == "memlock" {print $4}' /etc/security/limits.d/90-pcipass-memlock.conf)
    echo "$memlock" | emit session-memlock
    step session-start as_e2e virsh -c qemu:///session start --paused e2e-nested
    step session-pci as_e2e virsh -c qemu:///session qemu-monitor-command e2e-nested --hmp "'info qtree'"
    step session-destroy as_e2e virsh -c qemu:///session destroy e2e-nested
    step session-release pcipass --json release "$free"
    tail -30 /tmp/e2e-home/.cache/libvirt/qemu/log/e2e-nested.log 2>&1 | emit session-qemu-log
    ;;
  swap1)
    # Before the two controllers swap slots: bind the free one; the journal
    # records its serial.
    step swap-bind pcipass --json bind "$free"
    ;;
  swap2)
    # scripts/e2e.sh started QEMU with the two controllers' -device order
    # reversed: each sits in the other's slot, so the journal's address now
    # holds the mounted e2e-state. restore must refuse it, by its serial.
    pci_facts | emit facts.swapped
    step swap-restore pcipass restore
    pci_facts | emit facts.swap-restored
    ;;
  *)
    echo "unknown phase '$phase'" | emit error
    ;;
esac

umount /var/lib/pcipass
echo "@@E2E DONE" >"$results"
