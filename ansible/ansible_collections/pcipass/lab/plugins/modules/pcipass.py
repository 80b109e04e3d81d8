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
  - Read-only commands (C(list), C(groups), C(status), C(plan), C(doctor))
    never report a change and run in check mode too.
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
    description: Devices, as pcipass accepts them (C(0000:02:00.0), C(02:00.0), C(/dev/nvme1n1), C(serial:S123)).
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
    description: The libvirt URI (C(-c)). A URI of another host makes bind, release, status and restore act there through libvirt.
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
  description: What C(pcipass --json) printed, parsed (null when it printed nothing).
  returned: always
  type: dict
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


def made_changes(doc):
    """True when the JSON anywhere lists an action or a change made (or, in a
    dry run, one that would be made)."""
    if isinstance(doc, dict):
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
    if params["command"] in ("attach", "detach") and len(params["guests"]) != 1:
        module.fail_json(msg="%s needs exactly one guest in guests" % params["command"])
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
    ok = rc == 0 or (params["command"] == "doctor" and rc in (7, 8))
    changed = params["command"] in CHANGING and made_changes(doc)
    if not ok:
        lines = [line for line in err.splitlines() if line.strip()]
        module.fail_json(msg=lines[-1] if lines else "pcipass exited %d" % rc, cmd=cmd, rc=rc,
                         pcipass=doc, stderr=err, changed=changed)
    module.exit_json(changed=changed, cmd=cmd, rc=rc, pcipass=doc, stderr=err)


if __name__ == "__main__":
    main()
