#!/usr/bin/python3
"""Checks, on the host, what the end-to-end guest recorded (tests/e2e/guest.sh).

    check.py WORK

WORK holds PHASE.results (the guest's second serial port: records between
"@@E2E BEGIN NAME" and "@@E2E END") and PHASE.console (its console) for the
phases boot1, boot2, nested, swap1 and swap2. Every check is printed; on a failure the guest's
console and the step's output are shown, and the exit code is 1.
"""

import json
import os
import re
import sys

BEGIN = re.compile(r"^@@E2E BEGIN (\S+)$")


def parse_results(path):
    """NAME -> text of each record; "@@E2E DONE" -> True when the guest finished."""
    records = {}
    name, lines = None, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f.read().split("\n"):
            line = line.rstrip("\r")
            m = BEGIN.match(line)
            if m:
                name, lines = m.group(1), []
            elif line == "@@E2E END" and name is not None:
                # guest.sh adds one newline after the output: drop it.
                records[name] = "\n".join(lines)[:-1] if lines else ""
                name = None
            elif line == "@@E2E DONE":
                records["@@done"] = ""
            elif name is not None:
                lines.append(line)
    return records


class Checker:
    def __init__(self, work):
        self.work = work
        self.failures = 0
        self.phase = None
        self.records = {}

    def load(self, phase):
        self.phase = phase
        path = os.path.join(self.work, phase + ".results")
        self.records = parse_results(path) if os.path.exists(path) else {}
        if not self.check("@@done" in self.records, "the guest ran to the end"):
            self.show_console()
            return False
        return True

    def show_console(self):
        path = os.path.join(self.work, self.phase + ".console")
        print(f"---- {self.phase} console ({path})")
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                print(f.read()[-6000:])
        print("----")

    def check(self, ok, what, step=None):
        print(("ok   " if ok else "FAIL ") + f"{self.phase}: {what}")
        if not ok:
            self.failures += 1
            if step is not None:
                for part in ("rc", "stdout", "stderr"):
                    text = self.records.get(f"{step}.{part}", "(missing)")
                    print(f"    {step} {part}: " + text[-3000:].replace("\n", "\n      "))
        return ok

    def text(self, name):
        return self.records.get(name, "")

    def rc(self, step):
        try:
            return int(self.text(step + ".rc").strip())
        except ValueError:
            return None

    def json(self, step):
        try:
            return json.loads(self.text(step + ".stdout"))
        except ValueError:
            self.check(False, f"{step} prints one JSON document", step)
            return None

    def step_ok(self, step, expected_rc=0):
        return self.check(self.rc(step) == expected_rc, f"{step} exits {expected_rc}", step)


def facts(text):
    """busybox's view: address -> (vendor, device, class, driver, group)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 6:
            address, vendor, device, cls, driver, group = parts
            out[address] = {
                "vendor_id": vendor,
                "device_id": device,
                "class": cls,
                "driver": None if driver == "-" else driver,
                "iommu_group": None if group == "-" else int(group),
            }
    return out


def file_modes(text):
    """PATH MODE UID GID lines -> path -> (mode, gid)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[0]] = (int(parts[1], 8), int(parts[3]))
    return out


KVM_GID = 108  # /etc/group of the initramfs (scripts/e2e.sh)


def check_list_matches_kernel(c, step, kernel):
    doc = c.json(step)
    if doc is None:
        return {}
    c.check(doc.get("iommu") is True, f"{step}: the IOMMU is seen", step)
    devices = {d["address"]: d for d in doc.get("devices", [])}
    c.check(set(devices) == set(kernel),
            f"{step} lists exactly the kernel's functions ({len(kernel)})", step)
    for address, seen in sorted(kernel.items()):
        d = devices.get(address)
        if d is None:
            continue
        mine = {k: d.get(k) for k in seen}
        c.check(mine == seen, f"{step}: {address} ids, class, driver and group as in sysfs "
                f"({seen['driver']}, group {seen['iommu_group']})"
                + ("" if mine == seen else f": pcipass says {mine}, sysfs {seen}"))
    return devices


def check_permissions_applied(c, actions, modes, label):
    """Every set-permissions action of `actions` shows in `modes`."""
    checked = 0
    for a in actions:
        action = a["action"]
        if action.get("action") != "set-permissions":
            continue
        path, want = action["path"], int(action["mode"], 8)
        got = modes.get(path)
        if path.startswith("/sys/") or path.startswith("/dev/vfio/"):
            checked += 1
            c.check(got == (want, KVM_GID),
                    f"{label}: {path} has mode {want:o} and group kvm (is {got})")
    return checked


def boot1(c):
    setup = dict(line.split(" ", 1) for line in c.text("setup").splitlines() if " " in line)
    state, free = setup.get("state", ""), setup.get("free", "")
    c.check(state and free and state != free, f"two NVMe controllers: state {state}, free {free}")
    c.check(f"{setup.get('state_block', '?')} /var/lib/pcipass ext4" in c.text("mounts"),
            "the state controller's namespace is mounted on /var/lib/pcipass")
    before = facts(c.text("facts.before"))
    c.check(before.get(free, {}).get("driver") == "nvme", "the free controller starts on nvme")
    c.check(all(f["iommu_group"] is not None for f in before.values()),
            "the emulated IOMMU put every function in a group")

    doctor = c.json("doctor")
    if doctor:
        verdicts = {ch["name"]: ch["verdict"] for ch in doctor.get("checks", [])}
        for name in ("iommu", "interrupt-remapping", "vfio-modules", "vfio-device"):
            c.check(verdicts.get(name) == "OK", f"doctor: {name} is OK ({verdicts.get(name)})",
                    "doctor")
        worst = doctor.get("result")
        c.check(c.rc("doctor") == {"OK": 0, "WARN": 7, "FAIL": 8}.get(worst),
                f"doctor's exit code follows its result ({worst})", "doctor")

    devices = check_list_matches_kernel(c, "list", before)
    # Reset capability (issue 18): what list says is the kernel's reset_method.
    for line in c.text("facts.reset").splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] not in devices:
            continue
        address, methods = parts
        d = devices[address]
        if d.get("kind") != "endpoint":
            continue
        want = [] if methods == "-" else ["available"] if methods == "reset" else methods.split(",")
        c.check(d.get("reset_methods") == want,
                f"list: {address}'s reset methods are the kernel's ({want})", "list")
    if devices:
        c.check(devices.get(state, {}).get("status") == "host-in-use" and
                any("/var/lib/pcipass" in u for u in devices[state].get("host_uses", [])),
                f"list: {state} is host-in-use, backing /var/lib/pcipass", "list")
        c.check(devices.get(free, {}).get("status") == "free", f"list: {free} is free", "list")
        serials = [n.get("serial") for n in devices.get(free, {}).get("nvme", [])]
        c.check(serials == ["e2e-free"], f"list: {free}'s NVMe serial is e2e-free ({serials})",
                "list")
        c.check("/dev/nvme" in devices.get(free, {}).get("human_name", ""),
                f"list: {free} is named by its block device "
                f"({devices.get(free, {}).get('human_name')})", "list")

    groups = c.json("groups")
    if groups:
        by_kernel = {}
        for address, f in before.items():
            by_kernel.setdefault(f["iommu_group"], set()).add(address)
        mine = {g["group"]: {m["address"] for m in g["members"]} for g in groups["groups"]}
        c.check(mine == by_kernel, "groups: the same groups and members as "
                "/sys/kernel/iommu_groups" + ("" if mine == by_kernel else f": {mine}"), "groups")
        verdict = {g["group"]: g["passthrough"] for g in groups["groups"]}
        c.check(verdict.get(before[state]["iommu_group"]) == "blocked",
                "groups: the mounted controller's group is blocked", "groups")
        c.check(verdict.get(before[free]["iommu_group"]) == "needs-bind",
                "groups: the free controller's group needs a bind", "groups")

    c.step_ok("bind-used", 5)
    c.check(state in c.text("bind-used.stderr") and "--force" in c.text("bind-used.stderr"),
            "bind of the mounted controller is refused, naming it and --force", "bind-used")
    bound = facts(c.text("facts.bound"))
    c.check(bound.get(state, {}).get("driver") == "nvme", "the mounted controller stays on nvme")

    group = before.get(free, {}).get("iommu_group")
    if c.step_ok("bind"):
        c.check(bound.get(free, {}).get("driver") == "vfio-pci", f"bind: {free} is on vfio-pci")
        c.check(c.text("override.bound").strip() == "vfio-pci",
                "bind: driver_override is vfio-pci")
        c.check(f"/dev/vfio/{group}" in file_modes(c.text("files.bound")),
                f"bind: /dev/vfio/{group} exists")
        others = {a: f for a, f in bound.items() if a != free}
        c.check(others == {a: f for a, f in before.items() if a != free},
                "bind changed no other function")
    listed = c.json("list-bound")
    if listed:
        status = {d["address"]: d["status"] for d in listed["devices"]}
        c.check(status.get(free) == "vfio-bound", f"list after bind: {free} is vfio-bound",
                "list-bound")

    if c.step_ok("release"):
        released = facts(c.text("facts.released"))
        c.check(released.get(free, {}).get("driver") == "nvme", f"release: {free} is back on nvme")
        c.check(c.text("override.released").strip() in ("(null)", ""),
                f"release: driver_override is cleared ({c.text('override.released').strip()!r})")

    c.step_ok("bind-again")
    modes = file_modes(c.text("files.permissions"))
    if c.step_ok("permissions"):
        perms = c.json("permissions") or {}
        n = check_permissions_applied(c, perms.get("actions", []), modes, "permissions")
        # driver_override, vfio-pci's unbind, drivers_probe and /dev/vfio/N
        c.check(n == 4, f"permissions set the modes of 3 sysfs files and /dev/vfio/{group} ({n})")
        c.check(f'KERNEL=="{group}", GROUP="kvm", MODE="0660"' in c.text("udev-rule"),
                "permissions: the udev rule names the group")
        c.check(re.search(r"^@kvm hard memlock \d+$", c.text("limits"), re.M) is not None,
                "permissions: the memlock limit is written")
    status = c.json("status")
    if status:
        mine = {d["address"]: d for d in status.get("devices", [])}
        entry = mine.get(free, {})
        c.check(entry.get("state") == "applied" and entry.get("vfio_node") is True,
                f"status: {free} applied, /dev/vfio/{group} present", "status")
        c.check(state not in mine, "status: the refused controller is not in the journal",
                "status")
        check_files_as_recorded(c, status, "status")
    return free, group, c.json("permissions") or {}


def check_files_as_recorded(c, status, step):
    """Every file and mode the journal records is as recorded, read from the kernel."""
    files = [o for o in status.get("other", []) if o.get("now") is not None]
    differing = [o["action"].get("path") for o in files if o["now"].get("state") != "as-recorded"]
    c.check(len(files) >= 6 and not differing,
            f"{step}: all {len(files)} recorded files and modes are as recorded"
            + (f" (not: {differing})" if differing else ""), step)


def boot2(c, free, group, permissions):
    rebooted = facts(c.text("facts.rebooted"))
    c.check(rebooted.get(free, {}).get("driver") == "nvme",
            f"after the reboot the kernel put {free} back on nvme")
    before = c.json("status-rebooted")
    if before:
        lost = {o["action"].get("path"): o["now"]["state"] for o in before.get("other", [])
                if o.get("now") is not None and o["now"].get("state") != "as-recorded"}
        c.check(lost.get(f"/dev/vfio/{group}") == "missing" and
                sum(1 for p in lost if p.startswith("/sys/")) == 3,
                f"status after the reboot: the 3 sysfs modes are lost and /dev/vfio/{group} is "
                f"missing ({lost})", "status-rebooted")
    if c.step_ok("restore"):
        restored = facts(c.text("facts.restored"))
        c.check(restored.get(free, {}).get("driver") == "vfio-pci",
                f"restore: {free} is on vfio-pci again")
        modes = file_modes(c.text("files.restored"))
        n = check_permissions_applied(c, permissions.get("actions", []), modes, "restore")
        c.check(n == 4, f"restore re-applied 3 sysfs modes and /dev/vfio/{group}'s ({n})")
        c.check(f"/dev/vfio/{group}" in modes, f"restore: /dev/vfio/{group} exists")
    status = c.json("status")
    if status:
        entry = {d["address"]: d for d in status.get("devices", [])}.get(free, {})
        c.check(entry.get("state") == "applied" and entry.get("driver") == "vfio-pci",
                f"status after restore: {free} applied on vfio-pci", "status")
        check_files_as_recorded(c, status, "status")


def qtree_device(qtree, alias):
    """The lines of QEMU's `info qtree` under `dev: vfio-pci, id "ALIAS"`."""
    lines = qtree.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f'dev: vfio-pci, id "{alias}"':
            indent = len(line) - len(line.lstrip())
            block = [line]
            for more in lines[i + 1:]:
                if more.strip().startswith("dev:") and len(more) - len(more.lstrip()) <= indent:
                    break
                block.append(more)
            return "\n".join(block)
    return ""


def check_in_nested_guest(c, step, free, ids):
    """QEMU's own view (`info qtree`): a vfio-pci device under pcipass's alias,
    opened on the controller, whose ids QEMU read through vfio."""
    alias = "ua-pcipass-" + re.sub(r"[:.]", "-", free)
    block = qtree_device(c.text(step + ".stdout"), alias)
    c.check(f'host = "{free}"' in block and f"pci id {ids}" in block,
            f"{step}: QEMU has vfio-pci device {alias} on host {free}, pci id {ids}", step)


def remote(c, free, state):
    """bind, status and release through libvirt's remote protocol (TCP)."""
    uri = "qemu+tcp://127.0.0.1/system"
    c.step_ok("remote-bind-used", 5)
    c.check(f"{state}: used by the host: " in c.text("remote-bind-used.stderr"),
            "through libvirt, the host's own usage report still refuses its mounted disk",
            "remote-bind-used")
    c.step_ok("remote-bind-twin", 5)
    c.check("it was made on another machine (hostname 'pcipass-e2e-twin' and 'pcipass-e2e'"
            in c.text("remote-bind-twin.stderr"),
            "the usage report of a machine built alike is refused", "remote-bind-twin")
    if c.step_ok("remote-bind"):
        doc = c.json("remote-bind") or {}
        actions = doc.get("actions", [])
        action = actions[0].get("action", {}) if actions else {}
        ops = actions[0].get("operations", []) if actions else []
        c.check(doc.get("through") == uri and action.get("through") == uri and
                action.get("node_device") == "pci_" + re.sub(r"[:.]", "_", free) and
                [op.get("kind") for op in ops] == ["libvirt-call"],
                "bind went through libvirt's node-device API, not sysfs writes", "remote-bind")
        c.check("/hosts/" in doc.get("journal", ""),
                "that host's journal is its own file under STATE/hosts/", "remote-bind")
    bound = facts(c.text("facts.remote-bound")).get(free, {}).get("driver") == "vfio-pci"
    c.check(bound, f"libvirt detached {free} to vfio-pci")
    if c.step_ok("remote-status"):
        doc = c.json("remote-status") or {}
        devices = doc.get("devices", [])
        c.check(doc.get("through") == uri and len(devices) == 1 and
                devices[0].get("address") == free and devices[0].get("state") == "applied" and
                devices[0].get("driver") == "vfio-pci",
                "status through libvirt agrees: applied, on vfio-pci", "remote-status")
    c.step_ok("remote-release")
    c.check(bound and
            facts(c.text("facts.remote-released")).get(free, {}).get("driver") == "nvme",
            f"libvirt re-attached {free} to nvme")


def nested(c, free):
    ids = "1b36:0010"  # QEMU's emulated NVMe controller
    remote(c, free, setup_addresses(c).get("state"))
    c.step_ok("nested-define")
    if c.step_ok("nested-bringup"):
        doc = c.json("nested-bringup") or {}
        changes = doc.get("guest_changes", [])
        c.check(len(changes) == 1 and changes[0].get("changed") is True and
                changes[0].get("target") == "libvirt",
                "bringup changed the defined domain through libvirt", "nested-bringup")
        c.check(facts(c.text("facts.nested-bound")).get(free, {}).get("driver") == "vfio-pci",
                f"bringup bound {free} to vfio-pci")
    # The proof: libvirt starts QEMU with the device only when vfio, the
    # IOMMU group, its permissions and memlock are all right.
    c.step_ok("nested-start")
    bus, slot, function = re.match(r"[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])",
                                   free).groups()
    source = (f"<address domain='0x0000' bus='0x{bus}' slot='0x{slot}' "
              f"function='0x{function}'/>")
    xml = c.text("nested-dumpxml.stdout")
    c.check("<hostdev mode='subsystem' type='pci'" in xml and source in xml,
            "the running domain's XML has the <hostdev> of the controller", "nested-dumpxml")
    check_in_nested_guest(c, "nested-pci", free, ids)
    c.step_ok("nested-destroy")
    c.step_ok("nested-release")
    c.check(facts(c.text("facts.nested-released")).get(free, {}).get("driver") == "nvme",
            f"release after the guest: {free} is back on nvme")
    remote_bringup(c, free, ids)
    live(c, free, ids)

    # qemu:///session, as user e2e in group kvm.
    c.step_ok("session-bind")
    c.check("groups=108(kvm)" in c.text("session-id.stdout"),
            "the session user is in group kvm and not root", "session-id")
    c.step_ok("session-define")
    c.check(c.rc("session-start-unopened") != 0 and "/dev/vfio/" in
            c.text("session-start-unopened.stderr"),
            "before pcipass permissions the session guest cannot open /dev/vfio/N",
            "session-start-unopened")
    c.step_ok("session-permissions")
    c.check(c.text("session-memlock").strip() == str((128 << 10) + (1 << 20)),
            "the memlock limit is the guest's 128 MiB plus 1 GiB, in KiB")
    c.step_ok("session-start")
    check_in_nested_guest(c, "session-pci", free, ids)
    c.step_ok("session-destroy")
    c.step_ok("session-release")


def remote_bringup(c, free, ids):
    """bringup through libvirt's remote protocol (TCP): bind there, guest there."""
    uri = "qemu+tcp://127.0.0.1/system"
    if c.step_ok("remote-bringup"):
        doc = c.json("remote-bringup") or {}
        actions = (doc.get("host") or {}).get("actions", [])
        binds = [a for a in actions if a.get("action", {}).get("action") == "bind-to-vfio"]
        c.check(len(binds) == 1 and binds[0]["action"].get("through") == uri and
                [op.get("kind") for op in binds[0].get("operations", [])] == ["libvirt-call"],
                "bringup -c URI bound the controller through libvirt, no sysfs write",
                "remote-bringup")
        changes = doc.get("guest_changes", [])
        c.check(len(changes) == 1 and changes[0].get("target") == "libvirt" and
                changes[0].get("changed") is False,
                "bringup -c URI read the guest there: its hostdev is already present",
                "remote-bringup")
    c.check(facts(c.text("facts.remote-bringup")).get(free, {}).get("driver") == "vfio-pci",
            f"bringup through libvirt put {free} on vfio-pci")
    c.step_ok("remote-nested-start")
    check_in_nested_guest(c, "remote-nested-pci", free, ids)
    c.step_ok("remote-nested-destroy")
    c.step_ok("remote-nested-release")
    c.check(facts(c.text("facts.remote-nested-released")).get(free, {}).get("driver") == "nvme",
            f"release -c URI after the guest: {free} is back on nvme")


def live(c, free, ids):
    """Live hotplug through libvirt's API over TCP, into a running (paused) guest."""
    c.step_ok("live-define")
    c.step_ok("live-start")
    c.step_ok("live-bind")
    c.step_ok("live-attach-held", 5)
    c.check(f"{free} is held by guest 'e2e-nested', not 'e2e-live'"
            in c.text("live-attach-held.stderr"),
            "attach refuses a device another defined guest holds, naming it", "live-attach-held")
    if c.step_ok("live-attach"):
        devices = (c.json("live-attach") or {}).get("devices", [])
        c.check(len(devices) == 1 and devices[0].get("live") == "added" and
                devices[0].get("config") == "added",
                "attach --live: added to the running guest and its definition", "live-attach")
    check_in_nested_guest(c, "live-pci", free, ids)
    # libvirt's own refusal (VIR_ERR_OPERATION_INVALID) is a refusal: exit 5.
    c.step_ok("live-release-used", 5)
    c.check(f"is in use by driver QEMU, domain e2e-live" in c.text("live-release-used.stderr"),
            "release of a device a running guest uses: libvirt refuses, pcipass says why",
            "live-release-used")
    c.check(facts(c.text("facts.live-used")).get(free, {}).get("driver") == "vfio-pci",
            f"{free} stayed on vfio-pci")
    # The paused guest's OS never answers the PCIe hot-unplug: libvirt
    # returns after asking, the device stays. pcipass must not say "removed".
    c.step_ok("live-detach", 4)
    devices = (c.json("live-detach") or {}).get("devices", [])
    c.check(len(devices) == 1 and devices[0].get("live") == "removal-requested" and
            devices[0].get("config") == "removed",
            "detach --live: removal requested from the running guest, which still has it; "
            "gone from its definition", "live-detach")
    c.check("still has " + free in c.text("live-detach.stderr"),
            "detach --live says the guest still has it", "live-detach")
    alias = "ua-pcipass-" + re.sub(r"[:.]", "-", free)
    c.check(qtree_device(c.text("live-pci-detached.stdout"), alias) != "",
            "QEMU agrees: the vfio-pci device is still there", "live-pci-detached")
    c.step_ok("live-destroy")
    c.step_ok("live-release")
    c.check(facts(c.text("facts.live-released")).get(free, {}).get("driver") == "nvme",
            f"once the guest stopped, release gave {free} back to nvme")


def setup_addresses(c):
    out = {}
    for line in c.text("setup").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def swapped(c, free_before):
    # The controllers sit in each other's slot: the journal's address now
    # holds the mounted e2e-state, which is the same model.
    now = setup_addresses(c)
    c.check(now.get("state") == free_before and now.get("free") not in (None, free_before),
            f"the controllers swapped slots: e2e-state is at {now.get('state')}, "
            f"e2e-free at {now.get('free')}")
    c.step_ok("swap-restore", 5)
    err = c.text("swap-restore.stderr")
    c.check(f"{free_before}: is not the device pcipass bound there (NVMe serial e2e-state, "
            "not e2e-free)" in err, "restore refuses the other controller by its serial",
            "swap-restore")
    c.check(f"moved from {free_before} to {now.get('free')}" in err,
            "restore says where the bound controller went", "swap-restore")
    after = facts(c.text("facts.swap-restored"))
    c.check(after.get(free_before, {}).get("driver") == "nvme" and
            after.get(now.get("free"), {}).get("driver") == "nvme",
            "neither controller was bound after the swap")


def main():
    work = sys.argv[1]
    c = Checker(work)
    if c.load("boot1"):
        free, group, permissions = boot1(c)
        if c.load("boot2"):
            boot2(c, free, group, permissions)
        if c.load("nested"):
            nested(c, free)
        if c.load("swap1"):
            c.step_ok("swap-bind")
            if c.load("swap2"):
                swapped(c, free)
    if c.failures:
        c.show_console()
        print(f"e2e: {c.failures} check(s) FAILED")
        return 1
    print("e2e: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
