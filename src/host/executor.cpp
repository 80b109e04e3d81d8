#include <pcipass/host/executor.hpp>

#include <pcipass/host/sysfs_source.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>

namespace pcipass::host {

using core::Action;
using core::ExitCode;
using core::fail;
using core::octal;

namespace {

std::string basename_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `bytes` for a message: newlines shown as \n.
std::string shown_bytes(const std::string& bytes) {
  std::string out;
  for (char c : bytes) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

std::string driver_or_none(const std::string& driver) {
  return driver.empty() ? "no driver" : driver;
}

// A bind on this machine's sysfs (not through libvirt).
bool is_local_bind(const Action& action) {
  const auto* bind = std::get_if<core::BindToVfio>(&action);
  return bind != nullptr && bind->through.empty();
}

// How many IOMMU groups the binds actions[first, last) touch.
std::size_t group_count(const std::vector<Action>& actions, std::size_t first, std::size_t last) {
  std::vector<unsigned> groups;
  for (std::size_t i = first; i < last; ++i) {
    const unsigned group = std::get<core::BindToVfio>(actions[i]).iommu_group;
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.push_back(group);
  }
  return groups.size();
}

}  // namespace

std::string Operation::line() const {
  if (kind == "sysfs-write") return "write \"" + shown_bytes(value) + "\" to " + target;
  if (kind == "modprobe") return "run modprobe " + target;
  if (kind == "write-file") return "write " + target + " (" + value + ")";
  if (kind == "remove-file") return "remove " + target + " (" + value + ")";
  if (kind == "libvirt-call") return "call " + value + " on node device " + target;
  return "set " + value + " on " + target;
}

nlohmann::json Operation::to_json() const {
  return nlohmann::json{{"kind", kind}, {"target", target}, {"value", value}};
}

std::vector<Operation> operations_of(const Action& action, const Sysfs& sys) {
  std::vector<Operation> ops;
  for (const core::SysfsWrite& w : core::sysfs_writes(action)) {
    ops.push_back({"sysfs-write", sys.display_path(w.path), w.bytes});
  }
  if (const auto* bind = std::get_if<core::BindToVfio>(&action); bind && !bind->through.empty()) {
    ops.push_back({"libvirt-call", bind->address.libvirt_name(),
                   "virNodeDeviceDetachFlags (driver vfio) at " +
                       core::sanitize_untrusted(bind->through)});
  }
  if (const auto* release = std::get_if<core::ReleaseDevice>(&action);
      release && !release->through.empty()) {
    ops.push_back({"libvirt-call", release->address.libvirt_name(),
                   "virNodeDeviceReAttach at " + core::sanitize_untrusted(release->through)});
  }
  if (const auto* m = std::get_if<core::LoadModule>(&action))
    ops.push_back({"modprobe", m->name, ""});
  if (const auto* f = std::get_if<core::WriteFile>(&action)) {
    ops.push_back({"write-file", f->path,
                   "mode " + octal(f->mode) + (f->group.empty() ? "" : " group " + f->group) +
                       ", " + std::to_string(f->bytes.size()) + " bytes"});
  }
  if (const auto* p = std::get_if<core::SetPermissions>(&action)) {
    ops.push_back({"set-permissions", p->path,
                   "mode " + octal(p->mode) + (p->group.empty() ? "" : " group " + p->group)});
  }
  if (const auto* r = std::get_if<core::RemoveFile>(&action))
    ops.push_back({"remove-file", r->path, "if unchanged"});
  if (const auto* p = std::get_if<core::RevertPermissions>(&action)) {
    ops.push_back({"set-permissions", p->path,
                   "mode " + octal(p->mode) + (p->group.empty() ? "" : " group " + p->group)});
  }
  return ops;
}

Executor::Executor(Sysfs& sys, const Sysfs& dev, Os& os, Journal* journal, DryRun dry_run,
                   std::vector<std::string> roots)
    : m_sys(sys),
      m_dev(dev),
      m_os(os),
      m_journal(journal),
      m_dry_run(dry_run),
      m_roots(std::move(roots)) {}

core::Status Executor::run(const std::vector<Action>& actions) {
  m_journal_failed = false;
  std::vector<core::Error> failures;
  std::vector<bool> confined(actions.size(), true);
  std::vector<std::string> outside;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (auto checked = core::check_confined(actions[i], m_roots); !checked) {
      confined[i] = false;
      outside.push_back(checked.error().message);
    }
  }
  if (!outside.empty() && m_keep_going == KeepGoing::no) {
    if (outside.size() == 1) return fail(outside.front(), ExitCode::refused);
    return fail(std::to_string(outside.size()) + " steps refused, nothing was changed:\n  " +
                    core::join(outside, "\n  "),
                ExitCode::refused);
  }
  // Restore at boot: the steps that stay within the roots go ahead.
  for (const std::string& line : outside) failures.push_back(core::Error{line, ExitCode::refused});
  std::vector<std::pair<unsigned, std::string>> failed_groups;  // group, device
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const Action& action = actions[i];
    if (!confined[i]) continue;
    if (const auto* perms = std::get_if<core::SetPermissions>(&action)) {
      const auto needs =
          std::find_if(failed_groups.begin(), failed_groups.end(), [&](const auto& group) {
            return perms->path.ends_with("/vfio/" + std::to_string(group.first));
          });
      if (needs != failed_groups.end()) {
        failures.push_back(core::Error{core::describe(action) + ": not attempted, binding " +
                                           needs->second + " failed",
                                       failures.front().code});
        continue;
      }
    }
    if (m_dry_run == DryRun::no && m_concurrent_binds > 1 && is_local_bind(action)) {
      std::size_t last = i + 1;
      while (last < actions.size() && is_local_bind(actions[last])) ++last;
      if (group_count(actions, i, last) > 1) {
        const bool go_on = perform_binds(actions, i, last, failures, failed_groups);
        if (!go_on) break;
        i = last - 1;
        continue;
      }
    }
    if (m_observer) m_observer(action, operations_of(action, m_sys));
    if (m_dry_run == DryRun::yes) continue;
    auto done = perform(action);
    if (done) continue;
    failures.push_back(done.error());
    if (m_keep_going == KeepGoing::no || m_journal_failed ||
        std::holds_alternative<core::LoadModule>(action)) {
      break;
    }
    if (const auto* bind = std::get_if<core::BindToVfio>(&action))
      failed_groups.emplace_back(bind->iommu_group, bind->address.to_string());
  }
  if (failures.empty()) return core::ok();
  if (failures.size() == 1) return fail(failures.front());
  std::string message = std::to_string(failures.size()) + " steps failed:";
  for (const core::Error& failure : failures) message += "\n  " + failure.message;
  return fail(message, failures.front().code);
}

std::string Executor::driver_of(const core::PciAddress& address) const {
  auto target = m_sys.read_link("bus/pci/devices/" + address.to_string() + "/driver");
  return target ? basename_of(*target) : std::string();
}

core::Status Executor::check_identity(const core::PciAddress& address,
                                      const core::DeviceIdentity& recorded, const char* verb) const {
  if (!recorded.has_serial()) return core::ok();
  const std::string label = std::string(verb) + " " + address.to_string();
  auto device = read_sysfs_device(m_sys, address);
  if (!device) return fail(label + ": checking its serials: " + device.error().message, ExitCode::host_error);
  // A VF is told by its card's serials, which its PF shows.
  std::optional<core::PciDevice> pf;
  if (device->physical_function) {
    auto read = read_sysfs_device(m_sys, *device->physical_function);
    if (!read) {
      return fail(label + ": checking the serials of its PF: " + read.error().message,
                  ExitCode::host_error);
    }
    pf = std::move(*read);
  }
  const core::DeviceIdentity now = core::identity_of(*device, pf ? &*pf : nullptr);
  if (core::compare_identity(recorded, now) == core::IdentityMatch::different) {
    return fail(label + ": the device there is now another one (" +
                    core::identity_difference(recorded, now) +
                    ") than planned; nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  return core::ok();
}

core::Status Executor::check_device(const core::PciAddress& address,
                                    const core::DeviceIds& expected,
                                    const std::string& planned_driver, const char* verb) const {
  const std::string dir = "bus/pci/devices/" + address.to_string();
  auto vendor = m_sys.read(dir + "/vendor", 64);
  auto device = m_sys.read(dir + "/device", 64);
  if (!vendor || !device) {
    return fail(std::string(verb) + " " + address.to_string() + ": checking its ids: " +
                    (!vendor ? vendor.error().message : device.error().message),
                ExitCode::host_error);
  }
  const auto v = core::parse_hex(core::trim(*vendor));
  const auto d = core::parse_hex(core::trim(*device));
  const std::string now =
      (v && d) ? core::DeviceIds{static_cast<std::uint16_t>(*v), static_cast<std::uint16_t>(*d)}
                     .to_string()
               : std::string("unreadable");
  if (now != expected.to_string()) {
    return fail(std::string(verb) + " " + address.to_string() + ": the device there is now " + now +
                    ", not " + expected.to_string() +
                    " as planned; nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  const std::string driver = driver_of(address);
  if (driver != planned_driver) {
    return fail(std::string(verb) + " " + address.to_string() +
                    ": its driver changed since planning (now " + driver_or_none(driver) +
                    ", planned for " + driver_or_none(planned_driver) +
                    "); nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  return core::ok();
}

core::Result<NodeDevices*> Executor::node_devices_for(const std::string& through,
                                                       const std::string& label) const {
  if (m_node_devices != nullptr && m_node_devices->uri() == through) return m_node_devices;
  return fail(label + ": it is on the host libvirt reaches at '" +
                  core::sanitize_untrusted(through) +
                  "'; nothing was changed (run pcipass with -c and that URI)",
              ExitCode::refused);
}

core::Status Executor::check_remote_device(const core::PciAddress& address,
                                           const core::DeviceIds& expected,
                                           const std::string& planned_driver,
                                           const core::DeviceIdentity& recorded, const char* verb,
                                           const std::string& through) const {
  const std::string label = std::string(verb) + " " + address.to_string();
  auto devices = node_devices_for(through, label);
  if (!devices) return fail(devices.error());
  auto device = (*devices)->read(address);
  if (!device) return fail(device.error().with_context(label));
  if (!*device) {
    return fail(label + ": libvirt at '" + core::sanitize_untrusted(through) +
                    "' no longer has it; nothing was changed for it (run pcipass again to "
                    "re-plan)",
                ExitCode::refused);
  }
  const auto now = core::DeviceIds::of(**device);
  const std::string now_text = now ? now->to_string() : std::string("unreadable");
  if (now_text != expected.to_string()) {
    return fail(label + ": the device there is now " + now_text + ", not " + expected.to_string() +
                    " as planned; nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  if ((*device)->driver != planned_driver) {
    return fail(label + ": its driver changed since planning (now " +
                    driver_or_none((*device)->driver) + ", planned for " +
                    driver_or_none(planned_driver) +
                    "); nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  // libvirt shows few serials (VPD at most): what it shows must agree.
  const core::DeviceIdentity identity = core::identity_of(**device, nullptr);
  if (recorded.has_serial() &&
      core::compare_identity(recorded, identity) == core::IdentityMatch::different) {
    return fail(label + ": the device there is now another one (" +
                    core::identity_difference(recorded, identity) +
                    ") than planned; nothing was changed for it (run pcipass again to re-plan)",
                ExitCode::refused);
  }
  return core::ok();
}

core::Status Executor::perform_remote(const Action& action, const std::string& context) {
  const auto* bind = std::get_if<core::BindToVfio>(&action);
  const auto* release = std::get_if<core::ReleaseDevice>(&action);
  if (bind == nullptr && release == nullptr)
    return fail(context + ": not a device action", ExitCode::failure);
  const core::PciAddress address = bind ? bind->address : release->address;
  const std::string& through = bind ? bind->through : release->through;
  auto devices = node_devices_for(through, context);
  if (!devices) return fail(devices.error());
  if (auto done = bind ? (*devices)->detach_to_vfio(address) : (*devices)->reattach(address);
      !done) {
    return fail(done.error().with_context(context));
  }
  auto device = (*devices)->read(address);
  if (!device) return fail(device.error().with_context(context));
  const std::string wanted = bind ? std::string(core::k_vfio_driver) : release->restore_driver;
  const std::string now = *device ? (*device)->driver : std::string();
  if (*device && now == wanted) return core::ok();
  // libvirt always lets that host's kernel probe the device again: one that
  // had no driver before may get one now, which is not vfio-pci either.
  if (*device && !bind && wanted.empty() && now != core::k_vfio_driver) return core::ok();
  return fail(context + ": libvirt at '" + core::sanitize_untrusted(through) + "' reports " +
                  (*device ? "driver " + driver_or_none(now) : std::string("no such device")) +
                  " afterwards, not " + driver_or_none(wanted),
              ExitCode::host_error);
}

std::string Executor::bind_context(const core::BindToVfio& bind) {
  return "binding " + bind.address.to_string() + " to vfio-pci";
}

core::Status Executor::check_bind(const core::BindToVfio& bind) const {
  if (auto ok = check_device(bind.address, bind.expected, bind.current_driver, "binding"); !ok)
    return ok;
  return check_identity(bind.address, bind.identity, "binding");
}

core::Status Executor::bind_effects(const core::BindToVfio& bind, const std::string& context) {
  if (auto ok = write_all(Action(bind), context); !ok) return ok;
  if (auto ok = verify_driver(bind.address, core::k_vfio_driver, context); !ok) return ok;
  const std::string node = "vfio/" + std::to_string(bind.iommu_group);
  if (!m_dev.exists(node)) {
    return fail(context + ": " + m_dev.display_path(node) +
                    " did not appear (is udev running? is the IOMMU enabled?)",
                ExitCode::host_error);
  }
  return core::ok();
}

core::Status Executor::write_all(const Action& action, const std::string& context) {
  for (const core::SysfsWrite& w : core::sysfs_writes(action)) {
    if (auto written = m_sys.write(w.path, w.bytes); !written)
      return fail(written.error().with_context(context));
  }
  return core::ok();
}

core::Status Executor::verify_driver(const core::PciAddress& address, const std::string& wanted,
                                     const std::string& context) const {
  const std::string now = driver_of(address);
  if (now == wanted) return core::ok();
  std::string hint;
  if (!wanted.empty() && now.empty()) {
    hint = wanted == core::k_vfio_driver
               ? " (is the vfio-pci module loaded? see dmesg)"
               : " (is the " + wanted + " module loaded? load it, then release again)";
  }
  return fail(context + ": after probing, its driver is " + driver_or_none(now) + ", not " +
                  driver_or_none(wanted) + hint,
              ExitCode::host_error);
}

core::Status Executor::perform(const Action& action) {
  // Checks that need no journal entry come first: a refusal changes nothing.
  std::string context;
  const auto* remote_bind = std::get_if<core::BindToVfio>(&action);
  const auto* remote_release = std::get_if<core::ReleaseDevice>(&action);
  if (remote_bind && remote_bind->through.empty()) remote_bind = nullptr;
  if (remote_release && remote_release->through.empty()) remote_release = nullptr;
  if (remote_bind != nullptr) {
    context = "binding " + remote_bind->address.to_string() + " to vfio-pci";
    if (auto ok = check_remote_device(remote_bind->address, remote_bind->expected,
                                      remote_bind->current_driver, remote_bind->identity,
                                      "binding", remote_bind->through);
        !ok) {
      return ok;
    }
  } else if (remote_release != nullptr) {
    context = "releasing " + remote_release->address.to_string();
    if (auto ok = check_remote_device(remote_release->address, remote_release->expected,
                                      remote_release->current_driver, {}, "releasing",
                                      remote_release->through);
        !ok) {
      return ok;
    }
  } else if (const auto* bind = std::get_if<core::BindToVfio>(&action)) {
    context = bind_context(*bind);
    if (auto ok = check_bind(*bind); !ok) return ok;
  } else if (const auto* remote_forget = std::get_if<core::ForgetDevice>(&action);
             remote_forget && !remote_forget->through.empty()) {
    // Gone from that host: its libvirt says so, never this machine's sysfs.
    const std::string label = "forgetting " + remote_forget->address.to_string();
    auto devices = node_devices_for(remote_forget->through, label);
    if (!devices) return fail(devices.error());
    if (remote_forget->presence == core::Presence::gone) {
      auto device = (*devices)->read(remote_forget->address);
      if (!device) return fail(device.error().with_context(label));
      if (*device) {
        return fail(label + ": libvirt at '" + core::sanitize_untrusted(remote_forget->through) +
                        "' has it again; nothing was changed (run pcipass release again to give "
                        "it back to its driver)",
                    ExitCode::refused);
      }
    }
  } else if (const auto* forget = std::get_if<core::ForgetDevice>(&action)) {
    const std::string dir = "bus/pci/devices/" + forget->address.to_string();
    if (forget->presence == core::Presence::gone && m_sys.exists(dir)) {
      return fail("forgetting " + forget->address.to_string() + ": " + m_sys.display_path(dir) +
                      " is there again; nothing was changed (run pcipass release again to "
                      "give it back to its driver)",
                  ExitCode::refused);
    }
  } else if (const auto* vfs = std::get_if<core::SetVfCount>(&action)) {
    context = "setting the VF count of " + vfs->address.to_string();
    if (auto ok = check_device(vfs->address, vfs->expected, vfs->driver, "setting the VF count of");
        !ok) {
      return ok;
    }
    if (auto ok = check_identity(vfs->address, vfs->identity, "setting the VF count of"); !ok)
      return ok;
  } else if (const auto* release = std::get_if<core::ReleaseDevice>(&action)) {
    context = "releasing " + release->address.to_string();
    if (auto ok =
            check_device(release->address, release->expected, release->current_driver, "releasing");
        !ok) {
      return ok;
    }
  }

  // A mode change records what the file had, so release --all can put it back.
  core::Action journaled = action;
  if (auto* perms = std::get_if<core::SetPermissions>(&journaled)) {
    auto before = m_os.file_mode(perms->path);
    if (!before) return fail(before.error());
    // Nothing recorded for a file that is not there: an entry without an
    // earlier mode could never be given back.
    if (!before->has_value()) {
      return fail(core::describe(action) + ": " + perms->path + " does not exist",
                  ExitCode::host_error);
    }
    perms->previous_mode = (*before)->mode;
    perms->previous_group = (*before)->group;
  }

  core::JournalState& state = m_journal->state();
  const std::uint64_t id = state.begin(journaled);
  if (auto saved = m_journal->save(); !saved) {
    m_journal_failed = true;
    return fail(
        saved.error().with_context("recording " + core::describe(action) + " in the journal"));
  }

  auto outcome = [&]() -> core::Status {
    if (remote_bind != nullptr || remote_release != nullptr) return perform_remote(action, context);
    if (const auto* bind = std::get_if<core::BindToVfio>(&action))
      return bind_effects(*bind, context);
    if (const auto* release = std::get_if<core::ReleaseDevice>(&action)) {
      if (auto ok = write_all(action, context); !ok) return ok;
      return verify_driver(release->address, release->restore_driver, context);
    }
    if (const auto* load = std::get_if<core::LoadModule>(&action)) {
      // A module already there needs no modprobe (restore finishing a load a
      // crashed run left pending; a simulated host, where modprobe is refused).
      if (m_sys.exists("module/" + load->name)) return core::ok();
      if (auto ok = m_os.load_module(load->name); !ok) return ok;
      if (!m_sys.exists("module/" + load->name)) {
        return fail("loading kernel module " + load->name + ": modprobe succeeded but " +
                        m_sys.display_path("module/" + load->name) + " is missing",
                    ExitCode::host_error);
      }
      return core::ok();
    }
    if (const auto* file = std::get_if<core::WriteFile>(&action)) {
      // A fresh etc root may lack the folder (etc/udev/rules.d).
      if (auto made = m_os.make_directories(std::filesystem::path(file->path).parent_path()); !made)
        return made;
      if (auto ok = m_os.write_file(file->path, file->bytes, file->mode); !ok) return ok;
      if (file->group.empty()) return core::ok();
      return m_os.set_permissions(file->path, file->mode, file->group);
    }
    if (const auto* remove = std::get_if<core::RemoveFile>(&action)) {
      auto bytes = m_os.read_file(remove->path);
      if (!bytes) return fail(bytes.error());
      if (!bytes->has_value() || **bytes != remove->bytes)
        return core::ok();  // gone, or theirs now
      return m_os.remove_file(remove->path);
    }
    if (const auto* revert = std::get_if<core::RevertPermissions>(&action)) {
      auto now = m_os.file_mode(revert->path);
      if (!now) return fail(now.error());
      if (!now->has_value()) return core::ok();
      return m_os.set_permissions(revert->path, revert->mode, revert->group);
    }
    if (const auto* vfs = std::get_if<core::SetVfCount>(&action)) {
      if (auto ok = write_all(action, context); !ok) return ok;
      const std::string path = "bus/pci/devices/" + vfs->address.to_string() + "/sriov_numvfs";
      auto now = m_sys.read(path, 64);
      if (!now) return fail(now.error().with_context(context));
      if (core::trim(*now) != std::to_string(vfs->count)) {
        return fail(context + ": " + m_sys.display_path(path) + " reads " +
                        core::quote_for_message(core::trim(*now)) + " after writing " +
                        std::to_string(vfs->count),
                    ExitCode::host_error);
      }
      return core::ok();
    }
    if (std::holds_alternative<core::ForgetDevice>(action) ||
        std::holds_alternative<core::ForgetFile>(action)) {
      return core::ok();  // journal only
    }
    const auto& perms = std::get<core::SetPermissions>(action);
    return m_os.set_permissions(perms.path, perms.mode, perms.group);
  }();

  if (!outcome) {
    state.mark_failed(id, outcome.error().message);
    (void)m_journal->save();  // best effort: a pending entry is just as recoverable
    return outcome;
  }
  state.finish(id);
  if (auto saved = m_journal->save(); !saved) {
    m_journal_failed = true;
    return fail(
        saved.error().with_context("recording that " + core::describe(action) + " is done"));
  }
  return core::ok();
}

}  // namespace pcipass::host
