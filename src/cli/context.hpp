#pragma once

// What main wires together and hands to every command: the OS objects
// (sysfs, /proc, the name database, a way to reach libvirt) and the options
// shared by all commands.

#include <pcipass/core/host_identity.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_names.hpp>
#include <pcipass/host/libvirt.hpp>
#include <pcipass/host/os.hpp>
#include <pcipass/host/sysfs.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::cli {

// Where the inventory comes from.
enum class SourceKind { sysfs, libvirt, lspci };

struct GlobalOptions {
  std::string sysfs_root = "/sys";
  std::string proc_root;   // empty: the sibling `proc` of sysfs_root
  std::string connect;     // libvirt URI; empty: LIBVIRT_DEFAULT_URI or libvirt's default
  std::string lspci_file;  // `lspci -Dvmmm` text; "-" for stdin
  std::string host_usage;  // another host's `pcipass list --json` ("-": stdin), for its devices' usage
  std::string pci_ids;     // pci.ids file instead of the system's
  std::string source = "auto";
  std::string dev_root;   // empty: the sibling `dev` of sysfs_root (/dev for /sys)
  std::string state_dir;  // empty: /var/lib/pcipass, or var/lib/pcipass beside a simulated host's sys/
  std::string etc_root;   // empty: /etc for the real /sys, else etc beside the simulated host's sys/
  std::string run_root;   // empty: the sibling `run` of sysfs_root (/run for /sys): udev's database
  bool dev_root_given = false;  // --dev-root / --etc-root on the command line, not derived:
  bool etc_root_given = false;  // the boot unit must pass them on to restore
  bool json = false;
};

// `path` made absolute against the working folder and cleaned of `.`, `..`
// and doubled slashes; "" stays "" (an option not given).
std::string absolute_path(const std::string& path);

struct Context {
  GlobalOptions options;
  host::Sysfs* sysfs = nullptr;
  host::Sysfs* proc = nullptr;
  host::Sysfs* dev = nullptr;  // the /dev tree, only checked (/dev/vfio/N)
  host::Os* os = nullptr;      // modules and files outside sysfs
  host::Sysfs* etc = nullptr;  // the /etc tree (group, passwd, security/limits.d), read only
  host::Sysfs* run = nullptr;  // the /run tree (udev's database), read only
  core::PciNames* names = nullptr;
  // Opens a read-only libvirt connection to `uri` (empty: libvirt's default).
  std::function<core::Result<host::LibvirtConnection>(const std::string& uri)> open_libvirt;
  // Opens a read-write libvirt connection to `uri` (empty: libvirt's default),
  // for commands that change domains (attach, detach, bringup).
  std::function<core::Result<host::LibvirtConnection>(const std::string& uri)> open_libvirt_rw;
  // Absolute path of this pcipass binary (/proc/self/exe), for the boot service.
  std::string executable;
  // Reads a whole input file, "-" meaning standard input.
  std::function<core::Result<std::string>(const std::string& path)> read_input;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// The inventory of the selected source with names, human names and host usage
// filled in, and a label saying where it came from ("sysfs:/sys").
struct LoadedInventory {
  core::Inventory inventory;
  std::string source_label;
  // Why the devices are not this machine's ("lspci text, not this machine's
  // /sys"), or "" when they are: then host usage was read from this machine.
  std::string foreign;
  // The --host-usage report whose usage the devices carry (foreign ones
  // only), or "" when none was given.
  std::string usage_report;
  // The host the devices belong to: this machine's (or the simulated
  // host's) identity from its trees, or what libvirt tells of its host;
  // empty for lspci text, which names no host, and when nothing uses it
  // (no --json, no --host-usage).
  core::HostIdentity host;
};

// Which devices a command needs: all of them (list, groups, kconfig), or the
// named ones with the other members of their IOMMU groups (plan, bind,
// bringup), which the sysfs source then reads alone. The libvirt and lspci
// sources always read everything (one call or one text gives it all).
struct DeviceScope {
  bool everything = true;
  std::vector<core::PciAddress> named;

  static DeviceScope all() { return {}; }
  static DeviceScope groups_of(std::vector<core::PciAddress> named) {
    return {false, std::move(named)};
  }
};

// The source the options select: `--source` when given, else `--lspci FILE`
// picks lspci text, `-c URI` libvirt, and sysfs otherwise.
SourceKind select_source(const GlobalOptions& options);

// Builds the inventory from the source select_source() picks.
// Throws core::Failure with the documented exit code.
// `connection`, when given, is the open connection to -c's URI to read
// node devices through (instead of opening another), and `host` what its
// libvirt told of its host, when read already. LoadedInventory::host is
// read only when something uses it: --json output or --host-usage.
LoadedInventory load_inventory(Context& context, const DeviceScope& scope = DeviceScope::all(),
                               const host::LibvirtConnection* connection = nullptr,
                               const core::HostIdentity* host = nullptr);

// Prints `pcipass: warning: <text>` on the error stream.
void warn(Context& context, const std::string& text);

// Warns once when host usage is unknown for some devices (/ traced to no
// device), naming why: list and groups say it loudly, not only per row.
void warn_unknown_host_usage(Context& context, const LoadedInventory& loaded);

// The file at `path` ("-": standard input), or nullopt when there is none;
// `required` makes a missing file bad input ("PATH: no such file").
std::optional<std::string> read_optional_input(Context& context, const std::string& path,
                                               bool required);

// Why the devices behind libvirt URI `uri` are not this machine's ("another
// host (qemu+ssh://h/system)", "libvirt's test driver (test:///default), not
// this machine"), or "" when they are (a hypervisor driver, no host part).
std::string foreign_libvirt(const std::string& uri);

// Throws a usage Failure, naming both, when `uri` (-c) is not this machine:
// for the commands that act on this machine's sysfs, which must never be
// mixed with another host's devices or domains.
void refuse_foreign_connection(const Context& context, const std::string& uri);

}  // namespace pcipass::cli
