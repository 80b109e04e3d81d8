#!/usr/bin/env python3
# kdevops-mini's model of what kdevops' `make` writes for its guestfs flow,
# from .config, before `make bringup`:
#
#   extra_vars.yaml              a few keys, then `pcie_passthrough_devices:`
#                                appended the way kdevops' script appends it
#   guestfs/kdevops_nodes.yaml   `guestfs_nodes:`, each guest with its
#                                `pcipassthrough:` entries passthrough1, 2, ...
#                                (technique "each": a device goes to its
#                                target guest; kdevops writes no entries for
#                                round-robin)
#   guestfs/NAME/NAME.xml        each guest's domain XML, from GUEST_TEMPLATE
#   guestfs/NAME/pcie_passthrough_ENTRY.xml
#                                one <hostdev> per entry, which bringup
#                                attaches after define. Like kdevops, only the
#                                files of current entries are rewritten;
#                                others stay (pcipass-bringup refuses them).
#
# Usage: gen_nodes.py GUEST_TEMPLATE [.config]
import os
import re
import sys

PREFIX = "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_"


def read_config(path):
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", line.rstrip("\n"))
            if m:
                value = m.group(2)
                if value.startswith('"') and value.endswith('"'):
                    value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                values[m.group(1)] = value
    return values


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    template = sys.argv[1]
    config = read_config(sys.argv[2] if len(sys.argv) > 2 else ".config")
    prefix = config.get("CONFIG_KDEVOPS_HOSTS_PREFIX", "kdevops")
    guests = [prefix]
    if config.get("CONFIG_KDEVOPS_BASELINE_AND_DEV") == "y":
        guests.append(prefix + "-dev")

    devices = []
    if config.get("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH") == "y":
        count = int(config.get(PREFIX + "NUM_DEVICES", "0") or "0")
        each = config.get("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH") == "y"
        for i in range(1, count + 1):
            symbol = "%s%04d" % (PREFIX, i)
            if config.get(symbol) != "y":
                continue
            devices.append({
                "domain": config[symbol + "_DOMAIN"],
                "bus": config[symbol + "_BUS"],
                "slot": config[symbol + "_SLOT"],
                "function": config[symbol + "_FUNCTION"],
                "pcie_id": config.get(symbol + "_PCI_ID", ""),
                "name": config.get(symbol + "_NAME", ""),
                "target": config.get(symbol + "_TARGET_GUEST", "") if each else "",
            })

    # extra_vars.yaml: kdevops writes its keys, then appends the device list.
    extra = [
        "---",
        "kdevops_nodes: guestfs/kdevops_nodes.yaml",
        "guestfs_path: guestfs",
        "libvirt_machine_type: q35",
        "libvirt_mem_mb: 128",
        "# end of of yamlconfig auto output yaml variables",
    ]
    if config.get("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH") == "y":
        extra.append("pcie_passthrough_devices:")
        for d in devices:
            extra.append('  - { domain: "%s", bus: "%s", slot: "%s", function: "%s",'
                         % (d["domain"], d["bus"], d["slot"], d["function"]))
            extra.append('      pcie_id: "%s", pcie_human_name: "%s", target_guest: "%s" }'
                         % (d["pcie_id"], d["name"].replace('"', ""), d["target"]))
    write("extra_vars.yaml", "\n".join(extra) + "\n")

    os.makedirs("guestfs", exist_ok=True)
    with open(template, encoding="utf-8") as f:
        domain = f.read()
    nodes = ["---", "guestfs_nodes:"]
    for guest in guests:
        nodes.append("  - name: %s" % guest)
        folder = os.path.join("guestfs", guest)
        os.makedirs(folder, exist_ok=True)
        write(os.path.join(folder, guest + ".xml"),
              re.sub(r"<name>[^<]*</name>", "<name>%s</name>" % guest, domain, count=1))
        mine = [d for d in devices if d["target"] == guest]
        if mine:
            nodes.append("    pcipassthrough:")
        for n, d in enumerate(mine, start=1):
            entry = "passthrough%d" % n
            nodes += ["      %s:" % entry,
                      "        domain: %s" % d["domain"],
                      "        bus: %s" % d["bus"],
                      "        slot: %s" % d["slot"],
                      "        function: %s" % d["function"]]
            address = {k: hex(int(d[k], 16)) for k in ("domain", "bus", "slot", "function")}
            write(os.path.join(folder, "pcie_passthrough_%s.xml" % entry),
                  "<!-- PCIE passthrough device -->\n"
                  "   <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                  "      <driver name='vfio'/>\n"
                  "      <source>\n"
                  "        <address domain='%(domain)s' bus='%(bus)s' slot='%(slot)s'"
                  " function='%(function)s'/>\n"
                  "      </source>\n"
                  "    </hostdev>\n"
                  "<!-- End of PCIE passthrough device -->\n" % address)
    write(os.path.join("guestfs", "kdevops_nodes.yaml"), "\n".join(nodes) + "\n")


if __name__ == "__main__":
    main()
