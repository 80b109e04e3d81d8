// pcipass-simhost: the model of a simulated host and the three stages that
// turn a YAML description into a sysfs-shaped tree (parse, write, describe).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pcipass::simhost {

// Every problem the generator reports; main prints what() on one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Strings are byte strings: device-supplied text may be any bytes, including
// invalid UTF-8, and each writer decides how to carry them.
using Bytes = std::string;

struct PciAddress {
  unsigned domain = 0;
  unsigned bus = 0;
  unsigned slot = 0;
  unsigned function = 0;

  // `0000:2d:00.0`, the spelling sysfs and lspci -D use.
  std::string str() const;
  // Routing id: bus << 8 | devfn, the number SR-IOV offsets apply to.
  unsigned routing_id() const { return bus << 8 | slot << 3 | function; }
  auto operator<=>(const PciAddress&) const = default;
};

// The PCI Express device/port type written in the Express capability.
enum class PortType {
  none,
  endpoint,
  legacy_endpoint,
  root_port,
  upstream,
  downstream,
  rc_endpoint
};

struct Bar {
  std::uint64_t size = 0;
  bool prefetchable = false;
  std::uint64_t base = 0;  // assigned by the model, not the YAML
};

struct Partition {
  Bytes name;
  unsigned number = 0;
  std::uint64_t start = 0;
  std::uint64_t size_sectors = 0;
  unsigned major = 0, minor = 0;
};

// A whole disk: an NVMe namespace or a virtio/SCSI disk.
struct Disk {
  Bytes name;
  std::uint64_t size_sectors = 0;
  Bytes subdir;  // between the PCI device dir and `block/<name>` (non-NVMe)
  std::vector<Partition> partitions;
  unsigned major = 0, minor = 0;
};

struct NvmeController {
  Bytes name;  // nvme0
  Bytes model, firmware, serial;
  std::vector<Disk> namespaces;
};

struct NetInterface {
  Bytes name;
  Bytes operstate = "up";
  Bytes mac;
  int addr_assign_type = 0;  // 0: permanent (the card's own), 1 random, 3 set
  int carrier = 1;
  int ifindex = 0;  // 0: assigned by the model
};

enum class VfGroups { own, pf };

struct Sriov {
  unsigned total_vfs = 0;
  unsigned num_vfs = 0;
  unsigned vf_device = 0;
  unsigned offset = 1;
  unsigned stride = 1;
  Bytes driver;
  VfGroups vf_groups = VfGroups::own;
  std::uint64_t vf_bar_size = 0x4000;
};

struct Link {
  double speed = 8;  // GT/s
  unsigned width = 4;
};

struct Device {
  PciAddress address;
  unsigned vendor = 0, device = 0, subsystem_vendor = 0, subsystem_device = 0;
  unsigned class_code = 0;  // class << 16 | subclass << 8 | prog-if
  unsigned revision = 0;
  PortType pcie = PortType::endpoint;
  std::optional<PciAddress> parent;
  Bytes driver;
  std::optional<unsigned> iommu_group;
  int numa_node = -1;
  unsigned irq = 0;
  bool boot_vga = false;
  bool framebuffer = false;
  bool flr = false;
  std::optional<Bytes> reset_method;
  std::optional<std::uint64_t> dsn;  // Device Serial Number capability (PCIe only)
  std::optional<Bytes> slot;         // physical slot label: bus/pci/slots/LABEL
  std::optional<Bytes> vpd_serial;   // a `vpd` file whose read-only part has SN
  std::optional<Sriov> sriov;
  std::vector<NvmeController> nvme;
  std::vector<Disk> block;
  std::vector<NetInterface> net;
  std::vector<std::pair<Bytes, Bytes>> attributes;
  std::vector<Bar> bars;
  Link link;
  Bytes vendor_name, device_name;  // only for the libvirt XML
  std::optional<unsigned> secondary_bus;

  // Derived by the model after parsing.
  std::optional<PciAddress> physfn;  // set on VFs
  std::vector<PciAddress> virtfns;   // set on PFs
  unsigned vf_index = 0;
  std::uint64_t iov_base = 0;  // PF: start of the VF BAR window
  bool multifunction = false;
  unsigned secondary = 0, subordinate = 0;  // bridges
  std::string sysfs_path;                   // relative to sys/: devices/pci0000:00/...
  int virtio_index = -1;
  int fb_index = -1;

  bool is_bridge() const { return (class_code >> 8) == 0x0604; }
  bool is_vf() const { return physfn.has_value(); }
  bool is_pcie() const { return pcie != PortType::none; }
};

// A device-mapper or md device built on other block devices.
struct VirtualBlock {
  Bytes name;     // dm-0, md0
  Bytes dm_name;  // vg-root (dm only)
  std::vector<Bytes> slaves;
  unsigned major = 0, minor = 0;
  std::uint64_t size_sectors = 0;
};

// Block devices that make up one filesystem or pool, by its name: a
// multi-device btrfs (sys/fs/btrfs/FSID/devices/ lists its members) or an
// imported ZFS pool (proc/spl/kstat/zfs/POOL/state, and udev's record of
// each member: run/udev/data/bMAJ:MIN with ID_FS_TYPE=zfs_member, ID_FS_LABEL=POOL).
struct MemberSet {
  Bytes name;                  // btrfs fsid, or ZFS pool name
  std::vector<Bytes> devices;  // block device names
};

struct Mount {
  Bytes source, target, fstype, options = "rw,relatime";
  Bytes device;  // block device name; empty for virtual filesystems
  bool anonymous = false;  // a 0:N number although a device backs it (btrfs, zfs)
};

struct Swap {
  Bytes source;
  Bytes device;  // empty for a swap file
  std::uint64_t size_kib = 0;
  int priority = -2;
};

struct Route {
  Bytes iface;
  std::uint32_t destination = 0;  // network byte order
  unsigned prefix = 0;
  std::uint32_t gateway = 0;
  unsigned metric = 0;
};

struct Address {
  Bytes iface;
  bool v6 = false;
  unsigned char bytes[16] = {};
  unsigned prefix = 0;
};

struct PciIdsDevice {
  unsigned device = 0;
  Bytes name;
};

struct PciIdsVendor {
  unsigned vendor = 0;
  Bytes name;
  std::vector<PciIdsDevice> devices;
};

struct Host {
  Bytes name, description;
  bool iommu = true;
  bool vfio = false;
  std::vector<Bytes> modules;
  std::vector<Bytes> drivers;  // extra registered PCI drivers with no device
  std::optional<Bytes> cmdline;
  // What tells this machine from one built alike: proc/sys/kernel/hostname,
  // etc/machine-id and the firmware's sys/class/dmi/id/product_uuid; each
  // file is written only when given.
  std::optional<Bytes> hostname, machine_id, product_uuid;
  std::vector<Device> devices;  // sorted by address, VFs included
  std::vector<VirtualBlock> dm, md;
  std::vector<MemberSet> btrfs, zfs;
  std::vector<Mount> mounts;
  std::vector<Swap> swaps;
  std::vector<Route> routes;
  std::vector<Address> addresses;
  std::vector<PciIdsVendor> pci_ids;

  const Device* find(const PciAddress& address) const;
};

// A problem with one device found while deriving the host; `source` is the
// YAML entry to blame (a VF's PF), so the parser can add its line.
class DeviceError : public Error {
 public:
  DeviceError(const PciAddress& source_, std::string where_, const std::string& why)
      : Error(why), source(source_), where(std::move(where_)) {}
  PciAddress source;
  std::string where;
};

// Completes parsed devices the way Linux would (VFs, buses, groups, paths,
// device numbers); bridges not in `explicit_port_types` get the port type
// their position implies. Throws DeviceError.
void derive_host(Host& host, const std::set<PciAddress>& explicit_port_types);

// Reads and validates a host description; `file_name` only labels messages.
// Throws Error naming the file, line and key of the first problem.
Host parse_host(const std::string& yaml_text, const std::string& file_name);

// The binary config space lspci reads: 256 bytes, or 4096 for PCIe.
Bytes config_space(const Device& device);

// Writes sys/, proc/ and dev/ under `out_dir`, which must exist and be empty.
void write_tree(const Host& host, const std::string& out_dir);

// The libvirt test-driver host file: a <node> with one <device> per PCI
// function, net interface and disk, as libvirt's node-device XML.
std::string libvirt_test_xml(const Host& host);

// pci.ids text with the host's extra vendor and device names.
std::string pci_ids_text(const Host& host);

// Text as XML character data: escapes markup and replaces invalid UTF-8 and
// characters XML 1.0 forbids with U+FFFD, so any bytes give well-formed XML.
std::string xml_escape(const Bytes& text);

std::string hex(unsigned value, int digits);

}  // namespace pcipass::simhost
