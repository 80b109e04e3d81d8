#pragma once

// A simulated Linux kernel for tests: a Sysfs over a private copy of a
// simulated host tree that reacts to writes the way Linux's PCI core does,
// so binding and releasing are tested by what happens to the tree, not by
// which writes were recorded.
//
//  - `devices/.../ADDR/driver_override`: stores the driver name up to the
//    first newline; an empty value ("" or "\n") clears it (reads "(null)").
//  - `bus/pci/drivers/X/unbind` with an address: removes the device's
//    `driver` link and the driver's link to the device (ENODEV when the
//    device is not bound to X), and what the driver made below the device
//    (`nvme/` with the controller's serial, `net/`) until its native driver
//    binds it again.
//  - `bus/pci/drivers/X/bind` with an address: binds when X matches the
//    device (its driver_override, else its native driver); EBUSY when bound,
//    ENODEV when X does not match.
//  - `bus/pci/drivers_probe` with an address: binds an unbound device to its
//    driver_override driver if set, else to its native driver, when that
//    driver is registered; otherwise it stays unbound (the write succeeds).
//  - vfio-pci refuses bridges (EINVAL), exists only while module vfio_pci is
//    loaded, and binding to it makes `dev/vfio/N` appear (N: IOMMU group);
//    the last vfio-pci device of a group leaving removes it.
//  - `devices/.../PF/sriov_numvfs` with a count: as Linux's
//    sriov_numvfs_store(): ENOENT when the PF has no driver, ERANGE above
//    sriov_totalvfs, EBUSY from one non-zero count to another; 0 removes the
//    PF's VFs (their folders, bus/pci/devices and driver links, virtfnN links
//    and IOMMU group entries; a group left empty goes too); a count re-creates
//    that many of the VFs the generated host had, fresh (no driver_override),
//    probed to their driver. More VFs than the generated host made is a test
//    error (std::logic_error): the simulation cannot invent their folders.
//  - any other attribute just stores the written bytes.
//
// Calls may come from several threads at once (the executor binds IOMMU
// groups concurrently): one mutex serialises them, except the modelled
// time a driver takes to let a device go (set_unbind_time), which is spent
// outside it, as the kernel holds only that device's lock meanwhile.

#include <pcipass/host/sysfs.hpp>

#include "support/fault_injector.hpp"
#include "support/sim_host.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::test {

// Thrown by a CrashSwitch to stop a run dead at a chosen step, like kill -9:
// nothing in pcipass catches it (it is not a std::exception).
struct SimulatedCrash {
  std::string step;  // what was about to happen
};

// Counts the side effects of a run (sysfs writes, file writes, module loads)
// and, once armed with `arm(k)`, lets k of them through and throws
// SimulatedCrash instead of performing the next one.
class CrashSwitch {
 public:
  void arm(int steps_allowed) { m_remaining = steps_allowed; }
  void disarm() { m_remaining.reset(); }
  // Called before each side effect named `step`.
  void step(const std::string& what);
  [[nodiscard]] int count() const { return m_count; }

 private:
  std::optional<int> m_remaining;
  int m_count = 0;
  std::mutex m_mutex;  // binds of several groups run in threads
};

class SimulatedKernel final : public host::Sysfs {
 public:
  // Copies the generated host `host_name` (sim_host()) into a fresh
  // temporary folder; the shared tree is never written. Devices' native
  // drivers are the drivers they are bound to in the copy (vfio-pci excepted).
  explicit SimulatedKernel(const std::string& host_name);

  // A reboot: sys/, proc/ and dev/ are copied afresh from the generated host,
  // so every device is back on its boot driver, driver_override is cleared,
  // sysfs modes are the kernel's and modules are as at boot. Everything else
  // under root() (etc/, var/lib/pcipass) stays, as on a disk. Writes, native
  // driver changes and injected failures are forgotten.
  void reboot();
  // A reboot into another generated host: the same disk (etc/, var/) with
  // the hardware of `host_name`, e.g. identical drives that swapped places.
  void reboot_into(const std::string& host_name);

  // Root of the copy (holding sys/, proc/, dev/).
  [[nodiscard]] const std::filesystem::path& root() const { return m_dir.path(); }
  [[nodiscard]] std::filesystem::path sys_root() const { return root() / "sys"; }
  [[nodiscard]] std::filesystem::path dev_root() const { return root() / "dev"; }
  // A read-only view of dev/, for the executor's /dev/vfio checks.
  [[nodiscard]] host::Sysfs& dev() { return m_dev; }

  core::Result<std::string> read(std::string_view path,
                                 std::size_t max_bytes = k_unlimited) const override;
  core::Result<std::vector<std::string>> list(std::string_view path) const override;
  core::Result<std::string> read_link(std::string_view path) const override;
  bool exists(std::string_view path) const override;
  core::Status write(std::string_view path, std::string_view bytes) override;
  std::string display_path(std::string_view path) const override;

  // What modprobe would do: marks module `name` live and, for vfio_pci,
  // registers the vfio-pci driver (and dev/vfio/vfio), which then binds the
  // unbound devices whose driver_override names it.
  core::Status load_module(std::string_view name);

  // Writes to `path` (exactly as the caller spells it) fail with `error`.
  void fail_write(const std::string& path, int error) { m_write_failures[path] = error; }
  void clear_failures() { m_write_failures.clear(); }
  // Every side effect asks `crash` first (nullptr: never crash).
  void set_crash_switch(CrashSwitch* crash) { m_crash = crash; }
  // Every write asks `faults` whether to fail (nullptr: never).
  void set_fault_injector(FaultInjector* faults) { m_faults = faults; }

  // The driver `address` is bound to now ("" when none).
  [[nodiscard]] std::string driver_of(const std::string& address) const;
  // The driver_override of `address` ("" when unset).
  [[nodiscard]] std::string override_of(const std::string& address) const;
  // Sets the native driver of `address` (what drivers_probe binds without override).
  void set_native_driver(const std::string& address, const std::string& driver);
  // Replaces the vendor and device ids at `address`, as if another card sat there.
  void set_ids(const std::string& address, std::uint16_t vendor, std::uint16_t device);
  // Unbinding a device from `driver` takes `time` (an NVMe controller's
  // shutdown), spent before the unbind happens, outside the mutex.
  void set_unbind_time(const std::string& driver, std::chrono::milliseconds time) {
    m_unbind_times[driver] = time;
  }
  // Every unbind first waits (outside the mutex, at most 5 s) until `count`
  // unbinds have arrived: a test proves unbinds overlap without timing them.
  void set_unbind_barrier(unsigned count) { m_unbind_barrier = count; }
  // Called with the device's address while its unbind waits, outside the
  // mutex: a test changes the host meanwhile (a card swapped in).
  void set_unbind_hook(std::function<void(const std::string&)> hook) {
    m_unbind_hook = std::move(hook);
  }
  // The most unbinds that were waiting at once (set_unbind_time,
  // set_unbind_barrier, set_unbind_hook; 0 without any of them).
  [[nodiscard]] unsigned most_unbinds_at_once() const {
    const std::lock_guard lock(m_mutex);
    return m_most_unbinds;
  }
  // Every write made, as "path <- bytes", in order.
  [[nodiscard]] const std::vector<std::string>& writes() const { return m_writes; }

 private:
  int bind(const std::string& address, const std::string& driver);
  int unbind(const std::string& address, const std::string& driver);
  int probe(const std::string& address);
  void register_driver(const std::string& driver);
  [[nodiscard]] std::optional<unsigned> group_of(const std::string& address) const;
  [[nodiscard]] bool is_bridge(const std::string& address) const;
  void refresh_vfio_node(unsigned group);
  int set_vf_count(const std::string& pf, std::string_view bytes);
  void remove_vfs(const std::string& pf);
  void create_vfs(const std::string& pf, unsigned count);
  void boot();
  // Where the children of an unbound device's driver wait for it (outside sys/).
  [[nodiscard]] std::filesystem::path unbound_dir(const std::string& address) const;
  // What a driver adds below its device while it holds it.
  static constexpr const char* k_driver_children[] = {"nvme", "net"};

  std::string m_host_name;
  TempDir m_dir;
  host::RealSysfs m_real;
  host::RealSysfs m_dev;
  std::map<std::string, std::string> m_device_dirs;  // address -> devices/... (relative to sys)
  std::map<std::string, std::string> m_native;       // address -> native driver
  std::map<std::string, int, std::less<>> m_write_failures;
  // A removed VF: where it lived and the links that named it, so that
  // re-creating it puts back exactly what the generated host had.
  struct RemovedVf {
    std::string address;
    std::string dir;     // devices/... relative to sys
    std::string native;  // its driver at boot
    std::vector<std::pair<std::string, std::string>> links;  // path -> target, relative to sys
    std::string group_dir;  // kernel/iommu_groups/N when the VF was its only member
  };
  std::map<std::string, std::vector<RemovedVf>> m_removed_vfs;  // PF address -> its VFs, in order
  std::vector<std::string> m_writes;
  std::map<std::string, std::chrono::milliseconds> m_unbind_times;
  unsigned m_unbinds_now = 0;
  unsigned m_most_unbinds = 0;
  unsigned m_unbind_barrier = 0;
  unsigned m_unbinds_arrived = 0;  // guarded by m_barrier_mutex
  std::mutex m_barrier_mutex;
  std::condition_variable m_barrier;
  std::function<void(const std::string&)> m_unbind_hook;
  mutable std::recursive_mutex m_mutex;
  CrashSwitch* m_crash = nullptr;
  FaultInjector* m_faults = nullptr;
};

// Every file, folder and link under `root` with its content or target, one
// per line, sorted: compare two snapshots to prove nothing changed.
std::string snapshot_tree(const std::filesystem::path& root);

}  // namespace pcipass::test
