#include <pcipass/core/permissions_planner.hpp>

#include <pcipass/core/assignment_planner.hpp>

#include <algorithm>
#include <set>

namespace pcipass::core {

namespace {

std::string join_path(std::string root, const std::string& relative) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root == "/" ? "/" + relative : root + "/" + relative;
}

std::string human_gib(std::uint64_t bytes) {
  if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

bool is_valid_account_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

Result<std::vector<Action>> plan_permissions(const PermissionRequest& request) {
  for (const std::string* name : {&request.group, &request.limit_name}) {
    if (!is_valid_account_name(*name)) {
      return fail(
          "invalid user or group name (letters a-z, digits, _ and -, at most 32): " +
              std::string(name->empty() ? "(empty)" : "not shown, it holds other characters"),
          ExitCode::usage);
    }
  }
  if (request.devices.empty()) return fail("no devices given", ExitCode::usage);

  std::set<unsigned> groups;
  for (const PermissionDevice& device : request.devices) groups.insert(device.iommu_group);
  std::string rules =
      "# Written by pcipass permissions: members of " + request.group +
      " may open these vfio groups,\n# so qemu:///session guests can use their devices.\n";
  for (unsigned group : groups) {
    rules += "SUBSYSTEM==\"vfio\", KERNEL==\"" + std::to_string(group) + "\", GROUP=\"" +
             request.group + "\", MODE=\"0660\"\n";
  }

  std::vector<Action> actions;
  actions.push_back(WriteFile{
      join_path(request.etc_root, "udev/rules.d/90-pcipass-vfio.rules"), rules, 0644, {}});
  // The rule only acts when udev sees the node appear: a node that exists
  // now (its device is on vfio-pci) gets the same group and mode at once.
  std::set<unsigned> vfio_nodes;
  for (const PermissionDevice& device : request.devices) {
    if (device.driver == "vfio-pci" && vfio_nodes.insert(device.iommu_group).second) {
      actions.push_back(SetPermissions{
          join_path(request.dev_root, "vfio/" + std::to_string(device.iommu_group)), 0660,
          request.group});
    }
  }
  std::set<std::string> opened;
  auto open_to_group = [&](const std::string& relative, unsigned mode) {
    if (!opened.insert(relative).second) return;
    actions.push_back(SetPermissions{join_path(request.sysfs_root, relative), mode, request.group});
  };
  for (const PermissionDevice& device : request.devices) {
    open_to_group("bus/pci/devices/" + device.address.to_string() + "/driver_override", 0664);
    if (!device.driver.empty()) open_to_group("bus/pci/drivers/" + device.driver + "/unbind", 0220);
  }
  open_to_group("bus/pci/drivers_probe", 0220);

  std::vector<std::uint64_t> memory = request.guest_memory;
  if (memory.empty()) memory.push_back(k_default_guest_memory);
  std::uint64_t total = k_memlock_margin;
  std::string sizes;
  for (std::size_t i = 0; i < memory.size(); ++i) {
    const std::uint64_t bytes = memory[i];
    if (bytes > k_max_memlock_total || total > k_max_memlock_total - bytes) {
      return fail("the guests' memory adds up to more than 1 EiB (with the 1 GiB margin): no "
                  "memlock limit that large makes sense; give each guest's real size with "
                  "--guest-memory",
                  ExitCode::usage);
    }
    total += bytes;
    sizes += (sizes.empty() ? "" : " + ");
    // Only names that are plain words go into the file: a domain name is
    // free text, and a newline in it would be a limits.conf line.
    if (i < request.guest_names.size() && is_valid_guest_name(request.guest_names[i]))
      sizes += request.guest_names[i] + " (" + human_gib(bytes) + ")";
    else
      sizes += human_gib(bytes);
  }
  const std::string domain =
      request.limit_subject == LimitSubject::group ? "@" + request.limit_name : request.limit_name;
  std::string kib = std::to_string(total / 1024);
  std::string limits =
      "# Written by pcipass permissions. A guest with a passed-through device locks\n"
      "# all its memory: guests of " +
      sizes + " plus a 1 GiB margin = " + human_gib(total) + ",\n# in KiB.\n";
  if (!request.unlimited_for.empty()) {
    const std::string who = is_valid_guest_name(request.unlimited_for)
                                ? "guest " + request.unlimited_for
                                : std::string("a guest");
    limits = "# Written by pcipass permissions. A guest with a passed-through device locks\n"
             "# all its memory, and " + who + " locks it all from the start\n"
             "# (<memoryBacking><locked/>): libvirt then needs no limit.\n";
    kib = "unlimited";
  }
  limits += domain + " soft memlock " + kib + "\n" + domain + " hard memlock " + kib + "\n";
  actions.push_back(WriteFile{
      join_path(request.etc_root, "security/limits.d/90-pcipass-memlock.conf"), limits, 0644, {}});
  return actions;
}

}  // namespace pcipass::core
