#!/usr/bin/python
# -*- coding: utf-8 -*-
# pcipass.lab.pcipass: runs pcipass on the managed host and hands its --json
# output back as the result. See the collection's README.md.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pcipass
short_description: Run pcipass on a hypervisor and return its JSON
description:
  - Runs C(pcipass --json COMMAND) on the managed host and returns what it
    printed, parsed, as C(pcipass).
  - Commands that change the host (C(bind), C(release), C(permissions),
    C(bringup), C(restore), C(attach), C(detach)) run with C(--dry-run) in
    check mode, so nothing is changed and C(changed) says what would be.
  - C(changed) is true when pcipass made (or, in check mode, would make) at
    least one change - a device action or a guest definition that changed -
    so a second run of the same task reports no change.
  - Read-only commands (C(list), C(groups), C(status), C(doctor), and C(plan)
    without C(--write-extra-vars) or C(--write-nodes)) never report a change
    and run in check mode too. C(plan) with those options writes files and
    reports a change; check mode refuses it.
  - C(release DEV) of a device pcipass no longer holds is refused by pcipass
    (rc 5); C(release --all) can be run again and again.
  - C(doctor)'s verdicts WARN (rc 7) and FAIL (rc 8) do not fail the task;
    read them from C(rc) and C(pcipass).
  - A refusal (a device the host uses, an incomplete IOMMU group, a device
    another guest holds) fails the task with pcipass's own message and exit
    code (C(rc)); see C(pcipass --help) for the codes.
options:
  command:
    description: The pcipass subcommand.
    type: str
    required: true
    choices: [list, groups, status, plan, doctor, bind, release, permissions, bringup, restore, attach, detach]
  devices:
    description:
      - Devices, as pcipass accepts them (C(0000:02:00.0), C(/dev/nvme1n1), C(serial:S123)).
      - Quote addresses in YAML; an unquoted C(02:00.0) is not a string there.
    type: list
    elements: str
    default: []
  guests:
    description: Guests, given to pcipass as C(--guests a,b) (C(plan), C(bringup)); for C(attach) and C(detach) the one guest.
    type: list
    elements: str
    default: []
  options:
    description: More options of the subcommand, one list item per word (C(["--technique", "roundrobin"])).
    type: list
    elements: str
    default: []
  connect:
    description: The libvirt URI (C(-c)). A URI of another host makes bind, release, status, restore and bringup act there through libvirt.
    type: str
  sysfs_root:
    description: The sysfs tree to act on (C(--sysfs-root)); a simulated host's C(sys/) for tests.
    type: path
  state_dir:
    description: The folder of pcipass's journal (C(--state-dir)).
    type: path
  host_usage:
    description: Another host's C(pcipass list --json) output (C(--host-usage)), for C(connect) to another host.
    type: path
  executable:
    description: The pcipass program to run.
    type: path
    default: pcipass
attributes:
  check_mode:
    support: full
    description: Changing commands run with C(--dry-run); C(changed) says what would change.
  diff_mode:
    support: none
    description: The diffs of bringup and attach are in C(pcipass).
notes:
  - pcipass must be installed on the managed host and, for changes, run as root (C(become)).
author:
  - pcipass developers
"""

EXAMPLES = r"""
- name: Bind the ZNS drive and give it to guest lab1
  pcipass.lab.pcipass:
    command: bringup
    guests: [lab1]
    devices: ["0000:02:00.0"]
    options: [--xml-dir, /var/lib/kdevops/guestfs]
  become: true

- name: Which devices are free
  pcipass.lab.pcipass:
    command: list
  register: inventory
"""

RETURN = r"""
pcipass:
  description: What C(pcipass --json) printed, parsed; null when it printed nothing (a usage error).
  returned: always
  type: dict
  sample: {"schema": 1, "command": "bind", "dry_run": false, "actions": [], "refused": [], "notes": []}
cmd:
  description: The command line that ran.
  returned: always
  type: list
rc:
  description: pcipass's exit code.
  returned: always
  type: int
stderr:
  description: pcipass's warnings and errors.
  returned: always
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

READ_ONLY = ("list", "groups", "status", "plan", "doctor")
CHANGING = ("bind", "release", "permissions", "bringup", "restore", "attach", "detach")


# What a command accepts besides options: devices, and guests as --guests.
TAKES_DEVICES = ("plan", "bind", "release", "permissions", "bringup", "attach", "detach")
TAKES_GUESTS = ("plan", "bringup", "attach", "detach")
# plan only writes with these; check mode refuses them (it cannot preview them).
PLAN_WRITES = ("--write-extra-vars", "--write-nodes")


def made_changes(doc):
    """True when the JSON anywhere lists an action or a change made (or, in a
    dry run, one that would be made): a non-empty "actions", a "changed":
    true, or attach/detach's "live"/"config" saying "added" or "removed"."""
    if isinstance(doc, dict):
        if doc.get("live") in ("added", "removed") or doc.get("config") in ("added", "removed"):
            return True
        for key, value in doc.items():
            if key == "actions" and isinstance(value, list) and value:
                return True
            if key == "changed" and value is True:
                return True
            if made_changes(value):
                return True
    elif isinstance(doc, list):
        return any(made_changes(item) for item in doc)
    return False


def command_line(params, check_mode):
    cmd = [params["executable"]]
    for option, key in (("--sysfs-root", "sysfs_root"), ("--state-dir", "state_dir"),
                        ("-c", "connect"), ("--host-usage", "host_usage")):
        if params[key]:
            cmd += [option, params[key]]
    cmd += ["--json", params["command"]]
    positional = list(params["devices"])
    if params["command"] in ("attach", "detach"):
        positional = list(params["guests"]) + positional  # GUEST DEV...
    elif params["guests"]:
        cmd += ["--guests", ",".join(params["guests"])]
    cmd += params["options"]
    if check_mode and params["command"] in CHANGING and "--dry-run" not in params["options"]:
        cmd.append("--dry-run")
    if positional:
        cmd += ["--"] + positional
    return cmd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="str", required=True, choices=list(READ_ONLY + CHANGING)),
            devices=dict(type="list", elements="str", default=[]),
            guests=dict(type="list", elements="str", default=[]),
            options=dict(type="list", elements="str", default=[]),
            connect=dict(type="str"),
            sysfs_root=dict(type="path"),
            state_dir=dict(type="path"),
            host_usage=dict(type="path"),
            executable=dict(type="path", default="pcipass"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    command = params["command"]
    if command in ("attach", "detach") and len(params["guests"]) != 1:
        module.fail_json(msg="%s needs exactly one guest in guests" % command)
    if params["devices"] and command not in TAKES_DEVICES:
        module.fail_json(msg="%s takes no devices" % command)
    if params["guests"] and command not in TAKES_GUESTS:
        module.fail_json(msg="%s takes no guests (for permissions, give --guest NAME in options)"
                         % command)
    writes = [option for option in params["options"]
              if option.split("=", 1)[0] in PLAN_WRITES]
    if command == "plan" and writes and module.check_mode:
        module.fail_json(msg="plan %s writes files, which check mode cannot preview" % writes[0])
    params["executable"] = module.get_bin_path(params["executable"], required=True)
    cmd = command_line(params, module.check_mode)
    rc, out, err = module.run_command(cmd)
    doc = None
    if out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            module.fail_json(msg="pcipass printed something that is not JSON", cmd=cmd, rc=rc,
                             stdout=out, stderr=err, changed=False)
    # doctor's codes 7 and 8 are its verdict (WARN, FAIL), not a failure to run.
    ok = rc == 0 or (command == "doctor" and rc in (7, 8))
    # A dry run asked for in options changes nothing either.
    dry_run = isinstance(doc, dict) and doc.get("dry_run") is True and not module.check_mode
    changed = (command in CHANGING or (command == "plan" and bool(writes))) and \
        made_changes(doc) and not dry_run
    if not ok:
        # The whole error: "pcipass: error: refusing ...:" and every line after it.
        lines = err.splitlines()
        start = max([i for i, line in enumerate(lines) if line.startswith("pcipass: error:")] or [0])
        message = "\n".join(line for line in lines[start:] if line.strip())
        module.fail_json(msg=message or "pcipass exited %d" % rc, cmd=cmd, rc=rc,
                         pcipass=doc, stderr=err, changed=changed)
    module.exit_json(changed=changed, cmd=cmd, rc=rc, pcipass=doc, stderr=err)


if __name__ == "__main__":
    main()
