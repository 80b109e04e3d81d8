#include <pcipass/host/sysfs_source.hpp>

#include <pcipass/core/config_space.hpp>
#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <vector>

namespace pcipass::host {

using core::ExitCode;
using core::fail;
using core::PciAddress;
using core::PciDevice;
using core::Result;

namespace {

std::string basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Reads a small attribute; the error names the path and the OS reason.
Result<std::string> read_attribute(const Sysfs& sysfs, const std::string& path) {
  auto raw = sysfs.read(path, 4096);
  if (!raw) return fail(raw.error());
  return std::string(core::trim(*raw));
}

core::Unexpected malformed(const Sysfs& sysfs, const std::string& path, std::string_view value) {
  return fail("reading " + sysfs.display_path(path) + ": unexpected value '" +
                  core::sanitize_untrusted(value) + "'",
              ExitCode::host_error);
}

core::Unexpected not_an_address(const Sysfs& sysfs, const std::string& dir,
                                const std::string& name) {
  return fail("reading " + sysfs.display_path(dir) + ": entry '" + core::sanitize_untrusted(name) +
                  "' is not a PCI address",
              ExitCode::host_error);
}

Result<std::uint64_t> read_hex_attribute(const Sysfs& sysfs, const std::string& path) {
  auto value = read_attribute(sysfs, path);
  if (!value) return fail(value.error());
  auto number = core::parse_hex(*value);
  if (!number) return malformed(sysfs, path, *value);
  return *number;
}

// Fills ids, class, revision and header type: from one read of config space
// when it answers, else from the separate attribute files.
core::Status read_identity(const Sysfs& sysfs, const std::string& dir, PciDevice& dev) {
  auto config = sysfs.read(dir + "/config", core::k_config_header_size);
  if (config) {
    if (auto header = core::parse_config_header(*config)) {
      dev.vendor_id = header->vendor_id;
      dev.device_id = header->device_id;
      dev.revision = header->revision;
      dev.class_code = header->class_code;
      // Subsystem vendor 0 or 0xffff means "none" (lspci shows none either).
      if (header->subsystem_vendor_id && *header->subsystem_vendor_id != 0 &&
          *header->subsystem_vendor_id != 0xffff) {
        dev.subsystem_vendor_id = header->subsystem_vendor_id;
        dev.subsystem_device_id = header->subsystem_device_id;
      }
      dev.header = (header->header_type == 1 || header->header_type == 2)
                       ? core::HeaderKind::bridge
                       : core::HeaderKind::endpoint;
      if (!dev.subsystem_vendor_id) {
        // Bridges keep subsystem ids in a capability; the kernel reads it.
        auto sv = read_hex_attribute(sysfs, dir + "/subsystem_vendor");
        auto sd = read_hex_attribute(sysfs, dir + "/subsystem_device");
        if (sv && sd && *sv != 0 && *sv < 0xffff && *sd <= 0xffff) {
          dev.subsystem_vendor_id = static_cast<std::uint16_t>(*sv);
          dev.subsystem_device_id = static_cast<std::uint16_t>(*sd);
        }
      }
      return core::ok();
    }
  }
  auto read_field = [&](const char* name, std::uint64_t max) -> Result<std::uint64_t> {
    auto v = read_hex_attribute(sysfs, dir + "/" + name);
    if (!v) return v;
    if (*v > max) return malformed(sysfs, dir + "/" + name, std::to_string(*v));
    return v;
  };
  auto vendor = read_field("vendor", 0xffff);
  if (!vendor) return fail(vendor.error());
  auto device = read_field("device", 0xffff);
  if (!device) return fail(device.error());
  auto cls = read_field("class", 0xffffff);
  if (!cls) return fail(cls.error());
  dev.vendor_id = static_cast<std::uint16_t>(*vendor);
  dev.device_id = static_cast<std::uint16_t>(*device);
  dev.class_code = static_cast<std::uint32_t>(*cls);
  dev.header = core::header_kind_from_class(dev.class_code);
  // Optional on old kernels and some bridges.
  if (auto rev = read_field("revision", 0xff)) dev.revision = static_cast<std::uint8_t>(*rev);
  auto sv = read_field("subsystem_vendor", 0xffff);
  auto sd = read_field("subsystem_device", 0xffff);
  if (sv && sd && *sv != 0 && *sv != 0xffff) {
    dev.subsystem_vendor_id = static_cast<std::uint16_t>(*sv);
    dev.subsystem_device_id = static_cast<std::uint16_t>(*sd);
  }
  return core::ok();
}

Result<PciAddress> link_address(const Sysfs& sysfs, const std::string& path) {
  auto target = sysfs.read_link(path);
  if (!target) return fail(target.error());
  auto address = PciAddress::parse(basename(*target));
  if (!address) {
    return fail("reading link " + sysfs.display_path(path) + ": " + address.error().message,
                ExitCode::host_error);
  }
  return *address;
}

bool is_namespace_name(std::string_view controller, std::string_view entry) {
  // nvme0n1 under nvme0; nvme0c0n1 with native multipath.
  if (!entry.starts_with(controller)) return false;
  entry.remove_prefix(controller.size());
  if (entry.starts_with('c')) {
    std::size_t i = 1;
    while (i < entry.size() && entry[i] >= '0' && entry[i] <= '9') ++i;
    entry.remove_prefix(i);
  }
  if (entry.size() < 2 || entry[0] != 'n') return false;
  return std::all_of(entry.begin() + 1, entry.end(), [](char c) { return c >= '0' && c <= '9'; });
}

core::Status read_nvme(const Sysfs& sysfs, const std::string& dir, PciDevice& dev) {
  auto controllers = sysfs.list(dir + "/nvme");
  if (!controllers) return core::ok();  // driver not bound or no controller yet
  std::sort(controllers->begin(), controllers->end());
  for (const std::string& name : *controllers) {
    const std::string cdir = dir + "/nvme/" + name;
    core::NvmeController c;
    c.name = core::sanitize_untrusted(name);
    // Firmware writes these strings: untrusted, and absent on some kernels.
    if (auto v = sysfs.read(cdir + "/model", 4096)) c.model = core::sanitize_untrusted(*v);
    if (auto v = sysfs.read(cdir + "/firmware_rev", 4096)) c.firmware = core::sanitize_untrusted(*v);
    if (auto v = sysfs.read(cdir + "/serial", 4096)) c.serial = core::sanitize_untrusted(*v);
    if (auto entries = sysfs.list(cdir)) {
      for (const std::string& e : *entries) {
        if (is_namespace_name(name, e)) c.namespaces.push_back(core::sanitize_untrusted(e));
      }
      std::sort(c.namespaces.begin(), c.namespaces.end());
    }
    dev.nvme.push_back(std::move(c));
  }
  return core::ok();
}

// "3c:7c:3f:12:34:56" and nothing else: an Ethernet address, lowercase.
bool is_mac(std::string_view text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool ok = i % 3 == 2 ? c == ':' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

void read_net_dir(const Sysfs& sysfs, const std::string& net_dir, PciDevice& dev) {
  auto names = sysfs.list(net_dir);
  if (!names) return;
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names) {
    core::NetInterface nic;
    nic.name = core::sanitize_untrusted(name);
    const std::string dir = net_dir + "/" + name;
    if (auto state = sysfs.read(dir + "/operstate", 64)) {
      nic.operstate = core::sanitize_untrusted(*state);
    }
    if (auto mac = sysfs.read(dir + "/address", 64); mac && is_mac(core::trim(*mac))) {
      nic.mac = std::string(core::trim(*mac));
      // 0 (NET_ADDR_PERM): the address the card was made with.
      auto assign = sysfs.read(dir + "/addr_assign_type", 16);
      nic.mac_permanent = assign && core::trim(*assign) == "0";
    }
    dev.net.push_back(std::move(nic));
  }
}

std::uint32_t le32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}

// The PCIe Device Serial Number: the extended capabilities are walked from
// 0x100, one 12-byte read per capability, never the whole 4 KiB. "" when
// the function has none, or config space past 256 bytes is closed (not
// root, conventional PCI).
std::string read_dsn(const Sysfs& sysfs, const std::string& dir) {
  constexpr std::size_t k_first = 0x100, k_end = 0x1000, k_dsn_id = 0x0003;
  std::size_t at = k_first;
  for (int hops = 0; hops < 64; ++hops) {  // a looping chain stops here
    auto cap = sysfs.read_at(dir + "/config", at, 12);
    if (!cap || cap->size() < 4) return {};
    const std::uint32_t header = le32(*cap, 0);
    if (header == 0 || header == 0xffffffff) return {};
    if ((header & 0xffff) == k_dsn_id) {
      if (cap->size() < 12) return {};
      return core::format_dsn(le32(*cap, 4), le32(*cap, 8));
    }
    const std::size_t next = (header >> 20) & 0xffc;
    if (next < k_first || next + 12 > k_end) return {};
    at = next;
  }
  return {};
}

// Slot labels by the device part of an address ("0000:02:00"): the
// `bus/pci/slots/LABEL/address` files. Empty when the platform has none.
std::map<std::string, std::string> read_slots(const Sysfs& sysfs) {
  std::map<std::string, std::string> out;
  auto labels = sysfs.list("bus/pci/slots");
  if (!labels) return out;
  for (const std::string& label : *labels) {
    auto address = sysfs.read("bus/pci/slots/" + label + "/address", 64);
    if (address) out[std::string(core::trim(*address))] = core::sanitize_untrusted(label);
  }
  return out;
}

void apply_slots(const std::map<std::string, std::string>& slots, core::Inventory& inventory) {
  if (slots.empty()) return;
  for (auto& [address, dev] : inventory.devices()) {
    const std::string text = address.to_string();  // 0000:02:00.0
    const auto it = slots.find(text.substr(0, text.size() - 2));
    if (it != slots.end()) dev.slot = it->second;
  }
}

// A device folder's entries, sorted, so that lookups need no set of strings
// (4096 functions x ~25 entries were 100k allocations).
using Entries = std::vector<std::string>;

bool contains(const Entries& sorted, std::string_view name) {
  return std::binary_search(sorted.begin(), sorted.end(), name,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

// The details behind human names: GPU memory, boot VGA, NVMe controllers,
// network interfaces. `entries` is the listing of the device folder.
core::Status read_details(const Sysfs& sysfs, const std::string& dir,
                          const Entries& entries, PciDevice& dev) {
  const auto has = [&](const char* name) { return contains(entries, name); };
  if (has("boot_vga")) {
    if (auto v = read_attribute(sysfs, dir + "/boot_vga")) dev.boot_vga = (*v == "1");
  }
  if (has("mem_info_vram_total")) {  // amdgpu
    if (auto v = read_attribute(sysfs, dir + "/mem_info_vram_total")) {
      if (auto n = core::parse_decimal(*v); n && *n > 0) dev.memory_bytes = static_cast<std::uint64_t>(*n);
    }
  }
  // Other GPUs (NVIDIA, Intel): the window on their memory.
  const auto cls = dev.class_id();
  if (!dev.memory_bytes && cls && (*cls >> 8) == 0x03 && has("resource")) {
    if (auto text = read_attribute(sysfs, dir + "/resource")) {
      if (auto size = core::largest_prefetchable_bar(*text)) {
        dev.memory_bytes = *size;
        dev.memory_source = core::MemorySource::prefetchable_bar;
      }
    }
  }
  if (has("nvme")) {
    if (auto s = read_nvme(sysfs, dir, dev); !s) return fail(s.error());
  }
  if (has("net")) read_net_dir(sysfs, dir + "/net", dev);
  // virtio functions carry their block and net children one level down.
  for (const std::string& entry : entries) {
    if (entry.starts_with("virtio") && sysfs.exists(dir + "/" + entry + "/net")) {
      read_net_dir(sysfs, dir + "/" + entry + "/net", dev);
    }
  }
  // What tells twins apart, and how the kernel resets it. Bridges stay
  // with the platform: no need.
  if (dev.header != core::HeaderKind::bridge) {
    dev.reset_methods.emplace();
    if (has("reset_method")) {
      if (auto text = read_attribute(sysfs, dir + "/reset_method")) {
        std::string_view rest = *text;
        while (!rest.empty()) {
          const std::size_t space = std::min(rest.find(' '), rest.size());
          if (space > 0) dev.reset_methods->push_back(core::sanitize_untrusted(rest.substr(0, space)));
          rest.remove_prefix(std::min(space + 1, rest.size()));
        }
      }
    } else if (has("reset")) {
      dev.reset_methods->push_back("available");  // before 5.15: resettable, method not said
    }
    dev.dsn = read_dsn(sysfs, dir);
    // VPD is read 4 bytes at a time by the kernel, slow on real cards:
    // only when no cheaper serial (NVMe, DSN, permanent MAC) tells the device.
    const bool serial_known = core::identity_of(dev, nullptr).has_serial();
    if (!serial_known && has("vpd")) {
      if (auto vpd = sysfs.read(dir + "/vpd", 1024)) dev.vpd_serial = core::parse_vpd_serial(*vpd);
    }
  }
  return core::ok();
}

Result<PciDevice> read_device(const Sysfs& sysfs, const PciAddress& address) {
  const std::string dir = "bus/pci/devices/" + address.to_string();
  PciDevice dev;
  dev.address = address;

  // One listing tells which optional attributes and links exist, so absent
  // ones cost no failed open().
  auto entries_result = sysfs.list(dir);
  if (!entries_result) return fail(entries_result.error());
  Entries& entries = *entries_result;
  std::sort(entries.begin(), entries.end());
  const auto has = [&](const char* name) { return contains(entries, name); };

  if (auto s = read_identity(sysfs, dir, dev); !s) return fail(s.error());

  if (has("driver")) {
    auto target = sysfs.read_link(dir + "/driver");
    if (!target) return fail(target.error());
    dev.driver = core::sanitize_untrusted(basename(*target));
  }
  if (has("iommu_group")) {
    const std::string path = dir + "/iommu_group";
    auto target = sysfs.read_link(path);
    if (!target) return fail(target.error());
    const std::string number = basename(*target);
    auto group = core::parse_decimal(number);
    if (!group || *group < 0 || *group > 0xffffffffLL) return malformed(sysfs, path, number);
    dev.iommu_group = static_cast<unsigned>(*group);
  }
  if (has("numa_node")) {
    const std::string path = dir + "/numa_node";
    auto value = read_attribute(sysfs, path);
    if (!value) return fail(value.error());
    auto node = core::parse_decimal(*value);
    if (!node || *node < -1 || *node > 0xffff) return malformed(sysfs, path, *value);
    if (*node >= 0) dev.numa_node = static_cast<int>(*node);
  }
  if (has("physfn")) {
    auto pf = link_address(sysfs, dir + "/physfn");
    if (!pf) return fail(pf.error());
    dev.physical_function = *pf;
  }
  for (const std::string& entry : entries) {
    if (!entry.starts_with("virtfn")) continue;
    auto vf = link_address(sysfs, dir + "/" + entry);
    if (!vf) return fail(vf.error());
    dev.virtual_functions.push_back(*vf);
  }
  std::sort(dev.virtual_functions.begin(), dev.virtual_functions.end());
  if (has("sriov_totalvfs")) {
    auto total = read_attribute(sysfs, dir + "/sriov_totalvfs");
    if (total) {
      if (auto n = core::parse_decimal(*total); n && *n >= 0 && *n <= 0xffff) {
        dev.sriov_total_vfs = static_cast<unsigned>(*n);
      }
    }
    if (auto num = read_attribute(sysfs, dir + "/sriov_numvfs")) {
      if (auto n = core::parse_decimal(*num); n && *n >= 0 && *n <= 0xffff) {
        dev.sriov_num_vfs = static_cast<unsigned>(*n);
      }
    }
  }
  if (auto st = read_details(sysfs, dir, entries, dev); !st) return fail(st.error());
  return dev;
}

}  // namespace

Result<PciDevice> read_sysfs_device(const Sysfs& sysfs, const PciAddress& address) {
  return read_device(sysfs, address);
}

Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs) {
  auto names = sysfs.list("bus/pci/devices");
  if (!names) {
    return fail("cannot list PCI devices: " + names.error().message +
                    " (is this a sysfs root? pass --sysfs-root DIR)",
                ExitCode::host_error);
  }
  core::Inventory inventory;
  for (const std::string& name : *names) {
    auto address = PciAddress::parse(name);
    if (!address) return not_an_address(sysfs, "bus/pci/devices", name);
    auto device = read_device(sysfs, *address);
    if (!device) return fail(device.error());
    inventory.add(std::move(*device));
  }
  apply_slots(read_slots(sysfs), inventory);
  inventory.rebuild_groups();
  return inventory;
}

Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs,
                                             std::span<const PciAddress> wanted) {
  core::Inventory inventory;
  std::set<PciAddress> seen;
  std::set<unsigned> groups_seen;
  // Reads `address` unless it was read already or the tree lacks it.
  auto read_one = [&](const PciAddress& address) -> core::Status {
    if (!seen.insert(address).second) return core::ok();
    if (!sysfs.exists("bus/pci/devices/" + address.to_string())) return core::ok();
    auto device = read_device(sysfs, address);
    if (!device) return fail(device.error());
    inventory.add(std::move(*device));
    return core::ok();
  };
  for (const PciAddress& address : wanted) {
    if (auto read = read_one(address); !read) return fail(read.error());
    const PciDevice* device = inventory.find(address);
    if (device == nullptr || !device->iommu_group) continue;
    const unsigned group = *device->iommu_group;
    if (!groups_seen.insert(group).second) continue;
    const std::string dir = "kernel/iommu_groups/" + std::to_string(group) + "/devices";
    auto members = sysfs.list(dir);
    if (!members) return fail(members.error());
    for (const std::string& name : *members) {
      auto member = PciAddress::parse(name);
      if (!member) return not_an_address(sysfs, dir, name);
      if (auto read = read_one(*member); !read) return fail(read.error());
    }
  }
  apply_slots(read_slots(sysfs), inventory);
  inventory.rebuild_groups();
  return inventory;
}

bool has_iommu_groups(const Sysfs& sysfs) {
  auto groups = sysfs.list("kernel/iommu_groups");
  return groups && !groups->empty();
}

void read_sysfs_details(const Sysfs& sysfs, core::Inventory& inventory) {
  for (auto& [address, dev] : inventory.devices()) {
    const std::string dir = "bus/pci/devices/" + address.to_string();
    auto entries = sysfs.list(dir);
    if (!entries) continue;
    dev.nvme.clear();
    dev.net.clear();
    dev.dsn.clear();
    dev.vpd_serial.clear();
    dev.reset_methods.reset();
    dev.memory_bytes.reset();
    dev.memory_source = core::MemorySource::driver;
    std::sort(entries->begin(), entries->end());
    (void)read_details(sysfs, dir, *entries, dev);
  }
  apply_slots(read_slots(sysfs), inventory);
}

}  // namespace pcipass::host
