// `pcipass doctor`: read-only checks of everything passthrough needs, each
// printed as `OK|WARN|FAIL  name: detail` with the fix. Every read goes
// through the context's sysfs, proc, dev and etc roots.

#include "commands.hpp"
#include "host_prep.hpp"

#include <pcipass/core/doctor.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <memory>
#include <ostream>

namespace pcipass::cli {

namespace {

using core::DoctorCheck;
using core::Verdict;

struct DoctorOptions {
  std::vector<std::string> devices;
};

std::vector<std::string> sorted_list(const host::Sysfs& tree, std::string_view path) {
  auto names = tree.list(path);
  if (!names) return {};
  std::vector<std::string> sorted = std::move(*names);
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

std::string read_text(const host::Sysfs& tree, std::string_view path) {
  auto text = tree.read(path, 1u << 20);
  return text ? *text : std::string();
}

DoctorCheck check_iommu(Context& context) {
  const host::Sysfs& sys = *context.sysfs;
  const std::size_t groups = sorted_list(sys, "kernel/iommu_groups").size();
  const std::vector<std::string> units = sorted_list(sys, "class/iommu");
  const std::string cmdline(core::trim(read_text(*context.proc, "cmdline")));
  const std::string flag = core::iommu_cmdline_flag(cmdline);
  const core::CpuVendor vendor = core::parse_cpu_vendor(read_text(*context.proc, "cpuinfo"));
  const std::string flag_note =
      flag.empty() ? "the kernel command line has neither intel_iommu=on nor amd_iommu=on"
                   : "the kernel command line has " + flag;
  if (groups == 0) {
    return {Verdict::fail, "iommu",
            "no IOMMU: " + sys.display_path("kernel/iommu_groups") + " is empty, " +
                sys.display_path("class/iommu") + " lists no units and " + flag_note +
                "; no device can be passed through",
            core::iommu_enable_fix(vendor)};
  }
  std::string detail = std::to_string(groups) + " IOMMU groups";
  if (!units.empty()) detail += ", units " + core::join(units, ", ");
  return {Verdict::ok, "iommu", detail + "; " + flag_note, {}};
}

DoctorCheck check_interrupt_remapping(Context& context) {
  const host::Sysfs& sys = *context.sysfs;
  const std::vector<std::string> units = sorted_list(sys, "class/iommu");
  const std::string fix =
      "without interrupt remapping vfio refuses devices unless vfio_iommu_type1 "
      "allow_unsafe_interrupts=1; check the firmware's IOMMU and x2APIC settings";
  std::vector<std::string> without;
  std::size_t intel = 0;
  for (const std::string& unit : units) {
    const std::string ecap_path = "class/iommu/" + unit + "/intel-iommu/ecap";
    if (!sys.exists(ecap_path)) continue;
    ++intel;
    const auto remapping = core::intel_interrupt_remapping(read_text(sys, ecap_path));
    if (remapping != true) without.push_back(unit);
  }
  if (intel == 0) {
    return {Verdict::warn, "interrupt-remapping",
            units.empty() ? "unknown: no IOMMU units in " + sys.display_path("class/iommu")
                          : "unknown: sysfs does not show it for units " + core::join(units, ", "),
            "read the kernel log (dmesg | grep -i remapping); " + fix};
  }
  if (!without.empty()) {
    return {Verdict::fail, "interrupt-remapping",
            "not supported by " + core::join(without, ", ") + " (intel-iommu ecap bit 3 is clear)", fix};
  }
  return {Verdict::ok,
          "interrupt-remapping",
          "supported by every IOMMU unit (intel-iommu ecap bit 3)",
          {}};
}

DoctorCheck check_vfio_modules(Context& context) {
  std::vector<std::string> missing;
  for (const char* module : {"vfio", "vfio_pci", "vfio_iommu_type1"}) {
    if (!context.sysfs->exists(std::string("module/") + module)) missing.push_back(module);
  }
  if (missing.empty()) {
    return {Verdict::ok, "vfio-modules", "vfio, vfio_pci and vfio_iommu_type1 are loaded", {}};
  }
  return {Verdict::warn, "vfio-modules",
          "not loaded: " + core::join(missing, ", ") + " (" + context.sysfs->display_path("module") + ")",
          "modprobe vfio-pci (pcipass bind loads it; to load it at boot add vfio-pci to "
          "/etc/modules-load.d/vfio.conf)"};
}

DoctorCheck check_vfio_device(Context& context) {
  const std::string path = context.dev->display_path("vfio/vfio");
  if (context.dev->exists("vfio/vfio")) return {Verdict::ok, "vfio-device", path + " exists", {}};
  return {Verdict::warn, "vfio-device", path + " is missing: the vfio module is not loaded",
          "modprobe vfio-pci (pcipass bind loads it)"};
}

DoctorCheck check_libvirt(Context& context) {
  const std::string& uri = context.options.connect;
  const std::string shown = uri.empty() ? "libvirt's default URI" : uri;
  auto connection = context.open_libvirt(uri);
  if (!connection) {
    return {Verdict::fail, "libvirt",
            "cannot connect to " + shown + ": " + connection.error().message,
            "start the daemon (systemctl start libvirtd, or virtqemud.socket) or name a reachable "
            "URI with -c"};
  }
  const std::string actual = connection->uri();
  if (actual.ends_with("/system")) {
    return {Verdict::ok,
            "libvirt",
            actual + " (privileged: libvirt detaches devices and opens /dev/vfio itself)",
            {}};
  }
  if (actual.ends_with("/session")) {
    return {Verdict::warn, "libvirt",
            actual +
                " (session: unprivileged guests cannot detach devices, open /dev/vfio/N or "
                "lock their memory by themselves)",
            "bind the devices with pcipass bind as root, then give the user's group /dev/vfio/N "
            "and a memlock limit, or use qemu:///system"};
  }
  return {Verdict::ok, "libvirt", actual + " (neither qemu:///system nor qemu:///session)", {}};
}

// True when a line of an /etc/passwd or /etc/group text names `name`.
bool has_entry(const std::string& text, const std::string& name) {
  const std::string prefix = name + ":";
  std::size_t at = 0;
  while (at < text.size()) {
    if (text.compare(at, prefix.size(), prefix) == 0) return true;
    const std::size_t end = text.find('\n', at);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return false;
}

DoctorCheck check_qemu_user(Context& context) {
  const std::string passwd = read_text(*context.etc, "passwd");
  const std::string group = read_text(*context.etc, "group");
  std::string user;
  for (const char* name : {"libvirt-qemu", "qemu"}) {
    if (has_entry(passwd, name)) {
      user = name;
      break;
    }
  }
  std::vector<std::string> groups;
  for (const char* name : {"libvirt-qemu", "kvm", "libvirt"}) {
    if (has_entry(group, name)) groups.push_back(name);
  }
  if (user.empty()) {
    return {Verdict::warn, "qemu-user",
            "no libvirt-qemu or qemu user in " + context.etc->display_path("passwd"),
            "install libvirt-daemon-system (Debian) or libvirt-daemon (Fedora), which create it"};
  }
  return {Verdict::ok,
          "qemu-user",
          "user " + user +
              (groups.empty() ? ", no kvm or libvirt group" : ", groups " + core::join(groups, ", ")),
          {}};
}

DoctorCheck check_memlock(Context& context) {
  const auto limit = core::parse_proc_limits_memlock(read_text(*context.proc, "self/limits"));
  std::vector<std::string> grants;
  std::vector<std::string> files;
  if (context.etc->exists("security/limits.conf")) files.push_back("security/limits.conf");
  for (const std::string& name : sorted_list(*context.etc, "security/limits.d")) {
    if (name.ends_with(".conf")) files.push_back("security/limits.d/" + name);
  }
  for (const std::string& file : files) {
    for (const core::MemlockGrant& grant :
         core::parse_limits_memlock(read_text(*context.etc, file))) {
      grants.push_back(grant.domain + " " + grant.type + " " + grant.value + " (" +
                       context.etc->display_path(file) + ")");
    }
  }
  const std::string grant_text =
      grants.empty() ? "no memlock lines in " + context.etc->display_path("security/limits.d") +
                           " or limits.conf"
                     : "granted: " + core::join(grants, "; ");
  const std::string fix =
      "qemu:///system raises the limit itself; for qemu:///session guests add '@kvm hard memlock "
      "unlimited' and '@kvm soft memlock unlimited' (or the guest's memory plus a margin, in KiB) "
      "to /etc/security/limits.d/90-vfio-memlock.conf and log in again";
  if (!limit) {
    return {Verdict::warn, "memlock",
            "unknown for this process (" + context.proc->display_path("self/limits") +
                " has no Max locked memory line); " + grant_text,
            fix};
  }
  const std::string detail = "this process may lock " + core::format_bytes(limit->soft) +
                             " (hard " + core::format_bytes(limit->hard) + "); " + grant_text;
  if (!limit->hard || !grants.empty()) return {Verdict::ok, "memlock", detail, {}};
  return {Verdict::warn, "memlock",
          detail + "; a guest with a passed-through device locks all its memory", fix};
}

DoctorCheck check_reset(Context& context, const core::PciAddress& address) {
  const host::Sysfs& sys = *context.sysfs;
  const std::string name = "reset " + address.to_string();
  const std::string base = "bus/pci/devices/" + address.to_string();
  if (!sys.exists(base)) {
    return {Verdict::fail, name, "no such device: " + sys.display_path(base) + " is missing",
            "check the address with pcipass list"};
  }
  const auto config = sys.read(base + "/config", 4096);
  const auto flr = config ? core::pcie_flr_capable(*config) : std::nullopt;
  const std::string flr_note = !flr   ? "no PCI Express capability"
                               : *flr ? "FLR advertised"
                                      : "no FLR in its PCI Express capability";
  std::string methods;
  if (sys.exists(base + "/reset_method")) {
    methods = std::string(core::trim(read_text(sys, base + "/reset_method")));
  } else if (sys.exists(base + "/reset")) {
    methods = "available (this kernel has no reset_method)";
  }
  const std::string fix =
      "the device may keep state between guests or need a host reboot after one; pass the whole "
      "card (all functions) so a bus reset is possible, or avoid reusing it without a reboot";
  if (methods.empty()) {
    return {Verdict::warn, name, "cannot be reset: no reset method in sysfs; " + flr_note, fix};
  }
  return {
      Verdict::ok, name, "reset method " + core::sanitize_untrusted(methods) + "; " + flr_note, {}};
}

// Whether pcipass knows which devices hold the host's own storage: when /
// cannot be traced, every storage controller is host-usage-unknown.
DoctorCheck check_host_disks(Context& context) {
  const char* name = "host-disks";
  // This machine's (or the simulated host's) sysfs, whatever -c says: host
  // usage is only ever known for the tree pcipass would change.
  core::Inventory inventory;
  const std::string source = context.options.source;
  context.options.source = "sysfs";
  try {
    inventory = load_inventory(context).inventory;
  } catch (const core::Failure& failure) {
    context.options.source = source;
    return {Verdict::fail, name, "cannot read the devices: " + failure.error().message, {}};
  }
  context.options.source = source;
  std::vector<std::string> unknown, root;
  std::string why;
  for (const auto& [address, device] : inventory.devices()) {
    if (!device.host_usage_unknown.empty()) {
      unknown.push_back(address.to_string());
      why = device.host_usage_unknown;
    }
    for (const std::string& use : device.host_uses) {
      if (use.starts_with("backs / (")) root.push_back(address.to_string());
    }
  }
  if (!unknown.empty()) {
    return {Verdict::warn, name,
            why + ": no storage controller is called free (" + core::join(unknown, ", ") + ")",
            "pcipass follows / through partitions, LVM, md, every btrfs member and ZFS pools "
            "(through udev's database in /run/udev/data: is udev running?); bind or assign a "
            "disk you know the host does not need with --force"};
  }
  if (root.empty()) return {Verdict::ok, name, "/ needs no local disk (in memory or on the network)", {}};
  return {Verdict::ok, name, "/ is on " + core::join(root, ", ") + " (host-in-use)", {}};
}

int run_doctor(Context& context, const DoctorOptions& options) {
  const std::vector<core::PciAddress> devices = resolve_devices(context, options.devices);
  std::vector<DoctorCheck> checks;
  checks.push_back(check_iommu(context));
  checks.push_back(check_interrupt_remapping(context));
  checks.push_back(check_vfio_modules(context));
  checks.push_back(check_vfio_device(context));
  checks.push_back(check_libvirt(context));
  checks.push_back(check_qemu_user(context));
  checks.push_back(check_memlock(context));
  checks.push_back(check_host_disks(context));
  for (const core::PciAddress& address : devices) checks.push_back(check_reset(context, address));

  if (context.options.json) {
    *context.out << core::dump_json(core::doctor_to_json(checks));
  } else {
    *context.out << core::format_doctor(checks);
  }
  switch (core::worst_verdict(checks)) {
    case Verdict::ok: return static_cast<int>(core::ExitCode::ok);
    case Verdict::warn: return static_cast<int>(core::ExitCode::doctor_warnings);
    case Verdict::fail: return static_cast<int>(core::ExitCode::doctor_failures);
  }
  return static_cast<int>(core::ExitCode::doctor_failures);
}

}  // namespace

void register_doctor(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor", "Check, read-only, that this host is ready for passthrough, and say how to fix it");
  cmd->add_option("DEV", options->devices, "Devices whose reset support to check (addresses, serial:SERIAL, /dev/nvme1n1, enp5s0, ...)");
  cmd->callback([&context, &exit_code, options] { exit_code = run_doctor(context, *options); });
}

}  // namespace pcipass::cli
