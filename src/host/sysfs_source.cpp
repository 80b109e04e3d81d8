#include <pcipass/host/sysfs_source.hpp>

#include <pcipass/core/config_space.hpp>
#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <set>
#include <string_view>
#include <thread>
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
// (`config`, the device's open `config` file, or nullptr) when it answers,
// else from the separate attribute files.
core::Status read_identity(const Sysfs& sysfs, const std::string& dir,
                           Sysfs::OpenAttribute* config_file, PciDevice& dev) {
  core::Result<std::string> config = config_file != nullptr
                                         ? config_file->read_at(0, core::k_config_header_size)
                                         : fail("no config space", ExitCode::host_error);
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
std::string read_dsn(Sysfs::OpenAttribute* config) {
  constexpr std::size_t k_first = 0x100, k_end = 0x1000, k_dsn_id = 0x0003;
  if (config == nullptr) return {};
  std::size_t at = k_first;
  for (int hops = 0; hops < 64; ++hops) {  // a looping chain stops here
    auto cap = config->read_at(at, 12);
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

// The display class: boot VGA flag, amdgpu's memory, BARs.
bool is_display(const PciDevice& dev) {
  const auto cls = dev.class_id();
  return cls && (*cls >> 8) == 0x03;
}

// Reads the optional attribute `name` of `dir` into `out`, trimmed; false
// when the device has none or it cannot be read (details are best effort).
bool read_optional(const Sysfs& sysfs, const std::string& dir, const char* name,
                   std::string& out) {
  auto value = sysfs.read_if_present(dir + "/" + name, 4096);
  if (!value || !*value) return false;
  out = std::string(core::trim(**value));
  return true;
}

// The details behind human names: GPU memory, boot VGA, NVMe controllers,
// network interfaces, serials, reset methods. Each optional attribute is
// opened where the kernel can have it, without listing the device folder
// first (a failed open costs less than a listing): which class, driver or
// vendor makes the kernel create it is noted at each. `driver` is the one
// bound in this tree ("" for none).
core::Status read_details(const Sysfs& sysfs, const std::string& dir, std::string_view driver,
                          Sysfs::OpenAttribute* config, PciDevice& dev) {
  std::string text;
  if (is_display(dev)) {
    // boot_vga: VGA devices only; mem_info_vram_total: amdgpu.
    if (read_optional(sysfs, dir, "boot_vga", text)) dev.boot_vga = (text == "1");
    if (read_optional(sysfs, dir, "mem_info_vram_total", text)) {
      if (auto n = core::parse_decimal(text); n && *n > 0) dev.memory_bytes = static_cast<std::uint64_t>(*n);
    }
    // Other GPUs (NVIDIA, Intel): the window on their memory.
    if (!dev.memory_bytes && read_optional(sysfs, dir, "resource", text)) {
      if (auto size = core::largest_prefetchable_bar(text)) {
        dev.memory_bytes = *size;
        dev.memory_source = core::MemorySource::prefetchable_bar;
      }
    }
  }
  // nvme/: the nvme driver's controllers (a function of any class may be
  // bound to it by hand, so the driver decides, not the class).
  if (driver == "nvme") {
    if (auto s = read_nvme(sysfs, dir, dev); !s) return fail(s.error());
  }
  // net/: any network driver's interfaces (Ethernet, InfiniBand, Wi-Fi are
  // three classes): looked for under every endpoint with a driver.
  if (!driver.empty() && dev.header != core::HeaderKind::bridge) read_net_dir(sysfs, dir + "/net", dev);
  // virtio functions (vendor 0x1af4, every one of them) carry their block
  // and net children one level down, in virtioN/: the one listing left.
  if (dev.vendor_id == 0x1af4) {
    if (auto entries = sysfs.list(dir)) {
      std::sort(entries->begin(), entries->end());
      for (const std::string& entry : *entries) {
        if (entry.starts_with("virtio") && sysfs.exists(dir + "/" + entry + "/net")) {
          read_net_dir(sysfs, dir + "/" + entry + "/net", dev);
        }
      }
    }
  }
  // What tells twins apart, and how the kernel resets it. Bridges stay
  // with the platform: no need.
  if (dev.header != core::HeaderKind::bridge) {
    dev.reset_methods.emplace();
    if (auto methods = sysfs.read_if_present(dir + "/reset_method", 4096); methods && *methods) {
      std::string_view rest = core::trim(**methods);
      while (!rest.empty()) {
        const std::size_t space = std::min(rest.find(' '), rest.size());
        if (space > 0) dev.reset_methods->push_back(core::sanitize_untrusted(rest.substr(0, space)));
        rest.remove_prefix(std::min(space + 1, rest.size()));
      }
    } else if (methods && sysfs.exists(dir + "/reset")) {
      dev.reset_methods->push_back("available");  // before 5.15: resettable, method not said
    }
    dev.dsn = read_dsn(config);
    // VPD is read 4 bytes at a time by the kernel, slow on real cards:
    // only when no cheaper serial (NVMe, DSN, permanent MAC) tells the device.
    // The kernel creates `vpd` only for functions with the VPD capability;
    // a VF's is its PF's, and a VF is known by its card's serials anyway.
    const bool serial_known = core::identity_of(dev, nullptr).has_serial();
    if (!serial_known && !dev.physical_function) {
      if (auto vpd = sysfs.read_if_present(dir + "/vpd", 1024); vpd && *vpd) {
        dev.vpd_serial = core::parse_vpd_serial(**vpd);
      }
    }
  }
  return core::ok();
}

// Whether read_device() lists a PF's folder for its `virtfnN` links, or
// leaves them to the caller, which reads every VF's `physfn` anyway.
enum class VfLinks { listed, from_physfn };

Result<PciDevice> read_device(const Sysfs& sysfs, const PciAddress& address, VfLinks vf_links) {
  const std::string dir = "bus/pci/devices/" + address.to_string();
  PciDevice dev;
  dev.address = address;

  // One descriptor for the folder; every attribute below is opened relative
  // to it, and config space is opened once for its header and its serial.
  if (!sysfs.keep_folder(dir)) {
    auto listed = sysfs.list(dir);  // the OS's reason, in the usual words
    if (!listed) return fail(listed.error());
    return fail("reading " + sysfs.display_path(dir) + ": cannot open it", ExitCode::host_error);
  }
  std::unique_ptr<Sysfs::OpenAttribute> config;
  if (auto opened = sysfs.open_attribute(dir + "/config")) config = std::move(*opened);

  if (auto s = read_identity(sysfs, dir, config.get(), dev); !s) return fail(s.error());

  auto driver = sysfs.read_link_if_present(dir + "/driver");
  if (!driver) return fail(driver.error());
  if (*driver) dev.driver = core::sanitize_untrusted(basename(**driver));

  const std::string group_path = dir + "/iommu_group";
  auto group_link = sysfs.read_link_if_present(group_path);
  if (!group_link) return fail(group_link.error());
  if (*group_link) {
    const std::string number = basename(**group_link);
    auto group = core::parse_decimal(number);
    if (!group || *group < 0 || *group > 0xffffffffLL) return malformed(sysfs, group_path, number);
    dev.iommu_group = static_cast<unsigned>(*group);
  }
  const std::string numa_path = dir + "/numa_node";
  auto numa = sysfs.read_if_present(numa_path, 4096);
  if (!numa) return fail(numa.error());
  if (*numa) {
    const std::string_view value = core::trim(**numa);
    auto node = core::parse_decimal(value);
    if (!node || *node < -1 || *node > 0xffff) return malformed(sysfs, numa_path, value);
    if (*node >= 0) dev.numa_node = static_cast<int>(*node);
  }
  auto physfn = sysfs.read_link_if_present(dir + "/physfn");
  if (!physfn) return fail(physfn.error());
  if (*physfn) {
    auto pf = PciAddress::parse(basename(**physfn));
    if (!pf) {
      return fail("reading link " + sysfs.display_path(dir + "/physfn") + ": " + pf.error().message,
                  ExitCode::host_error);
    }
    dev.physical_function = *pf;
  }
  // sriov_totalvfs: SR-IOV physical functions only (a VF is never one).
  std::string text;
  if (!dev.physical_function && read_optional(sysfs, dir, "sriov_totalvfs", text)) {
    if (auto n = core::parse_decimal(text); n && *n >= 0 && *n <= 0xffff) {
      dev.sriov_total_vfs = static_cast<unsigned>(*n);
    }
    if (read_optional(sysfs, dir, "sriov_numvfs", text)) {
      if (auto n = core::parse_decimal(text); n && *n >= 0 && *n <= 0xffff) {
        dev.sriov_num_vfs = static_cast<unsigned>(*n);
      }
    }
    if (vf_links == VfLinks::listed) {
      auto entries = sysfs.list(dir);
      if (!entries) return fail(entries.error());
      for (const std::string& entry : *entries) {
        if (!entry.starts_with("virtfn")) continue;
        auto vf = link_address(sysfs, dir + "/" + entry);
        if (!vf) return fail(vf.error());
        dev.virtual_functions.push_back(*vf);
      }
      std::sort(dev.virtual_functions.begin(), dev.virtual_functions.end());
    }
  }
  if (auto st = read_details(sysfs, dir, dev.driver, config.get(), dev); !st) return fail(st.error());
  return dev;
}

// A whole scan reads every VF's `physfn`: each PF's VFs follow from those,
// without a listing of the PF's folder and a link read per VF.
void link_vfs_from_physfn(core::Inventory& inventory) {
  std::vector<std::pair<PciAddress, PciAddress>> links;  // (PF, VF)
  for (const auto& [address, dev] : inventory.devices()) {
    if (dev.physical_function) links.emplace_back(*dev.physical_function, address);
  }
  for (const auto& [pf, vf] : links) {
    if (PciDevice* dev = inventory.find(pf)) dev->virtual_functions.push_back(vf);
  }
  for (auto& [address, dev] : inventory.devices()) {
    std::sort(dev.virtual_functions.begin(), dev.virtual_functions.end());
  }
}

// Reads `addresses` (every device of the host, in address order) with
// VfLinks::from_physfn. With two or more CPUs the second half is read on a
// second thread: most of the time is the kernel's, per device, and the two
// halves share nothing but the tree. The error is the one a read in order
// would give: the first thread stops only at its own failure, the second
// also when the first failed (whose addresses all come before its own).
core::Status read_devices(const Sysfs& sysfs, const std::vector<PciAddress>& addresses,
                          core::Inventory& inventory) {
  constexpr std::size_t k_enough_for_two = 64;
  std::vector<std::optional<Result<PciDevice>>> results(addresses.size());
  std::atomic<bool> first_failed{false};
  const auto read_range = [&](std::size_t begin, std::size_t end, bool first) {
    for (std::size_t i = begin; i < end; ++i) {
      if (!first && first_failed.load()) return;
      results[i] = read_device(sysfs, addresses[i], VfLinks::from_physfn);
      if (!*results[i]) {
        if (first) first_failed = true;
        return;
      }
    }
  };
  const bool two = addresses.size() >= k_enough_for_two && std::thread::hardware_concurrency() >= 2;
  const std::size_t middle = two ? addresses.size() / 2 : addresses.size();
  std::exception_ptr second_error;
  std::thread second;
  if (two) {
    second = std::thread([&] {
      try {
        read_range(middle, addresses.size(), false);
      } catch (...) {
        second_error = std::current_exception();
      }
    });
  }
  try {
    read_range(0, middle, true);
  } catch (...) {
    first_failed = true;
    if (second.joinable()) second.join();
    throw;
  }
  if (second.joinable()) second.join();
  if (second_error) std::rethrow_exception(second_error);
  for (auto& result : results) {
    // Unread only after an earlier failure, which returned first.
    if (!result) return fail("reading PCI devices: one was skipped", ExitCode::host_error);
    if (!*result) return fail(result->error());
    inventory.add(std::move(**result));  // straight in: no third copy of 4170 devices
  }
  return core::ok();
}

}  // namespace

Result<PciDevice> read_sysfs_device(const Sysfs& sysfs, const PciAddress& address) {
  return read_device(sysfs, address, VfLinks::listed);
}

Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs) {
  auto names = sysfs.list("bus/pci/devices");
  if (!names) {
    return fail("cannot list PCI devices: " + names.error().message +
                    " (is this a sysfs root? pass --sysfs-root DIR)",
                ExitCode::host_error);
  }
  std::vector<PciAddress> addresses;
  addresses.reserve(names->size());
  for (const std::string& name : *names) {
    auto address = PciAddress::parse(name);
    if (!address) return not_an_address(sysfs, "bus/pci/devices", name);
    addresses.push_back(*address);
  }
  std::sort(addresses.begin(), addresses.end());
  core::Inventory inventory;
  if (auto read = read_devices(sysfs, addresses, inventory); !read) return fail(read.error());
  link_vfs_from_physfn(inventory);
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
    auto device = read_device(sysfs, address, VfLinks::listed);
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
    if (!sysfs.keep_folder(dir)) continue;
    dev.nvme.clear();
    dev.net.clear();
    dev.dsn.clear();
    dev.vpd_serial.clear();
    dev.reset_methods.reset();
    dev.memory_bytes.reset();
    dev.memory_source = core::MemorySource::driver;
    std::unique_ptr<Sysfs::OpenAttribute> config;
    if (auto opened = sysfs.open_attribute(dir + "/config")) config = std::move(*opened);
    // libvirt's test driver and lspci without -k give no driver: this tree's.
    std::string driver;
    if (auto link = sysfs.read_link_if_present(dir + "/driver"); link && *link) driver = basename(**link);
    (void)read_details(sysfs, dir, driver, config.get(), dev);
  }
  apply_slots(read_slots(sysfs), inventory);
}

}  // namespace pcipass::host
