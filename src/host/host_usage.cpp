#include <pcipass/host/host_usage.hpp>

#include <pcipass/core/proc_parsers.hpp>
#include <pcipass/core/text.hpp>

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

void probe_mounts(const Sysfs& sys, const Sysfs& proc, Usage& usage,
                  std::vector<core::MountEntry>& mounts_out) {
  auto text = proc.read("self/mountinfo");
  if (!text) return;
  mounts_out = core::parse_mountinfo(*text);
  for (const core::MountEntry& m : mounts_out) {
    std::string block;
    if (m.major != 0) {
      block = resolved_link(sys, "dev/block/" + std::to_string(m.major) + ":" +
                                     std::to_string(m.minor));
    }
    if (block.empty()) block = block_path_for_dev(sys, m.source);  // btrfs and friends: 0:N
    if (block.empty()) continue;
    std::set<PciAddress> controllers;
    block_controllers(sys, block, 0, controllers);
    for (const PciAddress& a : controllers) {
      usage.add(a, "backs " + core::sanitize_untrusted(m.mount_point) + " (" +
                       core::sanitize_untrusted(m.fstype) + " on " +
                       core::sanitize_untrusted(m.source) + ")");
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

void mark_host_usage(core::Inventory& inventory, const Sysfs& sys, const Sysfs& proc) {
  Usage usage;
  std::vector<core::MountEntry> mounts;
  probe_mounts(sys, proc, usage, mounts);
  probe_swaps(sys, proc, mounts, usage);
  probe_network(sys, proc, usage);
  probe_display(inventory, sys, usage);
  for (auto& [address, reasons] : usage.reasons) {
    if (core::PciDevice* dev = inventory.find(address)) dev->host_uses = std::move(reasons);
  }
}

}  // namespace pcipass::host
