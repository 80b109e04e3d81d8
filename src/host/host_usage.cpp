#include <pcipass/host/host_usage.hpp>

#include <pcipass/core/proc_parsers.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/text_lines.hpp>

#include <algorithm>
#include <set>

namespace pcipass::host {

using core::PciAddress;

namespace {

constexpr int k_max_depth = 8;  // holders and lower devices nest a few levels at most

std::string dirname(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

// The PCI function closest to the leaf of a resolved sysfs device path
// (`devices/pci0000:00/0000:00:1c.0/0000:03:00.0/nvme/nvme0/nvme0n1` gives
// 0000:03:00.0), or nullopt for virtual devices.
std::optional<PciAddress> pci_ancestor(std::string_view path) {
  std::optional<PciAddress> found;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (part.size() >= 12 && part.find(':') != std::string_view::npos) {
      if (auto a = PciAddress::parse(part)) found = *a;
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return found;
}

// Resolves a link in the sysfs tree to a path relative to its root.
std::string resolved_link(const Sysfs& sys, const std::string& link) {
  auto target = sys.read_link(link);
  if (!target) return {};
  return resolve_link(dirname(link), *target);
}

// The PCI functions under a block device: itself if it sits on one, else the
// devices it is built from (`slaves/`), recursively.
void block_controllers(const Sysfs& sys, const std::string& block_path, int depth,
                       std::set<PciAddress>& out) {
  if (block_path.empty() || depth > k_max_depth) return;
  if (auto slaves = sys.list(block_path + "/slaves"); slaves && !slaves->empty()) {
    for (const std::string& slave : *slaves) {
      block_controllers(sys, resolved_link(sys, block_path + "/slaves/" + slave), depth + 1, out);
    }
    return;
  }
  // A partition's own folder has no slaves; its parent disk might (dm
  // partitions), so look there before following the device path.
  if (sys.exists(block_path + "/partition")) {
    const std::string disk = dirname(block_path);
    if (auto slaves = sys.list(disk + "/slaves"); slaves && !slaves->empty()) {
      block_controllers(sys, disk, depth + 1, out);
      return;
    }
  }
  if (auto pci = pci_ancestor(block_path)) out.insert(*pci);
}

std::string block_path_by_name(const Sysfs& sys, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return {};
  return resolved_link(sys, "class/block/" + name);
}

// Maps /dev paths from /proc to sysfs block devices by name: /dev/vda1,
// /dev/dm-0, /dev/mapper/NAME (through dm/name), /dev/md0.
std::string block_path_for_dev(const Sysfs& sys, std::string_view dev_path) {
  if (!dev_path.starts_with("/dev/")) return {};
  const std::string_view rest = dev_path.substr(5);
  if (rest.starts_with("mapper/")) {
    const std::string dm_name(rest.substr(7));
    auto blocks = sys.list("class/block");
    if (!blocks) return {};
    for (const std::string& b : *blocks) {
      if (!b.starts_with("dm-")) continue;
      auto name = sys.read("class/block/" + b + "/dm/name", 512);
      if (name && core::trim(*name) == dm_name) return block_path_by_name(sys, b);
    }
    return {};
  }
  if (rest.starts_with("md/")) return {};  // named md arrays: rare; not followed
  return block_path_by_name(sys, std::string(rest));
}

struct Usage {
  std::map<PciAddress, std::vector<std::string>> reasons;
  void add(const PciAddress& a, std::string reason) {
    auto& list = reasons[a];
    if (std::find(list.begin(), list.end(), reason) == list.end()) list.push_back(std::move(reason));
  }
};

// The members of the btrfs filesystem `block` belongs to: mountinfo names
// one device (with btrfs' anonymous 0:N number), the kernel lists them all
// in fs/btrfs/FSID/devices/. Just `block` when it is in none.
std::vector<std::string> btrfs_members(const Sysfs& sys, const std::string& block) {
  auto filesystems = sys.list("fs/btrfs");
  if (!filesystems) return {block};
  std::sort(filesystems->begin(), filesystems->end());
  for (const std::string& fsid : *filesystems) {
    const std::string folder = "fs/btrfs/" + fsid + "/devices";
    auto names = sys.list(folder);
    if (!names) continue;  // "features" and other non-filesystem entries
    std::sort(names->begin(), names->end());
    std::vector<std::string> members;
    for (const std::string& name : *names) members.push_back(resolved_link(sys, folder + "/" + name));
    if (std::find(members.begin(), members.end(), block) != members.end()) return members;
  }
  return {block};
}

// The value of `key` in a udev database record ("E:ID_FS_TYPE=zfs_member").
std::string udev_property(std::string_view record, std::string_view key) {
  for (const std::string_view line : core::split_lines(record)) {
    if (line.size() > key.size() + 3 && line.starts_with("E:") &&
        line.substr(2, key.size()) == key && line[2 + key.size()] == '=') {
      return std::string(line.substr(3 + key.size()));
    }
  }
  return {};
}

// The block devices udev's database (RUN/udev/data/bMAJ:MIN) records as
// members of ZFS pool `pool`, as sysfs paths. ZFS itself shows its vdevs
// nowhere in sysfs or /proc; udev reads the pool name from each member's label.
std::vector<std::string> zfs_members(const Sysfs& sys, const Sysfs* run, const std::string& pool) {
  std::vector<std::string> members;
  if (run == nullptr || pool.empty()) return members;
  auto blocks = sys.list("class/block");
  if (!blocks) return members;
  std::sort(blocks->begin(), blocks->end());
  for (const std::string& b : *blocks) {
    auto number = sys.read("class/block/" + b + "/dev", 64);
    if (!number) continue;
    auto record = run->read("udev/data/b" + std::string(core::trim(*number)), 1u << 16);
    if (!record) continue;
    if (udev_property(*record, "ID_FS_TYPE") == "zfs_member" &&
        udev_property(*record, "ID_FS_LABEL") == pool) {
      members.push_back(block_path_by_name(sys, b));
    }
  }
  return members;
}

// Filesystems whose / needs no local disk: in memory, or on the network.
bool is_diskless(const std::string& fstype) {
  static const std::set<std::string> k_diskless{"rootfs", "tmpfs",  "ramfs", "nfs",
                                                "nfs4",   "cifs",   "smb3",  "ceph"};
  return k_diskless.contains(fstype);
}

// What the mount probe learnt about /: whether it was traced, and if not, why.
struct RootTrace {
  bool traced = false;
  std::string why_not;
};

void probe_mounts(const Sysfs& sys, const LocalHost& host, Usage& usage,
                  std::vector<core::MountEntry>& mounts_out, RootTrace& root) {
  auto text = host.proc.read("self/mountinfo");
  if (!text) {
    root.why_not = "no " + host.proc.display_path("self/mountinfo") + " to trace / with";
    return;
  }
  mounts_out = core::parse_mountinfo(*text);
  root.why_not = "no mount of / in " + host.proc.display_path("self/mountinfo");
  for (const core::MountEntry& m : mounts_out) {
    std::vector<std::string> blocks;
    if (m.fstype == "zfs") {
      const std::string pool = m.source.substr(0, m.source.find('/'));
      blocks = zfs_members(sys, host.run, pool);
    } else {
      std::string block;
      if (m.major != 0) {
        block = resolved_link(sys, "dev/block/" + std::to_string(m.major) + ":" +
                                       std::to_string(m.minor));
      }
      if (block.empty()) block = block_path_for_dev(sys, m.source);  // btrfs and friends: 0:N
      if (!block.empty()) blocks = m.fstype == "btrfs" ? btrfs_members(sys, block)
                                                       : std::vector<std::string>{block};
    }
    std::set<PciAddress> controllers;
    for (const std::string& block : blocks) block_controllers(sys, block, 0, controllers);
    const std::string reason = "backs " + core::sanitize_untrusted(m.mount_point) + " (" +
                               core::sanitize_untrusted(m.fstype) + " on " +
                               core::sanitize_untrusted(m.source) + ")";
    for (const PciAddress& a : controllers) usage.add(a, reason);
    if (m.mount_point != "/") continue;
    // The last mount of / is the one in use (a later mount hides earlier ones).
    // A block device on no PCI controller (platform eMMC, virtio-mmio) is a
    // trace too: no PCI device holds /. One under devices/virtual that led
    // to no controller (a loop device, a dm table over one) is not.
    const bool off_pci = !blocks.empty() && std::none_of(blocks.begin(), blocks.end(),
                                                         [](const std::string& b) {
                                                           return b.empty() ||
                                                                  b.starts_with("devices/virtual/");
                                                         });
    root.traced = !controllers.empty() || is_diskless(m.fstype) || off_pci;
    root.why_not = "/ (" + core::sanitize_untrusted(m.fstype) + " on " +
                   core::sanitize_untrusted(m.source) + ") is traced to no device";
  }
}

// Block devices on PCI controllers that someone holds open exclusively. Only
// for controllers no other probe explains: their reason says more.
void probe_exclusive_opens(const Sysfs& sys, const Sysfs& dev, Usage& usage) {
  auto blocks = sys.list("class/block");
  if (!blocks) return;
  std::sort(blocks->begin(), blocks->end());
  for (const std::string& b : *blocks) {
    const auto pci = pci_ancestor(block_path_by_name(sys, b));
    if (!pci || usage.reasons.contains(*pci)) continue;
    auto number = sys.read("class/block/" + b + "/dev", 64);
    if (!number) continue;
    // udev's /dev/block/MAJ:MIN link, else the kernel's own name in devtmpfs.
    if (dev.held_exclusively("block/" + std::string(core::trim(*number))) ||
        (b.find('/') == std::string::npos && dev.held_exclusively(b))) {
      usage.add(*pci, "/dev/" + core::sanitize_untrusted(b) +
                          " is held open exclusively (mounted, swap, RAID/LVM member or ZFS vdev)");
    }
  }
}

void probe_swaps(const Sysfs& sys, const Sysfs& proc, const std::vector<core::MountEntry>& mounts,
                 Usage& usage) {
  auto text = proc.read("swaps");
  if (!text) return;
  for (const core::SwapEntry& s : core::parse_swaps(*text)) {
    std::string block;
    if (s.is_file) {
      // A swap file lives on the filesystem of the longest matching mount.
      const core::MountEntry* best = nullptr;
      for (const core::MountEntry& m : mounts) {
        const bool prefix = s.path.starts_with(m.mount_point) &&
                            (m.mount_point == "/" || s.path.size() == m.mount_point.size() ||
                             s.path[m.mount_point.size()] == '/');
        if (prefix && (best == nullptr || m.mount_point.size() > best->mount_point.size())) best = &m;
      }
      if (best != nullptr && best->major != 0) {
        block = resolved_link(sys, "dev/block/" + std::to_string(best->major) + ":" +
                                       std::to_string(best->minor));
      }
    } else {
      block = block_path_for_dev(sys, s.path);
    }
    std::set<PciAddress> controllers;
    block_controllers(sys, block, 0, controllers);
    for (const PciAddress& a : controllers) {
      usage.add(a, "swap on " + core::sanitize_untrusted(s.path));
    }
  }
}

// The PCI functions under a network interface, through bridge ports and
// `lower_*` links (bonds, VLANs, macvlans).
void net_controllers(const Sysfs& sys, const std::string& iface, int depth,
                     std::set<PciAddress>& out, std::set<std::string>& seen) {
  if (depth > k_max_depth || iface.empty() || iface.find('/') != std::string::npos ||
      !seen.insert(iface).second) {
    return;
  }
  const std::string path = resolved_link(sys, "class/net/" + iface);
  if (path.empty()) return;
  if (auto pci = pci_ancestor(path)) {
    out.insert(*pci);
    return;
  }
  if (auto ports = sys.list("class/net/" + iface + "/brif")) {
    for (const std::string& port : *ports) net_controllers(sys, port, depth + 1, out, seen);
  }
  if (auto entries = sys.list("class/net/" + iface)) {
    for (const std::string& e : *entries) {
      if (e.starts_with("lower_")) net_controllers(sys, e.substr(6), depth + 1, out, seen);
    }
  }
}

void probe_network(const Sysfs& sys, const Sysfs& proc, Usage& usage) {
  std::vector<std::pair<std::string, std::string>> iface_reasons;
  std::set<std::string> defaults;
  if (auto text = proc.read("net/route")) {
    for (const core::RouteEntry& r : core::parse_routes(*text)) {
      if (r.is_default && defaults.insert(r.interface).second) {
        iface_reasons.emplace_back(r.interface, "default route via ");
      }
    }
    for (const core::RouteEntry& r : core::parse_routes(*text)) {
      if (!defaults.count(r.interface)) iface_reasons.emplace_back(r.interface, "IPv4 route via ");
    }
  }
  if (auto text = proc.read("net/ipv6_route")) {
    for (const core::RouteEntry& r : core::parse_ipv6_routes(*text)) {
      iface_reasons.emplace_back(r.interface, "IPv6 default route via ");
    }
  }
  if (auto text = proc.read("net/if_inet6")) {
    for (const core::Inet6Address& a : core::parse_if_inet6(*text)) {
      iface_reasons.emplace_back(a.interface, "IPv6 address on ");
    }
  }
  for (const auto& [iface, prefix] : iface_reasons) {
    std::set<PciAddress> controllers;
    std::set<std::string> seen;
    net_controllers(sys, iface, 0, controllers, seen);
    for (const PciAddress& a : controllers) {
      usage.add(a, prefix + core::sanitize_untrusted(iface));
    }
  }
}

void probe_display(core::Inventory& inventory, const Sysfs& sys, Usage& usage) {
  for (const auto& [address, dev] : inventory.devices()) {
    if (dev.boot_vga) usage.add(address, "boot VGA device");
  }
  auto fbs = sys.list("class/graphics");
  if (!fbs) return;
  std::sort(fbs->begin(), fbs->end());
  for (const std::string& fb : *fbs) {
    if (!fb.starts_with("fb")) continue;
    // A DRM framebuffer sits under its GPU; others point there via `device`.
    auto pci = pci_ancestor(resolved_link(sys, "class/graphics/" + fb));
    if (!pci) pci = pci_ancestor(resolved_link(sys, "class/graphics/" + fb + "/device"));
    if (pci) {
      usage.add(*pci, "framebuffer console (" + core::sanitize_untrusted(fb) + ")");
    }
  }
}

}  // namespace

void mark_host_usage(core::Inventory& inventory, const LocalHost& host) {
  Usage usage;
  std::vector<core::MountEntry> mounts;
  RootTrace root;
  probe_mounts(host.sys, host, usage, mounts, root);
  probe_swaps(host.sys, host.proc, mounts, usage);
  if (host.dev != nullptr) probe_exclusive_opens(host.sys, *host.dev, usage);
  probe_network(host.sys, host.proc, usage);
  probe_display(inventory, host.sys, usage);
  for (auto& [address, reasons] : usage.reasons) {
    if (core::PciDevice* dev = inventory.find(address)) dev->host_uses = std::move(reasons);
  }
  if (root.traced) return;
  // Any function that may hold / : storage controllers, and whatever has
  // block devices beneath it (a USB or SD host). One on vfio-pci or with no
  // driver holds no block device now.
  std::set<PciAddress> with_disks;
  if (auto blocks = host.sys.list("class/block")) {
    for (const std::string& b : *blocks) {
      if (auto pci = pci_ancestor(block_path_by_name(host.sys, b))) with_disks.insert(*pci);
    }
  }
  for (auto& [address, device] : inventory.devices()) {
    const bool storage = device.class_code && (*device.class_code >> 16) == 0x01;
    if (!storage && !with_disks.contains(address)) continue;
    if (device.host_in_use() || device.on_vfio() || device.driver.empty()) continue;
    device.host_usage_unknown = root.why_not;
  }
}

}  // namespace pcipass::host
