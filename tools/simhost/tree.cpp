// Writes the sysfs, proc and dev trees. Paths and link targets mirror Linux
// (relative symlinks, the same file names and formats) because the readers
// under test are the real ones: lspci, pcipass's sysfs source, the simulated
// kernel in the tests.
#include "simhost.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>
#include <unordered_set>

namespace pcipass::simhost {

namespace {

// A VPD image as a card's EEPROM holds it: the identifier string, a
// read-only section with the serial number (SN) and its checksum (RV), the
// end tag.
Bytes vpd_image(const Device& d) {
  Bytes out;
  const auto large = [&](unsigned char tag, const Bytes& data) {
    out += static_cast<char>(tag);
    out += static_cast<char>(data.size() & 0xff);
    out += static_cast<char>(data.size() >> 8);
    out += data;
  };
  large(0x82, d.device_name.empty() ? Bytes("PCI device") : d.device_name);
  const Bytes serial = d.vpd_serial->substr(0, 255);
  Bytes readonly = "SN";
  readonly += static_cast<char>(serial.size());
  readonly += serial;
  readonly += "RV";
  readonly += static_cast<char>(1);
  const std::size_t rv_at = out.size() + 3 + readonly.size();
  readonly += '\0';
  large(0x90, readonly);
  unsigned char sum = 0;
  for (std::size_t i = 0; i < rv_at; ++i) sum = static_cast<unsigned char>(sum + out[i]);
  out[rv_at] = static_cast<char>(-sum);  // the bytes up to RV's value sum to zero
  out += static_cast<char>(0x78);
  return out;
}

}  // namespace
namespace {

std::string format(const char* fmt, auto... args) {
  char text[256];
  std::snprintf(text, sizeof text, fmt, args...);
  return text;
}

// A relative symlink target from the folder holding the link to `target`,
// both relative to the output root, as sysfs writes them.
std::string relative(const std::string& link, const std::string& target) {
  auto split = [](const std::string& path) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      parts.emplace_back(path.data() + start, end - start);
      start = end + 1;
    }
    return parts;
  };
  auto from = split(link);
  from.pop_back();  // the link's own name
  const auto to = split(target);
  std::size_t common = 0;
  while (common < from.size() && common < to.size() && from[common] == to[common]) ++common;
  std::string result;
  for (std::size_t i = common; i < from.size(); ++i) result += "../";
  for (std::size_t i = common; i < to.size(); ++i) {
    result += to[i];
    if (i + 1 < to.size()) result += '/';
  }
  return result.empty() ? "." : result;
}

// Plain POSIX calls, no fsync: a throwaway tree of ~100k entries must be
// written in well under a second. Entries are created relative to an open
// handle on their folder, since most land in the folder of the entry before
// and the kernel then skips walking the whole path each time.
class Tree {
 public:
  explicit Tree(std::string root) : m_root(std::move(root)) {}
  ~Tree() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  void dir(const std::string& path) {
    if (m_dirs.count(path)) return;
    const auto slash = path.rfind('/');
    if (slash != std::string::npos) dir(path.substr(0, slash));
    if (::mkdirat(folder(path), name(path), 0755) != 0 && errno != EEXIST) fail("creating", path);
    m_dirs.insert(path);
  }

  void file(const std::string& path, std::string_view content) {
    const int fd =
        ::openat(folder(path), name(path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("writing", path);
    const char* data = content.data();
    std::size_t left = content.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        fail("writing", path);
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) fail("writing", path);
  }

  // `path` -> `target`, both relative to the root; the link stores a
  // relative target so the tree can be moved.
  void link(const std::string& path, const std::string& target) {
    if (::symlinkat(relative(path, target).c_str(), folder(path), name(path)) != 0)
      fail("linking", path);
  }

 private:
  static const char* name(const std::string& path) {
    const auto slash = path.rfind('/');
    return path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
  }

  // A handle on the folder holding `path`, kept open for the next entry.
  int folder(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string_view parent(path.data(), slash == std::string::npos ? 0 : slash);
    if (m_fd >= 0 && parent == m_folder) return m_fd;
    if (m_fd >= 0) ::close(m_fd);
    m_folder = parent;
    const std::string full = m_root + (parent.empty() ? "" : "/" + m_folder);
    m_fd = ::open(full.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (m_fd < 0) fail("opening", m_folder);
    return m_fd;
  }

  [[noreturn]] void fail(const char* what, const std::string& path) const {
    throw Error(std::string(what) + " " + m_root + "/" + path + ": " + std::strerror(errno));
  }

  std::string m_root;
  std::unordered_set<std::string> m_dirs;
  std::string m_folder;
  int m_fd = -1;
};

std::string line(const Bytes& value) {
  return value + "\n";
}

std::string resources(const Device& d) {
  // 64-bit memory BAR, with prefetch; the low bits are the BAR type bits
  // lspci keeps (IORESOURCE_MEM | IORESOURCE_MEM_64 | IORESOURCE_SIZEALIGN).
  auto entry = [](std::uint64_t base, std::uint64_t size, bool prefetchable) {
    if (size == 0) return std::string("0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    const unsigned long long flags = 0x140204 | (prefetchable ? 0x2008 : 0);
    return format("0x%016llx 0x%016llx 0x%016llx\n", static_cast<unsigned long long>(base),
                  static_cast<unsigned long long>(base + size - 1), flags);
  };
  std::string text;
  for (unsigned slot = 0; slot < 6; ++slot) {
    const std::size_t bar = slot / 2;
    if (slot % 2 == 0 && bar < d.bars.size())
      text += entry(d.bars[bar].base, d.bars[bar].size, d.bars[bar].prefetchable);
    else
      text += entry(0, 0, false);
  }
  text += entry(0, 0, false);  // expansion ROM
  // The six SR-IOV BARs (CONFIG_PCI_IOV), then bridges' four windows.
  text += d.sriov ? entry(d.iov_base, d.sriov->vf_bar_size * d.sriov->total_vfs, false)
                  : entry(0, 0, false);
  for (int i = 0; i < 5; ++i) text += entry(0, 0, false);
  if (d.is_bridge())
    for (int i = 0; i < 4; ++i) text += entry(0, 0, false);
  return text;
}

std::string modalias(const Device& d) {
  return format("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d.vendor, d.device,
                d.subsystem_vendor, d.subsystem_device, d.class_code >> 16,
                (d.class_code >> 8) & 0xff, d.class_code & 0xff);
}

std::string dev_number(unsigned major, unsigned minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

// /proc's octal escapes for space, tab, newline and backslash in paths.
std::string mount_escape(const Bytes& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\')
      out += format("\\%03o", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

class TreeWriter {
 public:
  TreeWriter(const Host& host, const std::string& out_dir) : m_host(host), m_tree(out_dir) {}

  void write() {
    for (const char* d :
         {"sys/bus/pci/devices", "sys/bus/pci/drivers", "sys/kernel/iommu_groups", "sys/module",
          "sys/class/net", "sys/class/block", "sys/class/nvme", "sys/class/graphics", "sys/block",
          "sys/dev/block", "sys/dev/char", "sys/devices/virtual/block", "dev"})
      m_tree.dir(d);
    m_tree.file("sys/bus/pci/drivers_probe", "");
    m_tree.file("sys/bus/pci/drivers_autoprobe", "1\n");
    m_tree.file("sys/bus/pci/rescan", "");
    for (const Bytes& m : m_host.modules) {
      m_tree.dir("sys/module/" + m);
      m_tree.file("sys/module/" + m + "/initstate", "live\n");
    }
    // Loading vfio_pci registers the vfio-pci driver even with no device.
    std::set<Bytes> drivers(m_host.drivers.begin(), m_host.drivers.end());
    for (const Bytes& m : m_host.modules)
      if (m == "vfio_pci" || m == "vfio-pci") drivers.insert("vfio-pci");
    for (const Device& d : m_host.devices)
      if (!d.driver.empty()) drivers.insert(d.driver);
    for (const Bytes& name : drivers) driver(name);
    loopback();
    for (const Device& d : m_host.devices) device(d);
    for (const VirtualBlock& v : m_host.dm) virtual_block(v, true);
    for (const VirtualBlock& v : m_host.md) virtual_block(v, false);
    filesystems();
    proc();
    identity();
    dev();
  }

 private:
  void driver(const Bytes& name) {
    const std::string dir = "sys/bus/pci/drivers/" + name;
    m_tree.dir(dir);
    for (const char* f : {"bind", "unbind", "new_id", "remove_id"}) m_tree.file(dir + "/" + f, "");
    m_tree.file(dir + "/uevent", "");
    Bytes module = name;
    std::replace(module.begin(), module.end(), '-', '_');
    for (const Bytes& m : m_host.modules)
      if (m == module) m_tree.link(dir + "/module", "sys/module/" + m);
  }

  void device(const Device& d) {
    const std::string addr = d.address.str();
    const std::string dir = "sys/" + d.sysfs_path;
    m_tree.dir(dir);
    m_tree.file(dir + "/vendor", format("0x%04x\n", d.vendor));
    m_tree.file(dir + "/device", format("0x%04x\n", d.device));
    m_tree.file(dir + "/subsystem_vendor", format("0x%04x\n", d.subsystem_vendor));
    m_tree.file(dir + "/subsystem_device", format("0x%04x\n", d.subsystem_device));
    m_tree.file(dir + "/class", format("0x%06x\n", d.class_code));
    m_tree.file(dir + "/revision", format("0x%02x\n", d.revision));
    m_tree.file(dir + "/numa_node", format("%d\n", d.numa_node));
    m_tree.file(dir + "/irq", format("%u\n", d.irq));
    m_tree.file(dir + "/enable", d.driver.empty() ? "0\n" : "1\n");
    m_tree.file(dir + "/driver_override", "(null)\n");
    m_tree.file(dir + "/modalias", modalias(d) + "\n");
    std::string uevent;
    if (!d.driver.empty()) uevent += "DRIVER=" + d.driver + "\n";
    uevent += format("PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n", d.class_code,
                     d.vendor, d.device, d.subsystem_vendor, d.subsystem_device);
    uevent += "PCI_SLOT_NAME=" + addr + "\nMODALIAS=" + modalias(d) + "\n";
    m_tree.file(dir + "/uevent", uevent);
    m_tree.file(dir + "/resource", resources(d));
    if (!d.reset_method->empty())  // Linux hides the file when no method works
      m_tree.file(dir + "/reset_method", line(*d.reset_method));
    m_tree.file(dir + "/config", config_space(d));
    if (d.vpd_serial) m_tree.file(dir + "/vpd", vpd_image(d));
    if (d.slot) {
      // Every function of a slot shares its folder; the address has no function.
      m_tree.dir("sys/bus/pci/slots/" + *d.slot);
      m_tree.file("sys/bus/pci/slots/" + *d.slot + "/address",
                  format("%04x:%02x:%02x\n", d.address.domain, d.address.bus, d.address.slot));
    }
    m_tree.link("sys/bus/pci/devices/" + addr, dir);

    if (!d.driver.empty()) {
      m_tree.link(dir + "/driver", "sys/bus/pci/drivers/" + d.driver);
      m_tree.link("sys/bus/pci/drivers/" + d.driver + "/" + addr, dir);
    }
    if (d.iommu_group) {
      const std::string group = "sys/kernel/iommu_groups/" + std::to_string(*d.iommu_group);
      if (m_groups.insert(*d.iommu_group).second) {
        m_tree.dir(group + "/devices");
        m_tree.file(group + "/type", "DMA\n");
      }
      m_tree.link(group + "/devices/" + addr, dir);
      m_tree.link(dir + "/iommu_group", group);
    }
    if (d.sriov) {
      const Sriov& s = *d.sriov;
      m_tree.file(dir + "/sriov_totalvfs", format("%u\n", s.total_vfs));
      m_tree.file(dir + "/sriov_numvfs", format("%u\n", s.num_vfs));
      m_tree.file(dir + "/sriov_offset", format("%u\n", s.offset));
      m_tree.file(dir + "/sriov_stride", format("%u\n", s.stride));
      m_tree.file(dir + "/sriov_vf_device", format("%x\n", s.vf_device));
      m_tree.file(dir + "/sriov_drivers_autoprobe", "1\n");
      for (std::size_t i = 0; i < d.virtfns.size(); ++i)
        m_tree.link(dir + "/virtfn" + std::to_string(i),
                    parent_dir(dir) + "/" + d.virtfns[i].str());
    }
    if (d.physfn) m_tree.link(dir + "/physfn", parent_dir(dir) + "/" + d.physfn->str());
    if ((d.class_code >> 16) == 0x03) m_tree.file(dir + "/boot_vga", d.boot_vga ? "1\n" : "0\n");
    if (d.fb_index >= 0) {
      const std::string fb = dir + "/graphics/fb" + std::to_string(d.fb_index);
      m_tree.dir(fb);
      m_tree.link(fb + "/device", dir);
      m_tree.link("sys/class/graphics/fb" + std::to_string(d.fb_index), fb);
    }
    const std::string virtio =
        d.virtio_index >= 0 ? dir + "/virtio" + std::to_string(d.virtio_index) : "";
    if (!virtio.empty()) {
      m_tree.dir(virtio);
      m_tree.file(virtio + "/vendor", format("0x%04x\n", d.subsystem_vendor));
      m_tree.file(virtio + "/device",
                  format("0x%04x\n", d.device >= 0x1040 ? d.device - 0x1040 : d.subsystem_device));
    }
    for (const NvmeController& c : d.nvme) nvme(d, dir, c);
    for (const Disk& disk : d.block)
      block_disk(dir + "/" + (disk.subdir.empty() ? "" : disk.subdir + "/") + "block/" + disk.name,
                 disk);
    for (const NetInterface& n : d.net) net((virtio.empty() ? dir : virtio) + "/net/" + n.name, n);
    for (const auto& [name, value] : d.attributes)
      m_tree.file(dir + "/" + name, value.ends_with('\n') ? value : value + "\n");
  }

  static std::string parent_dir(const std::string& path) { return path.substr(0, path.rfind('/')); }

  void nvme(const Device& d, const std::string& dir, const NvmeController& c) {
    const std::string ctrl = dir + "/nvme/" + c.name;
    m_tree.dir(ctrl);
    m_tree.file(ctrl + "/model", line(c.model));
    m_tree.file(ctrl + "/firmware_rev", line(c.firmware));
    m_tree.file(ctrl + "/serial", line(c.serial));
    m_tree.file(ctrl + "/transport", "pcie\n");
    m_tree.file(ctrl + "/address", line(d.address.str()));
    m_tree.file(ctrl + "/state", "live\n");
    m_tree.link(ctrl + "/device", dir);
    m_tree.link("sys/class/nvme/" + c.name, ctrl);
    for (const Disk& ns : c.namespaces) block_disk(ctrl + "/" + ns.name, ns);
  }

  void block_disk(const std::string& path, const Disk& disk) {
    block_node(path, disk.name, disk.major, disk.minor, disk.size_sectors);
    m_tree.link("sys/block/" + disk.name, path);
    for (const Partition& p : disk.partitions) {
      const std::string part = path + "/" + p.name;
      block_node(part, p.name, p.major, p.minor, p.size_sectors);
      m_tree.file(part + "/partition", format("%u\n", p.number));
      m_tree.file(part + "/start", std::to_string(p.start) + "\n");
    }
  }

  void block_node(const std::string& path, const Bytes& name, unsigned major, unsigned minor,
                  std::uint64_t size) {
    m_tree.dir(path + "/holders");
    m_tree.dir(path + "/slaves");
    m_tree.file(path + "/dev", dev_number(major, minor) + "\n");
    m_tree.file(path + "/size", std::to_string(size) + "\n");
    m_tree.file(path + "/ro", "0\n");
    m_tree.file(path + "/uevent",
                format("MAJOR=%u\nMINOR=%u\n", major, minor) + "DEVNAME=" + name + "\n");
    m_tree.link("sys/class/block/" + name, path);
    m_tree.link("sys/dev/block/" + dev_number(major, minor), path);
    m_block_paths[name] = path;
  }

  void net(const std::string& path, const NetInterface& n) {
    m_tree.dir(path);
    m_tree.file(path + "/operstate", line(n.operstate));
    m_tree.file(path + "/address", line(n.mac));
    m_tree.file(path + "/addr_assign_type", format("%d\n", n.addr_assign_type));
    m_tree.file(path + "/carrier", format("%d\n", n.carrier));
    m_tree.file(path + "/ifindex", format("%d\n", n.ifindex));
    m_tree.file(path + "/type", "1\n");
    m_tree.file(path + "/mtu", "1500\n");
    m_tree.link(path + "/device", parent_dir(parent_dir(path)));
    m_tree.link("sys/class/net/" + n.name, path);
  }

  void loopback() {
    const std::string lo = "sys/devices/virtual/net/lo";
    m_tree.dir(lo);
    m_tree.file(lo + "/operstate", "unknown\n");
    m_tree.file(lo + "/address", "00:00:00:00:00:00\n");
    m_tree.file(lo + "/carrier", "1\n");
    m_tree.file(lo + "/ifindex", "1\n");
    m_tree.file(lo + "/type", "772\n");
    m_tree.file(lo + "/mtu", "65536\n");
    m_tree.link("sys/class/net/lo", lo);
  }

  void virtual_block(const VirtualBlock& v, bool dm) {
    const std::string path = "sys/devices/virtual/block/" + v.name;
    block_node(path, v.name, v.major, v.minor, v.size_sectors);
    m_tree.link("sys/block/" + v.name, path);
    if (dm) {
      m_tree.dir(path + "/dm");
      m_tree.file(path + "/dm/name", line(v.dm_name));
      m_tree.file(path + "/dm/uuid", line("LVM-simhost-" + v.dm_name));
      m_tree.file(path + "/dm/suspended", "0\n");
    } else {
      m_tree.dir(path + "/md");
      m_tree.file(path + "/md/array_state", "clean\n");
    }
    for (const Bytes& slave : v.slaves) {
      const std::string& slave_path = m_block_paths.at(slave);
      m_tree.link(path + "/slaves/" + slave, slave_path);
      m_tree.link(slave_path + "/holders/" + v.name, path);
    }
  }

  // btrfs lists the members of each mounted filesystem in sysfs; ZFS shows
  // an imported pool in /proc and its members only through udev's database.
  void filesystems() {
    for (const MemberSet& b : m_host.btrfs) {
      const std::string dir = "sys/fs/btrfs/" + b.name;
      m_tree.dir(dir + "/devices");
      m_tree.file(dir + "/label", "\n");
      for (const Bytes& name : b.devices) m_tree.link(dir + "/devices/" + name, m_block_paths.at(name));
    }
    if (!m_host.btrfs.empty()) m_tree.dir("sys/fs/btrfs/features");
    for (const MemberSet& z : m_host.zfs) {
      m_tree.dir("proc/spl/kstat/zfs/" + z.name);
      m_tree.file("proc/spl/kstat/zfs/" + z.name + "/state", "ONLINE\n");
      m_tree.dir("run/udev/data");
      for (const Bytes& name : z.devices) {
        m_tree.file("run/udev/data/b" + block_number(name),
                    "E:ID_FS_TYPE=zfs_member\nE:ID_FS_USAGE=raid\nE:ID_FS_LABEL=" + z.name +
                        "\nE:ID_FS_VERSION=5000\n");
      }
    }
  }

  std::string block_number(const Bytes& name) const {
    for (const Device& d : m_host.devices) {
      for (const NvmeController& c : d.nvme)
        for (const Disk& ns : c.namespaces)
          if (auto n = disk_number(ns, name); !n.empty()) return n;
      for (const Disk& disk : d.block)
        if (auto n = disk_number(disk, name); !n.empty()) return n;
    }
    for (const auto* list : {&m_host.dm, &m_host.md})
      for (const VirtualBlock& v : *list)
        if (v.name == name) return dev_number(v.major, v.minor);
    return "";
  }

  static std::string disk_number(const Disk& disk, const Bytes& name) {
    if (disk.name == name) return dev_number(disk.major, disk.minor);
    for (const Partition& p : disk.partitions)
      if (p.name == name) return dev_number(p.major, p.minor);
    return "";
  }

  void proc() {
    m_tree.dir("proc/self");
    m_tree.dir("proc/net");
    // The usual kernel filesystems follow the host's own mounts; virtual
    // filesystems get anonymous 0:N device numbers like on Linux.
    std::vector<Mount> all = m_host.mounts;
    for (const auto& [source, target, fstype] : {std::tuple{"proc", "/proc", "proc"},
                                                 {"sysfs", "/sys", "sysfs"},
                                                 {"udev", "/dev", "devtmpfs"},
                                                 {"tmpfs", "/run", "tmpfs"}}) {
      if (std::none_of(all.begin(), all.end(), [&](const Mount& m) { return m.target == target; }))
        all.push_back(Mount{source, target, fstype, "rw,nosuid,relatime", ""});
    }
    std::stable_partition(all.begin(), all.end(), [](const Mount& m) { return m.target == "/"; });
    std::string mountinfo, mounts;
    unsigned anonymous = 21;
    std::vector<std::pair<Bytes, unsigned>> ids;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const Mount& m = all[i];
      const unsigned id = 22 + static_cast<unsigned>(i);
      unsigned parent = 1;
      std::size_t best = 0;
      for (const auto& [target, pid] : ids) {
        const bool under = target == "/" || m.target.starts_with(target + "/");
        if (under && target.size() >= best) {
          best = target.size();
          parent = pid;
        }
      }
      ids.emplace_back(m.target, id);
      const std::string number = m.device.empty() || m.anonymous
                                     ? "0:" + std::to_string(anonymous++)
                                     : block_number(m.device);
      mountinfo += std::to_string(id) + " " + std::to_string(parent) + " " + number + " / " +
                   mount_escape(m.target) + " " + m.options + " shared:" + std::to_string(i + 1) +
                   " - " + mount_escape(m.fstype) + " " + mount_escape(m.source) + " rw\n";
      mounts += mount_escape(m.source) + " " + mount_escape(m.target) + " " +
                mount_escape(m.fstype) + " " + m.options + " 0 0\n";
    }
    m_tree.file("proc/self/mountinfo", mountinfo);
    m_tree.file("proc/self/mounts", mounts);
    m_tree.file("proc/mounts", mounts);

    // mm/swapfile.c's swap_show() layout.
    std::string swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
    for (const Swap& s : m_host.swaps) {
      const std::string name = mount_escape(s.source);
      const int pad = name.size() < 40 ? 40 - static_cast<int>(name.size()) : 1;
      swaps += name + std::string(static_cast<std::size_t>(pad), ' ') +
               (s.device.empty() ? "file\t\t" : "partition\t") + std::to_string(s.size_kib) + "\t" +
               (s.size_kib < 10000000 ? "\t" : "") + "0\t\t" + std::to_string(s.priority) + "\n";
    }
    m_tree.file("proc/swaps", swaps);

    // net/ipv4/fib_trie.c's /proc/net/route: lines padded to 127 columns,
    // addresses as the in-memory (network order) u32 printed in hex.
    auto pad = [](std::string text) {
      text.resize(std::max<std::size_t>(text.size(), 127), ' ');
      return text + "\n";
    };
    auto mask = [](unsigned prefix) { return prefix ? htonl(~0u << (32 - prefix)) : 0u; };
    std::string route =
        pad("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
    for (const Route& r : m_host.routes)
      route += pad(r.iface + format("\t%08X\t%08X\t%04X\t0\t0\t%u\t%08X\t0\t0\t0",
                                    r.destination & mask(r.prefix), r.gateway,
                                    r.gateway ? 0x3 : 0x1, r.metric, mask(r.prefix)));
    for (const Address& a : m_host.addresses) {
      if (a.v6) continue;
      std::uint32_t ip = 0;
      std::memcpy(&ip, a.bytes, 4);
      route += pad(a.iface + format("\t%08X\t%08X\t%04X\t0\t0\t%u\t%08X\t0\t0\t0",
                                    ip & mask(a.prefix), 0u, 0x1, 0u, mask(a.prefix)));
    }
    m_tree.file("proc/net/route", route);

    // net/ipv6/addrconf.c's if6_seq_show().
    std::string inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n";
    for (const Address& a : m_host.addresses) {
      if (!a.v6) continue;
      std::string hexaddr;
      for (unsigned char b : a.bytes) hexaddr += format("%02x", b);
      const unsigned scope = (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) ? 0x20 : 0x00;
      inet6 += hexaddr + format(" %02x %02x %02x %02x ", ifindex(a.iface), a.prefix, scope, 0x80u);
      inet6 += std::string(a.iface.size() < 8 ? 8 - a.iface.size() : 0, ' ') + a.iface + "\n";
    }
    m_tree.file("proc/net/if_inet6", inet6);

    m_tree.file("proc/cmdline", line(m_host.cmdline ? *m_host.cmdline : default_cmdline()));
  }

  // The host's identity, each file only when the description gives it.
  void identity() {
    if (m_host.hostname) {
      m_tree.dir("proc/sys/kernel");
      m_tree.file("proc/sys/kernel/hostname", line(*m_host.hostname));
    }
    if (m_host.machine_id) {
      m_tree.dir("etc");
      m_tree.file("etc/machine-id", line(*m_host.machine_id));
    }
    if (m_host.product_uuid) {
      m_tree.dir("sys/devices/virtual/dmi/id");
      m_tree.file("sys/devices/virtual/dmi/id/product_uuid", line(*m_host.product_uuid));
      m_tree.dir("sys/class/dmi");
      m_tree.link("sys/class/dmi/id", "sys/devices/virtual/dmi/id");
    }
  }

  unsigned ifindex(const Bytes& name) const {
    for (const Device& d : m_host.devices)
      for (const NetInterface& n : d.net)
        if (n.name == name) return static_cast<unsigned>(n.ifindex);
    return 1;  // lo
  }

  std::string default_cmdline() const {
    std::string root = "/dev/sda1";
    for (const Mount& m : m_host.mounts)
      if (m.target == "/") root = m.source;
    return "BOOT_IMAGE=/vmlinuz root=" + root + " ro quiet" +
           (m_host.iommu ? " intel_iommu=on iommu=pt" : "");
  }

  // /dev/vfio/vfio exists once vfio is loaded; /dev/vfio/N for each group
  // a device is bound to vfio-pci in.
  void dev() {
    if (!m_host.vfio) return;
    m_tree.dir("dev/vfio");
    m_tree.file("dev/vfio/vfio", "");
    for (const Device& d : m_host.devices)
      if (d.driver == "vfio-pci" && d.iommu_group)
        m_tree.file("dev/vfio/" + std::to_string(*d.iommu_group), "");
  }

  const Host& m_host;
  Tree m_tree;
  std::set<unsigned> m_groups;
  std::map<Bytes, std::string> m_block_paths;
};

}  // namespace

void write_tree(const Host& host, const std::string& out_dir) {
  TreeWriter(host, out_dir).write();
}

}  // namespace pcipass::simhost
