#pragma once

// Planning `pcipass permissions`: what an
// unprivileged qemu:///session guest needs to use vfio devices, as WriteFile
// and SetPermissions actions for the executor. Pure: paths come in as text.

#include <pcipass/core/actions.hpp>
#include <pcipass/core/error.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pcipass::core {

// A device whose vfio node and sysfs attributes the group gets.
struct PermissionDevice {
  PciAddress address;
  unsigned iommu_group = 0;
  std::string driver;  // current driver, "" for none (no unbind attribute then)
};

// Who the memlock limit is for: a group (`@name` in limits.conf) or a user.
enum class LimitSubject { group, user };

// The guest memory assumed when none is given, and the margin added on top
// (libvirt's own rule for vfio guests: guest memory plus 1 GiB).
inline constexpr std::uint64_t k_default_guest_memory = 8ull << 30;
inline constexpr std::uint64_t k_memlock_margin = 1ull << 30;
// The largest memlock limit planned: 1 EiB, far above any machine, far
// below where the sum of the guests' sizes could wrap around.
inline constexpr std::uint64_t k_max_memlock_total = 1ull << 60;

struct PermissionRequest {
  std::vector<PermissionDevice> devices;
  std::string group;       // owner group of /dev/vfio/N and the sysfs files
  std::string limit_name;  // group or user the memlock limit is for
  LimitSubject limit_subject = LimitSubject::group;
  std::vector<std::uint64_t> guest_memory;  // bytes per guest; empty: k_default_guest_memory
  // The guests' names, beside guest_memory, for the limits file's comment
  // (empty when the sizes were given by hand).
  std::vector<std::string> guest_names;
  // A guest that locks all its memory (<memoryBacking><locked/>): the limit
  // is then unlimited, whatever the sizes say. "" for none.
  std::string unlimited_for;
  std::string sysfs_root;                   // "/sys" or a simulated host's sys/
  std::string dev_root;                     // "/dev" or a simulated host's dev/
  std::string etc_root;                     // "/etc" or a temporary folder
};

// True for names useradd/groupadd accept (`[a-z_][a-z0-9_-]*`, at most 32
// characters): nothing that could carry udev or limits.conf syntax.
bool is_valid_account_name(const std::string& name);

// The actions: a udev rule giving `group` /dev/vfio/N (0660), the same
// group and mode on the nodes that exist now (devices on vfio-pci), the sysfs
// attributes bind and release write (driver_override, the current driver's
// unbind, drivers_probe) opened to `group`, and a limits.d file. Fails with
// ExitCode::usage for an invalid name, an empty device list, or guests whose
// memory adds up to more than k_max_memlock_total.
Result<std::vector<Action>> plan_permissions(const PermissionRequest& request);

}  // namespace pcipass::core
