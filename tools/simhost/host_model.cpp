// Derives from the described devices what Linux would compute on a real
// host: VFs, bus numbers, multifunction bits, port types, IOMMU groups,
// reset methods, sysfs paths, BAR addresses, block and net numbering. The
// writers then only format.
#include "simhost.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iterator>
#include <set>
#include <tuple>

namespace pcipass::simhost {
namespace {

// Blames the YAML entry that describes `d` (for a VF, its PF).
[[noreturn]] void fail(const Device& d, const std::string& why) {
  throw DeviceError(d.physfn ? *d.physfn : d.address, "device " + d.address.str(), why);
}

// VFs are generated at the routing ids the kernel computes:
// PF routing id + offset + stride * i.
void expand_vfs(Host& host) {
  std::vector<Device> vfs;
  for (Device& pf : host.devices) {
    if (pf.dsn && !pf.is_pcie()) fail(pf, "a Device Serial Number needs a PCIe device (pcie is none)");
    if (!pf.sriov) continue;
    if (pf.is_bridge()) fail(pf, "a bridge cannot be an SR-IOV PF");
    if (!pf.is_pcie()) fail(pf, "SR-IOV needs a PCIe device (pcie is none)");
    const Sriov& s = *pf.sriov;
    for (unsigned i = 0; i < s.num_vfs; ++i) {
      const unsigned rid = pf.address.routing_id() + s.offset + s.stride * i;
      if (rid > 0xffff) fail(pf, "VF " + std::to_string(i) + " would be past bus ff");
      Device vf;
      vf.address = {pf.address.domain, rid >> 8, (rid >> 3) & 0x1f, rid & 7};
      vf.vendor = pf.vendor;
      vf.device = s.vf_device;
      vf.subsystem_vendor = pf.subsystem_vendor;
      vf.subsystem_device = pf.subsystem_device;
      vf.class_code = pf.class_code;
      vf.revision = pf.revision;
      vf.pcie = PortType::endpoint;
      vf.parent = pf.parent;
      vf.driver = s.driver;
      vf.numa_node = pf.numa_node;
      vf.flr = true;  // SR-IOV requires VFs to implement FLR
      vf.link = pf.link;
      vf.bars = {Bar{s.vf_bar_size, false, 0}};
      vf.physfn = pf.address;
      vf.vf_index = i;
      if (s.vf_groups == VfGroups::pf) vf.iommu_group = pf.iommu_group;
      pf.virtfns.push_back(vf.address);
      vfs.push_back(std::move(vf));
    }
  }
  std::move(vfs.begin(), vfs.end(), std::back_inserter(host.devices));
  std::stable_sort(host.devices.begin(), host.devices.end(),
                   [](const Device& a, const Device& b) { return a.address < b.address; });
  for (std::size_t i = 1; i < host.devices.size(); ++i)
    if (host.devices[i].address == host.devices[i - 1].address)
      fail(host.devices[i], host.devices[i].is_vf() || host.devices[i - 1].is_vf()
                                ? "address is taken by both a device and a VF"
                                : "duplicate address");
}

// Parents must be bridges; a bridge's secondary bus is its children's bus
// and its subordinate the highest bus below it.
void number_buses(Host& host) {
  std::map<PciAddress, std::set<unsigned>> child_buses;
  for (const Device& d : host.devices) {
    if (!d.parent) continue;
    const Device* p = host.find(*d.parent);
    if (!p) fail(d, "parent " + d.parent->str() + " is not a device of this host");
    if (!p->is_bridge())
      fail(d, "parent " + p->address.str() + " is not a PCI bridge (class 0x0604xx)");
    if (p->address.domain != d.address.domain || p->address.bus >= d.address.bus)
      fail(d, "must be on a bus numbered above its parent " + p->address.str() + "'s bus");
    child_buses[p->address].insert(d.address.bus);
  }
  unsigned spare_bus = 0;
  for (const Device& d : host.devices) spare_bus = std::max(spare_bus, d.address.bus + 1);
  for (Device& d : host.devices) {
    if (!d.is_bridge()) continue;
    const auto it = child_buses.find(d.address);
    if (it != child_buses.end()) {
      if (d.secondary_bus && *d.secondary_bus != *it->second.begin())
        fail(d, "secondary_bus " + hex(*d.secondary_bus, 2) + " but its children are on bus " +
                    hex(*it->second.begin(), 2));
      d.secondary = *it->second.begin();
    } else {
      d.secondary = d.secondary_bus ? *d.secondary_bus : spare_bus++;
      if (d.secondary > 0xff) fail(d, "no bus number left for this empty bridge");
    }
  }
  // VFs may spill onto following buses; any other child sits on the
  // secondary bus, and a device on a bridged bus must name its bridge.
  std::set<std::pair<unsigned, unsigned>> bridged;
  for (const Device& d : host.devices)
    if (d.is_bridge()) bridged.insert({d.address.domain, d.secondary});
  for (const Device& d : host.devices) {
    if (d.parent && !d.is_vf() && d.address.bus != host.find(*d.parent)->secondary)
      fail(d, "is on bus " + hex(d.address.bus, 2) +
                  " but its parent's other children are on bus " +
                  hex(host.find(*d.parent)->secondary, 2));
    if (!d.parent && bridged.count({d.address.domain, d.address.bus}))
      fail(d, "is on bus " + hex(d.address.bus, 2) + ", behind a bridge: give it a parent");
  }
  std::function<unsigned(const Device&)> subordinate = [&](const Device& bridge) {
    unsigned highest = bridge.secondary;
    for (const Device& d : host.devices)
      if (d.parent && *d.parent == bridge.address)
        highest = std::max(highest, d.is_bridge() ? subordinate(d) : d.address.bus);
    return highest;
  };
  for (Device& d : host.devices)
    if (d.is_bridge()) d.subordinate = subordinate(d);
}

// Bridges without an explicit port type take the one their position implies.
void default_port_types(Host& host, const std::set<PciAddress>& explicit_types) {
  for (Device& d : host.devices) {
    if (!d.is_bridge() || explicit_types.count(d.address)) continue;
    const Device* p = d.parent ? host.find(*d.parent) : nullptr;
    d.pcie = !p                              ? PortType::root_port
             : p->pcie == PortType::upstream ? PortType::downstream
                                             : PortType::upstream;
  }
}

void mark_multifunction(Host& host) {
  std::map<std::tuple<unsigned, unsigned, unsigned>, int> per_slot;
  for (const Device& d : host.devices)
    if (!d.is_vf()) ++per_slot[{d.address.domain, d.address.bus, d.address.slot}];
  for (Device& d : host.devices)
    d.multifunction = !d.is_vf() && per_slot[{d.address.domain, d.address.bus, d.address.slot}] > 1;
}

// Every described device names its group; VFs with groups of their own are
// numbered after the highest explicit group, in PF order.
void assign_groups(Host& host) {
  unsigned next_group = 0;
  for (const Device& d : host.devices) {
    if (d.is_vf()) continue;
    if (!host.iommu && d.iommu_group) fail(d, "iommu_group is set but the host has iommu: false");
    if (host.iommu && !d.iommu_group) fail(d, "missing iommu_group (the host has iommu: true)");
    if (d.iommu_group) next_group = std::max(next_group, *d.iommu_group + 1);
  }
  if (!host.iommu) {
    for (Device& d : host.devices) d.iommu_group.reset();
    return;
  }
  std::vector<Device*> own_group;
  for (Device& d : host.devices)
    if (d.is_vf() && !d.iommu_group) own_group.push_back(&d);
  std::stable_sort(own_group.begin(), own_group.end(), [](const Device* a, const Device* b) {
    return std::tie(*a->physfn, a->vf_index) < std::tie(*b->physfn, b->vf_index);
  });
  for (Device* d : own_group) d->iommu_group = next_group++;
}

// Reset methods as Linux lists them: FLR if the device has it, a secondary
// bus reset only when the device is alone below its bridge.
void assign_reset_methods(Host& host) {
  std::map<std::pair<unsigned, unsigned>, int> per_bus;
  for (const Device& d : host.devices) ++per_bus[{d.address.domain, d.address.bus}];
  for (Device& d : host.devices) {
    if (d.reset_method) continue;
    Bytes methods = d.flr ? "flr" : "";
    if (d.parent && !d.is_bridge() && per_bus[{d.address.domain, d.address.bus}] == 1)
      methods += methods.empty() ? "bus" : " bus";
    d.reset_method = methods;
  }
}

// sysfs paths, BAR addresses (above 4 GiB, clear of RAM), virtio and
// framebuffer numbers, all in address order like the kernel's enumeration.
void place(Host& host) {
  std::uint64_t next_base = 0x4000000000;
  auto allocate = [&](std::uint64_t size) {
    next_base = (next_base + size - 1) / size * size;
    const std::uint64_t base = next_base;
    next_base += size;
    return base;
  };
  int virtio = 0, fb = 0;
  for (Device& d : host.devices) {
    // VFs sit beside their PF in sysfs, even on a later bus.
    if (const Device* pf = d.physfn ? host.find(*d.physfn) : nullptr) {
      d.sysfs_path = pf->sysfs_path.substr(0, pf->sysfs_path.rfind('/')) + "/" + d.address.str();
      d.bars[0].base = pf->iov_base + d.vf_index * pf->sriov->vf_bar_size;
    } else {
      d.sysfs_path = d.parent ? host.find(*d.parent)->sysfs_path + "/" + d.address.str()
                              : "devices/pci" + hex(d.address.domain, 4) + ":" +
                                    hex(d.address.bus, 2) + "/" + d.address.str();
      for (Bar& b : d.bars) b.base = allocate(b.size);
    }
    if (d.sriov && d.sriov->total_vfs > 0)
      d.iov_base = allocate(d.sriov->vf_bar_size * d.sriov->total_vfs);
    if (d.vendor == 0x1af4 && !d.is_vf()) d.virtio_index = virtio++;
    if ((d.framebuffer || d.boot_vga) && (d.class_code >> 16) != 0x03)
      fail(d, "framebuffer and boot_vga need a display controller (class 0x03xxxx)");
    if (d.framebuffer) d.fb_index = fb++;
  }
}

// Block device numbers the way Linux hands them out: NVMe from the extended
// major 259 in order, vd* and sd* 16 minors per disk, others 8. Names of
// block devices and interfaces are unique host-wide.
void number_block_devices(Host& host) {
  unsigned nvme_minor = 0, vd_disk = 0, sd_disk = 0, other_disk = 0;
  std::set<Bytes> controllers, names;
  auto claim = [&](const Device& d, const Bytes& name) {
    if (!names.insert(name).second) fail(d, "block device name " + name + " appears twice");
  };
  for (Device& d : host.devices) {
    for (NvmeController& c : d.nvme) {
      if (!controllers.insert(c.name).second)
        fail(d, "NVMe controller " + c.name + " appears twice");
      for (Disk& ns : c.namespaces) {
        claim(d, ns.name);
        ns.major = 259;
        ns.minor = nvme_minor++;
        for (Partition& p : ns.partitions) {
          claim(d, p.name);
          p.major = 259;
          p.minor = nvme_minor++;
        }
      }
    }
    for (Disk& disk : d.block) {
      claim(d, disk.name);
      unsigned index = 0, per_disk = 16;
      if (disk.name.starts_with("vd")) {
        disk.major = 254;
        index = vd_disk++;
      } else if (disk.name.starts_with("sd")) {
        disk.major = 8;
        index = sd_disk++;
      } else {
        disk.major = 179;  // mmcblk and anything else
        per_disk = 8;
        index = other_disk++;
      }
      disk.minor = per_disk * index;
      for (Partition& p : disk.partitions) {
        claim(d, p.name);
        if (p.number >= per_disk)
          fail(d, "partition " + p.name + " has a number past the disk's minors");
        p.major = disk.major;
        p.minor = disk.minor + p.number;
      }
      if (disk.subdir.empty() && d.virtio_index >= 0)
        disk.subdir = "virtio" + std::to_string(d.virtio_index);
      else if (disk.subdir.empty() && disk.major == 8) {
        const std::string n = std::to_string(index);
        disk.subdir = "host" + n + "/target" + n + ":0:0/" + n + ":0:0:0";
      }
    }
  }
}

// Interface indexes start at 2 (lo is 1); MACs default to locally
// administered addresses made from the PCI address.
void number_interfaces(Host& host) {
  std::set<Bytes> names = {"lo"};
  std::set<int> indexes = {1};
  for (const Device& d : host.devices)
    for (const NetInterface& n : d.net) {
      if (!names.insert(n.name).second) fail(d, "interface name " + n.name + " appears twice");
      if (n.ifindex && !indexes.insert(n.ifindex).second)
        fail(d, "ifindex " + std::to_string(n.ifindex) + " appears twice");
    }
  int next = 2;
  for (Device& d : host.devices)
    for (NetInterface& n : d.net) {
      if (!n.ifindex) {
        while (indexes.count(next)) ++next;
        n.ifindex = next;
        indexes.insert(next);
      }
      if (n.mac.empty()) {
        char mac[18];
        std::snprintf(mac, sizeof mac, "02:00:%02x:%02x:%02x:%02x", d.address.domain & 0xff,
                      d.address.bus, d.address.slot, d.address.function);
        n.mac = mac;
      }
    }
}

}  // namespace

void derive_host(Host& host, const std::set<PciAddress>& explicit_port_types) {
  expand_vfs(host);
  number_buses(host);
  default_port_types(host, explicit_port_types);
  mark_multifunction(host);
  assign_groups(host);
  assign_reset_methods(host);
  place(host);
  number_block_devices(host);
  number_interfaces(host);
}

}  // namespace pcipass::simhost
