#include "support/simulated_kernel.hpp"

#include <pcipass/core/text.hpp>

#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <stdexcept>

namespace pcipass::test {
namespace fs = std::filesystem;

namespace {

std::string basename_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// "../" once per component of `dir`: from inside `dir` back to the sys root.
std::string up_to_root(const std::string& dir) {
  std::string up;
  up += "../";
  for (char c : dir) {
    if (c == '/') up += "../";
  }
  return up;
}

void write_plain(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("simulated kernel: cannot write " + path.string());
}

// The kernel compares names with sysfs_streq(): one trailing newline is fine.
std::string strip_newline(std::string_view bytes) {
  if (bytes.ends_with('\n')) bytes.remove_suffix(1);
  return std::string(bytes);
}

}  // namespace

void CrashSwitch::step(const std::string& what) {
  const std::lock_guard lock(m_mutex);
  ++m_count;
  if (!m_remaining) return;
  if (*m_remaining == 0) {
    m_remaining.reset();
    throw SimulatedCrash{what};
  }
  --*m_remaining;
}

SimulatedKernel::SimulatedKernel(const std::string& host_name)
    : m_host_name(host_name), m_real(m_dir.path() / "sys"), m_dev(m_dir.path() / "dev") {
  boot();
}

void SimulatedKernel::reboot() {
  for (const char* part : {"sys", "proc", "dev", ".unbound", ".vfs"})
    fs::remove_all(m_dir.path() / part);
  m_device_dirs.clear();
  m_removed_vfs.clear();
  m_native.clear();
  m_write_failures.clear();
  m_writes.clear();
  boot();
}

fs::path SimulatedKernel::unbound_dir(const std::string& address) const {
  return m_dir.path() / ".unbound" / address;
}

void SimulatedKernel::reboot_into(const std::string& host_name) {
  m_host_name = host_name;
  reboot();
}

void SimulatedKernel::boot() {
  const fs::path source = sim_host(m_host_name);
  for (const char* part : {"sys", "proc", "dev"}) {
    if (fs::exists(source / part)) {
      fs::copy(source / part, m_dir.path() / part,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
  }
  fs::create_directories(m_dir.path() / "dev");
  auto addresses = m_real.list("bus/pci/devices");
  if (!addresses) throw std::runtime_error(addresses.error().message);
  for (const std::string& address : *addresses) {
    auto target = m_real.read_link("bus/pci/devices/" + address);
    if (!target) throw std::runtime_error(target.error().message);
    m_device_dirs[address] = host::resolve_link("bus/pci/devices", *target);
    const std::string driver = driver_of(address);
    if (driver != "vfio-pci") m_native[address] = driver;
  }
}

core::Result<std::string> SimulatedKernel::read(std::string_view path,
                                                std::size_t max_bytes) const {
  const std::lock_guard lock(m_mutex);
  return m_real.read(path, max_bytes);
}
core::Result<std::vector<std::string>> SimulatedKernel::list(std::string_view path) const {
  const std::lock_guard lock(m_mutex);
  return m_real.list(path);
}
core::Result<std::string> SimulatedKernel::read_link(std::string_view path) const {
  const std::lock_guard lock(m_mutex);
  return m_real.read_link(path);
}
bool SimulatedKernel::exists(std::string_view path) const {
  const std::lock_guard lock(m_mutex);
  return m_real.exists(path);
}
std::string SimulatedKernel::display_path(std::string_view path) const {
  return m_real.display_path(path);
}

core::Status SimulatedKernel::write(std::string_view path, std::string_view bytes) {
  if ((!m_unbind_times.empty() || m_unbind_barrier > 0 || m_unbind_hook) &&
      basename_of(path) == "unbind") {
    // The driver's time to let the device go, outside the mutex.
    std::chrono::milliseconds time{0};
    {
      const std::lock_guard lock(m_mutex);
      std::error_code ec;
      const fs::path full = fs::canonical(sys_root() / std::string(path), ec);
      if (!ec) {
        const auto it = m_unbind_times.find(basename_of(full.parent_path().string()));
        if (it != m_unbind_times.end()) time = it->second;
      }
      m_most_unbinds = std::max(m_most_unbinds, ++m_unbinds_now);
    }
    if (m_unbind_barrier > 0) {
      std::unique_lock lock(m_barrier_mutex);
      ++m_unbinds_arrived;
      m_barrier.notify_all();
      m_barrier.wait_for(lock, std::chrono::seconds(5),
                         [&] { return m_unbinds_arrived >= m_unbind_barrier; });
    }
    if (m_unbind_hook) m_unbind_hook(strip_newline(bytes));
    std::this_thread::sleep_for(time);
    const std::lock_guard lock(m_mutex);
    --m_unbinds_now;
  }
  const std::lock_guard lock(m_mutex);
  const std::string shown = display_path(path);
  if (m_crash != nullptr) m_crash->step("write " + std::string(path));
  auto failed = [&](int error) {
    return core::fail("writing " + shown + ": " + std::strerror(error), core::ExitCode::host_error);
  };
  if (auto it = m_write_failures.find(path); it != m_write_failures.end())
    return failed(it->second);
  if (m_faults != nullptr) {
    if (const int error = m_faults->step("sysfs-write", shown); error != 0) return failed(error);
  }

  std::error_code ec;
  const fs::path full = fs::canonical(sys_root() / std::string(path), ec);
  if (ec) return failed(ENOENT);
  const std::string rel = full.lexically_relative(fs::canonical(sys_root())).string();
  if (rel.empty() || rel.starts_with("..") || !fs::is_regular_file(full)) return failed(EISDIR);
  m_writes.push_back(std::string(path) + " <- " + std::string(bytes));

  int error = 0;
  const std::string name = basename_of(rel);
  const std::string parent = fs::path(rel).parent_path().string();
  if (rel == "bus/pci/drivers_probe") {
    error = probe(strip_newline(bytes));
  } else if (parent.starts_with("bus/pci/drivers/") && (name == "bind" || name == "unbind")) {
    const std::string driver = basename_of(parent);
    error =
        name == "bind" ? bind(strip_newline(bytes), driver) : unbind(strip_newline(bytes), driver);
  } else if (name == "sriov_numvfs") {
    error = set_vf_count(basename_of(parent), bytes);
  } else if (name == "driver_override") {
    // Everything up to the first newline; empty clears (the kernel shows "(null)").
    std::string value(bytes.substr(0, bytes.find('\n')));
    write_plain(full, value.empty() ? "(null)\n" : value + "\n");
  } else {
    write_plain(full, bytes);
  }
  if (error != 0) return failed(error);
  return core::ok();
}

core::Status SimulatedKernel::load_module(std::string_view name) {
  const std::lock_guard lock(m_mutex);
  if (m_crash != nullptr) m_crash->step("modprobe " + std::string(name));
  std::string module(name);
  std::replace(module.begin(), module.end(), '-', '_');
  std::vector<std::string> modules{module};
  if (module == "vfio_pci") modules = {"vfio", "vfio_iommu_type1", "vfio_pci_core", "vfio_pci"};
  for (const std::string& m : modules) {
    fs::create_directories(sys_root() / "module" / m);
    write_plain(sys_root() / "module" / m / "initstate", "live\n");
  }
  if (module == "vfio_pci") {
    fs::create_directories(dev_root() / "vfio");
    if (!fs::exists(dev_root() / "vfio/vfio")) write_plain(dev_root() / "vfio/vfio", "");
    register_driver("vfio-pci");
  }
  return core::ok();
}

void SimulatedKernel::register_driver(const std::string& driver) {
  const fs::path dir = sys_root() / "bus/pci/drivers" / driver;
  if (fs::exists(dir)) return;
  fs::create_directories(dir);
  for (const char* file : {"bind", "unbind", "new_id", "remove_id", "uevent"})
    write_plain(dir / file, "");
  std::string module = driver;
  std::replace(module.begin(), module.end(), '-', '_');
  fs::create_symlink("../../../../module/" + module, dir / "module");
  // A driver that registers probes every device still without a driver.
  for (const auto& [address, device_dir] : m_device_dirs) {
    if (driver_of(address).empty()) (void)probe(address);
  }
}

std::string SimulatedKernel::driver_of(const std::string& address) const {
  auto it = m_device_dirs.find(address);
  if (it == m_device_dirs.end()) return {};
  auto target = m_real.read_link(it->second + "/driver");
  return target ? basename_of(*target) : std::string();
}

std::string SimulatedKernel::override_of(const std::string& address) const {
  auto it = m_device_dirs.find(address);
  if (it == m_device_dirs.end()) return {};
  auto text = m_real.read(it->second + "/driver_override");
  if (!text) return {};
  const std::string value(core::trim(*text));
  return value == "(null)" ? std::string() : value;
}

void SimulatedKernel::set_native_driver(const std::string& address, const std::string& driver) {
  m_native[address] = driver;
}

void SimulatedKernel::set_ids(const std::string& address, std::uint16_t vendor,
                              std::uint16_t device) {
  const std::lock_guard lock(m_mutex);
  const fs::path dir = sys_root() / m_device_dirs.at(address);
  write_plain(dir / "vendor", core::hex(vendor, 4) + "\n");
  write_plain(dir / "device", core::hex(device, 4) + "\n");
  // Config space holds the same ids in its first four bytes, little-endian.
  std::fstream config(dir / "config", std::ios::binary | std::ios::in | std::ios::out);
  const char bytes[4] = {static_cast<char>(vendor & 0xff), static_cast<char>(vendor >> 8),
                         static_cast<char>(device & 0xff), static_cast<char>(device >> 8)};
  config.write(bytes, 4);
}

std::optional<unsigned> SimulatedKernel::group_of(const std::string& address) const {
  auto target = m_real.read_link(m_device_dirs.at(address) + "/iommu_group");
  if (!target) return std::nullopt;
  auto number = core::parse_decimal(basename_of(*target));
  if (!number) return std::nullopt;
  return static_cast<unsigned>(*number);
}

bool SimulatedKernel::is_bridge(const std::string& address) const {
  auto text = m_real.read(m_device_dirs.at(address) + "/class");
  if (!text) return false;
  auto code = core::parse_hex(core::trim(*text));
  return code && (*code >> 8) == 0x0604;
}

int SimulatedKernel::bind(const std::string& address, const std::string& driver) {
  auto it = m_device_dirs.find(address);
  if (it == m_device_dirs.end()) return ENODEV;
  if (!driver_of(address).empty()) return EBUSY;
  const std::string override_driver = override_of(address);
  const std::string wanted = override_driver.empty() ? m_native[address] : override_driver;
  if (wanted != driver) return ENODEV;
  if (driver == "vfio-pci" && is_bridge(address)) return EINVAL;  // vfio-pci takes endpoints only
  const std::string& dir = it->second;
  const std::string driver_dir = "bus/pci/drivers/" + driver;
  fs::create_symlink(up_to_root(dir) + driver_dir, sys_root() / dir / "driver");
  fs::create_symlink(up_to_root(driver_dir) + dir, sys_root() / driver_dir / address);
  if (driver == m_native[address]) {
    for (const char* child : k_driver_children) {
      const fs::path kept = unbound_dir(address) / child;
      if (fs::exists(kept)) fs::rename(kept, sys_root() / dir / child);
    }
  }
  if (driver == "vfio-pci") {
    if (auto group = group_of(address)) refresh_vfio_node(*group);
  }
  return 0;
}

int SimulatedKernel::unbind(const std::string& address, const std::string& driver) {
  auto it = m_device_dirs.find(address);
  if (it == m_device_dirs.end() || driver_of(address) != driver) return ENODEV;
  fs::remove(sys_root() / it->second / "driver");
  fs::remove(sys_root() / "bus/pci/drivers" / driver / address);
  // The driver's children go with it: an NVMe controller (and its serial)
  // or a network interface exists only while its driver holds the device.
  for (const char* child : k_driver_children) {
    const fs::path from = sys_root() / it->second / child;
    if (!fs::exists(from)) continue;
    const fs::path to = unbound_dir(address) / child;
    fs::create_directories(to.parent_path());
    fs::rename(from, to);
  }
  if (driver == "vfio-pci") {
    if (auto group = group_of(address)) refresh_vfio_node(*group);
  }
  return 0;
}

int SimulatedKernel::probe(const std::string& address) {
  if (!m_device_dirs.contains(address)) return ENODEV;
  if (!driver_of(address).empty()) return 0;
  const std::string override_driver = override_of(address);
  const std::string wanted = override_driver.empty() ? m_native[address] : override_driver;
  if (wanted.empty() || !fs::exists(sys_root() / "bus/pci/drivers" / wanted)) return 0;
  (void)bind(address, wanted);  // a failing probe leaves the device unbound; the write succeeds
  return 0;
}

int SimulatedKernel::set_vf_count(const std::string& pf, std::string_view bytes) {
  if (!m_device_dirs.contains(pf)) return ENODEV;
  const std::string dir = m_device_dirs.at(pf);
  // Plain numbers (-1: unreadable), which GCC's optional analysis trusts.
  const auto number = [](std::string_view text) -> std::int64_t {
    return core::parse_decimal(core::trim(text)).value_or(-1);
  };
  const auto attribute = [&](const char* name) -> std::int64_t {
    auto text = m_real.read(dir + "/" + name);
    return text ? number(*text) : -1;
  };
  const std::int64_t count = number(bytes);
  const std::int64_t total = attribute("sriov_totalvfs");
  const std::int64_t now = attribute("sriov_numvfs");
  if (count < 0 || total < 0 || now < 0) return EINVAL;
  if (driver_of(pf).empty()) return ENOENT;  // "no driver bound to device; cannot configure SR-IOV"
  if (count > total) return ERANGE;
  if (count == now) return 0;
  if (now != 0 && count != 0) return EBUSY;  // "N VFs already enabled. Disable before enabling M"
  if (count == 0)
    remove_vfs(pf);
  else
    create_vfs(pf, static_cast<unsigned>(count));
  write_plain(sys_root() / dir / "sriov_numvfs", std::to_string(count) + "\n");
  return 0;
}

void SimulatedKernel::remove_vfs(const std::string& pf) {
  const std::string pf_dir = m_device_dirs.at(pf);
  auto entries = m_real.list(pf_dir);
  if (!entries) return;
  std::vector<std::pair<unsigned, std::string>> virtfns;  // index -> link name
  for (const std::string& entry : *entries) {
    if (!entry.starts_with("virtfn")) continue;
    if (auto index = core::parse_decimal(entry.substr(6))) virtfns.emplace_back(*index, entry);
  }
  std::sort(virtfns.begin(), virtfns.end());
  std::vector<RemovedVf> removed;
  std::set<unsigned> groups;
  for (const auto& [index, link] : virtfns) {
    const std::string target = m_real.read_link(pf_dir + "/" + link).value_or_throw();
    const std::string address = basename_of(target);
    RemovedVf vf{address, m_device_dirs.at(address), m_native[address], {}, {}};
    const std::string driver = driver_of(address);
    if (!driver.empty()) (void)unbind(address, driver);
    const auto group = group_of(address);
    std::vector<std::string> named = {pf_dir + "/" + link, "bus/pci/devices/" + address};
    if (group) named.push_back("kernel/iommu_groups/" + std::to_string(*group) + "/devices/" + address);
    for (const std::string& path : named) {
      vf.links.emplace_back(path, m_real.read_link(path).value_or_throw());
      fs::remove(sys_root() / path);
    }
    if (group) {
      groups.insert(*group);
      const std::string group_dir = "kernel/iommu_groups/" + std::to_string(*group);
      if (fs::is_empty(sys_root() / group_dir / "devices")) {
        vf.group_dir = group_dir;
        const fs::path kept = m_dir.path() / ".vfs" / group_dir;
        fs::create_directories(kept.parent_path());
        fs::rename(sys_root() / group_dir, kept);
      }
    }
    const fs::path kept = m_dir.path() / ".vfs" / vf.dir;
    fs::create_directories(kept.parent_path());
    fs::rename(sys_root() / vf.dir, kept);
    m_device_dirs.erase(address);
    m_native.erase(address);
    removed.push_back(std::move(vf));
  }
  for (const unsigned group : groups) refresh_vfio_node(group);
  // Keep the VFs in index order, after any the PF had removed before.
  auto& all = m_removed_vfs[pf];
  all.insert(all.begin(), removed.begin(), removed.end());
}

void SimulatedKernel::create_vfs(const std::string& pf, unsigned count) {
  auto& removed = m_removed_vfs[pf];
  if (count > removed.size()) {
    throw std::logic_error("simulated kernel: " + pf + " can re-create only the " +
                           std::to_string(removed.size()) +
                           " VFs the generated host had, not " + std::to_string(count));
  }
  for (unsigned i = 0; i < count; ++i) {
    const RemovedVf& vf = removed[i];
    fs::rename(m_dir.path() / ".vfs" / vf.dir, sys_root() / vf.dir);
    if (!vf.group_dir.empty()) fs::rename(m_dir.path() / ".vfs" / vf.group_dir, sys_root() / vf.group_dir);
    for (const auto& [path, target] : vf.links) fs::create_symlink(target, sys_root() / path);
    write_plain(sys_root() / vf.dir / "driver_override", "(null)\n");  // a fresh device
    m_device_dirs[vf.address] = vf.dir;
    m_native[vf.address] = vf.native;
  }
  std::vector<RemovedVf> created(removed.begin(), removed.begin() + count);
  removed.erase(removed.begin(), removed.begin() + count);
  for (const RemovedVf& vf : created) (void)probe(vf.address);  // sriov_drivers_autoprobe
}

void SimulatedKernel::refresh_vfio_node(unsigned group) {
  bool any = false;
  for (const auto& [address, dir] : m_device_dirs) {
    if (group_of(address) == group && driver_of(address) == "vfio-pci") any = true;
  }
  const fs::path node = dev_root() / "vfio" / std::to_string(group);
  if (any && !fs::exists(node)) {
    fs::create_directories(node.parent_path());
    write_plain(node, "");
    fs::permissions(node,
                    fs::perms::owner_read | fs::perms::owner_write);  // udev's default: 0600 root
  } else if (!any) {
    fs::remove(node);
  }
}

std::string snapshot_tree(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& p = it->path();
    std::string line = p.lexically_relative(root).string();
    struct stat st {};
    ::lstat(p.c_str(), &st);
    line += " mode=" + std::to_string(st.st_mode & 07777);
    if (it->is_symlink()) {
      line += " -> " + fs::read_symlink(p).string();
    } else if (it->is_regular_file()) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      line += " = " + content.str();
    }
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

}  // namespace pcipass::test
