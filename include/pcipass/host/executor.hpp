#pragma once

// Performs actions (core/actions.hpp) on a host, or only shows them: each
// action is re-checked against the device (vendor:device, driver) just
// before it is made, recorded in the journal as pending before its first
// side effect and as done after its result was verified.

#include <pcipass/core/actions.hpp>
#include <pcipass/host/dry_run.hpp>
#include <pcipass/host/journal.hpp>
#include <pcipass/host/node_devices.hpp>
#include <pcipass/host/os.hpp>
#include <pcipass/host/sysfs.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <vector>

namespace pcipass::host {

// One side effect of an action: a sysfs write, a module load, a file
// written or re-permissioned, with the path a person would look at.
struct Operation {
  // "sysfs-write", "modprobe", "write-file", "set-permissions", "libvirt-call"
  std::string kind;
  std::string target;  // full path, the module name, or the node device (pci_0000_02_00_0)
  std::string value;   // the bytes written, "mode 0640 group kvm", or the call and its URI
  // `write "vfio-pci" to /sys/bus/pci/devices/0000:02:00.0/driver_override`.
  [[nodiscard]] std::string line() const;
  [[nodiscard]] nlohmann::json to_json() const;
};

// The side effects of `action`, in order, with paths as `sys` shows them.
std::vector<Operation> operations_of(const core::Action& action, const Sysfs& sys);

// What Executor::run does after an action fails.
enum class KeepGoing {
  no,  // stop there (bind, release, permissions: the person running it is watching)
  // Go on with the actions that do not need the failed one (restore at boot:
  // one device that fails must not keep the others from their guests). A
  // failed module load or journal write still stops the run; the mode of
  // /dev/vfio/N is not attempted when the bind that creates it failed.
  yes,
};

// The most IOMMU groups the commands bind at the same time (see
// Executor::set_concurrent_binds): an unbind can take the driver seconds
// (an NVMe controller's shutdown), and a server binds dozens of them.
inline constexpr unsigned k_concurrent_binds = 64;

class Executor {
 public:
  // Called before each action is performed (or, in a dry run, instead).
  using Observer = std::function<void(const core::Action&, const std::vector<Operation>&)>;

  // `sys` is written, `dev` only checked (/dev/vfio/N), `os` does modules and
  // files, `journal` records every action (it may be null only for DryRun::yes).
  // `roots` are the only folders file actions may name (core::check_confined).
  Executor(Sysfs& sys, const Sysfs& dev, Os& os, Journal* journal, DryRun dry_run,
           std::vector<std::string> roots);

  void set_observer(Observer observer) { m_observer = std::move(observer); }
  void set_keep_going(KeepGoing keep_going) { m_keep_going = keep_going; }
  // The host actions with a `through` URI are made on; without it (or for
  // another URI) such an action fails and changes nothing.
  void set_node_devices(NodeDevices* node_devices) { m_node_devices = node_devices; }
  // Consecutive binds on this machine's sysfs of several IOMMU groups are
  // made by up to `groups` threads at once, one group per thread, the
  // functions of a group in order (1, the default: one after the other).
  // Each is shown and checked first, in plan order; then the entries of
  // the groups that start together are journaled in one save before any
  // sysfs write, and each function is checked again just before its own
  // writes. After a failure (KeepGoing::no) no further function starts;
  // the ones journaled and not started are marked failed, "not attempted".
  // The failures come back together, in plan order.
  void set_concurrent_binds(unsigned groups) { m_concurrent_binds = groups == 0 ? 1 : groups; }

  // Checks that every action stays within the roots (else nothing is done and
  // the refusal lists each one), then performs `actions` in order and stops
  // at the first failure (see
  // KeepGoing), which is recorded in the journal. Errors name the device,
  // the path and the OS reason; a device whose ids, serials or driver
  // changed since planning is left untouched with ExitCode::refused. Several failures
  // come back as one error, a line each, with the first one's exit code.
  [[nodiscard]] core::Status run(const std::vector<core::Action>& actions);

 private:
  core::Status perform(const core::Action& action);
  // The binds actions[first, last), local and of several IOMMU groups,
  // made concurrently (executor_binds.cpp). Failures are appended to
  // `failures` in plan order and the failed binds' groups to
  // `failed_groups`; false when the run must stop there.
  bool perform_binds(const std::vector<core::Action>& actions, std::size_t first,
                     std::size_t last, std::vector<core::Error>& failures,
                     std::vector<std::pair<unsigned, std::string>>& failed_groups);
  static std::string bind_context(const core::BindToVfio& bind);
  // What must hold before a local bind: ids, driver and serials as planned.
  core::Status check_bind(const core::BindToVfio& bind) const;
  // A local bind's sysfs writes and their verification (driver, /dev/vfio/N).
  // Called from several threads: every Sysfs is safe for that.
  core::Status bind_effects(const core::BindToVfio& bind, const std::string& context);
  // The serials recorded for the device at `address` (a bind's, a VF count's
  // PF's) against what is there now; a VF's come from its PF. `verb` begins
  // the message ("binding").
  core::Status check_identity(const core::PciAddress& address, const core::DeviceIdentity& recorded,
                              const char* verb) const;
  core::Status check_device(const core::PciAddress& address, const core::DeviceIds& expected,
                            const std::string& planned_driver, const char* verb) const;
  // The same checks for a device on the host libvirt at `through` reaches.
  core::Status check_remote_device(const core::PciAddress& address,
                                   const core::DeviceIds& expected,
                                   const std::string& planned_driver,
                                   const core::DeviceIdentity& recorded, const char* verb,
                                   const std::string& through) const;
  // Detach or re-attach through libvirt, then check the driver libvirt reports.
  core::Status perform_remote(const core::Action& action, const std::string& context);
  [[nodiscard]] core::Result<NodeDevices*> node_devices_for(const std::string& through,
                                                            const std::string& label) const;
  core::Status write_all(const core::Action& action, const std::string& context);
  core::Status verify_driver(const core::PciAddress& address, const std::string& wanted,
                             const std::string& context) const;
  [[nodiscard]] std::string driver_of(const core::PciAddress& address) const;

  Sysfs& m_sys;
  const Sysfs& m_dev;
  Os& m_os;
  Journal* m_journal;
  DryRun m_dry_run;
  std::vector<std::string> m_roots;
  Observer m_observer;
  KeepGoing m_keep_going = KeepGoing::no;
  NodeDevices* m_node_devices = nullptr;
  unsigned m_concurrent_binds = 1;
  bool m_journal_failed = false;  // set by perform(): nothing may go on unrecorded
};

}  // namespace pcipass::host
