// Planning `pcipass permissions`: the actions compared whole.

#include <pcipass/core/permissions_planner.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

PermissionRequest request() {
  PermissionRequest r;
  r.devices = {{*PciAddress::parse("0000:2d:00.0"), 15, "amdgpu"},
               {*PciAddress::parse("0000:2d:00.1"), 15, "snd_hda_intel"},
               {*PciAddress::parse("0000:02:00.0"), 9, ""}};
  r.group = "kvm";
  r.limit_name = "kvm";
  r.sysfs_root = "/tmp/h/sys/";
  r.etc_root = "/tmp/h/etc";
  return r;
}

TEST(PermissionsPlanner, UdevRuleSysfsModesAndMemlockFile) {
  auto r = request();
  r.guest_memory = {16ull << 30, 4ull << 30};
  const auto actions = plan_permissions(r);
  ASSERT_TRUE(actions) << actions.error().message;
  const std::vector<Action> expected{
      WriteFile{"/tmp/h/etc/udev/rules.d/90-pcipass-vfio.rules",
                "# Written by pcipass permissions: members of kvm may open these vfio groups,\n"
                "# so qemu:///session guests can use their devices.\n"
                "SUBSYSTEM==\"vfio\", KERNEL==\"9\", GROUP=\"kvm\", MODE=\"0660\"\n"
                "SUBSYSTEM==\"vfio\", KERNEL==\"15\", GROUP=\"kvm\", MODE=\"0660\"\n",
                0644,
                {}},
      SetPermissions{"/tmp/h/sys/bus/pci/devices/0000:2d:00.0/driver_override", 0664, "kvm"},
      SetPermissions{"/tmp/h/sys/bus/pci/drivers/amdgpu/unbind", 0220, "kvm"},
      SetPermissions{"/tmp/h/sys/bus/pci/devices/0000:2d:00.1/driver_override", 0664, "kvm"},
      SetPermissions{"/tmp/h/sys/bus/pci/drivers/snd_hda_intel/unbind", 0220, "kvm"},
      SetPermissions{"/tmp/h/sys/bus/pci/devices/0000:02:00.0/driver_override", 0664, "kvm"},
      SetPermissions{"/tmp/h/sys/bus/pci/drivers_probe", 0220, "kvm"},
      WriteFile{"/tmp/h/etc/security/limits.d/90-pcipass-memlock.conf",
                "# Written by pcipass permissions. A guest with a passed-through device locks\n"
                "# all its memory: guests of 16 GiB + 4 GiB plus a 1 GiB margin = 21 GiB,\n"
                "# in KiB.\n"
                "@kvm soft memlock 22020096\n"
                "@kvm hard memlock 22020096\n",
                0644,
                {}}};
  EXPECT_EQ(*actions, expected);
}

// Guest names go into the limits file's comment only when they are plain
// words: a domain name is free text, and a newline would start a
// limits.conf line of its own.
TEST(PermissionsPlanner, OnlyPlainGuestNamesReachTheLimitsFile) {
  auto r = request();
  r.guest_memory = {4ull << 30, 2ull << 30};
  r.guest_names = {"xfs", "evil\n* hard memlock unlimited"};
  const auto actions = plan_permissions(r);
  ASSERT_TRUE(actions) << actions.error().message;
  const auto& limits = std::get<WriteFile>(actions->back()).bytes;
  EXPECT_NE(limits.find("guests of xfs (4 GiB) + 2 GiB plus a 1 GiB margin = 7 GiB"),
            std::string::npos)
      << limits;
  EXPECT_EQ(limits.find("unlimited"), std::string::npos) << limits;
}

TEST(PermissionsPlanner, NodesThatExistNowGetTheRuleModeAtOnce) {
  // udev applies the rule only to nodes it sees appear: the node of a group
  // already on vfio-pci (group 15, twice) gets its mode now, once; group 9
  // has no node yet.
  auto r = request();
  r.dev_root = "/tmp/h/dev";
  r.devices[0].driver = "vfio-pci";
  r.devices[1].driver = "vfio-pci";
  const auto actions = plan_permissions(r);
  ASSERT_TRUE(actions) << actions.error().message;
  std::vector<SetPermissions> nodes;
  for (const Action& action : *actions) {
    const auto* perms = std::get_if<SetPermissions>(&action);
    if (perms != nullptr && perms->path.starts_with("/tmp/h/dev/")) nodes.push_back(*perms);
  }
  EXPECT_EQ(nodes, (std::vector<SetPermissions>{{"/tmp/h/dev/vfio/15", 0660, "kvm"}}));
  EXPECT_EQ(std::get<SetPermissions>((*actions)[2]).path,
            "/tmp/h/sys/bus/pci/devices/0000:2d:00.0/driver_override");
}

TEST(PermissionsPlanner, DefaultMemoryAndUserSubject) {
  auto r = request();
  r.limit_subject = LimitSubject::user;
  r.limit_name = "alice";
  const auto actions = plan_permissions(r);
  ASSERT_TRUE(actions);
  EXPECT_EQ(std::get<WriteFile>(actions->back()).bytes,
            "# Written by pcipass permissions. A guest with a passed-through device locks\n"
            "# all its memory: guests of 8 GiB plus a 1 GiB margin = 9 GiB,\n"
            "# in KiB.\n"
            "alice soft memlock 9437184\n"
            "alice hard memlock 9437184\n");
}

TEST(PermissionsPlanner, HostileNamesCannotInjectSyntax) {
  for (const std::string& name :
       std::vector<std::string>{"kvm\", MODE=\"0666", "kvm\nSUBSYSTEM", "Kvm", "1kvm", "", "a b",
                                "@kvm", std::string(33, 'a')}) {
    auto r = request();
    r.group = name;
    const auto actions = plan_permissions(r);
    ASSERT_FALSE(actions) << name;
    EXPECT_EQ(actions.error().code, ExitCode::usage);
    EXPECT_EQ(actions.error().message,
              name.empty() ? "invalid user or group name (letters a-z, digits, _ and -, at most "
                             "32): (empty)"
                           : "invalid user or group name (letters a-z, digits, _ and -, at most "
                             "32): not shown, it holds other characters");
  }
  EXPECT_TRUE(is_valid_account_name("libvirt-qemu"));
  EXPECT_TRUE(is_valid_account_name(std::string(32, 'a')));
}

TEST(PermissionsPlanner, NoDevicesIsAUsageError) {
  auto r = request();
  r.devices.clear();
  const auto actions = plan_permissions(r);
  ASSERT_FALSE(actions);
  EXPECT_EQ(actions.error().message, "no devices given");
}

TEST(PermissionsPlanner, GuestMemoryThatWouldWrapAroundIsRefused) {
  // 16384 guests of 1024 TiB add up to 2^64 bytes: the sum wrapped to a tiny limit.
  auto r = request();
  r.guest_memory.assign(16384, 1ull << 50);
  const auto actions = plan_permissions(r);
  ASSERT_FALSE(actions);
  EXPECT_EQ(actions.error().code, ExitCode::usage);
  EXPECT_EQ(actions.error().message,
            "the guests' memory adds up to more than 1 EiB (with the 1 GiB margin): no memlock "
            "limit that large makes sense; give each guest's real size with --guest-memory");
  // Just below the ceiling still plans.
  r.guest_memory = {k_max_memlock_total - k_memlock_margin};
  EXPECT_TRUE(plan_permissions(r));
  r.guest_memory = {k_max_memlock_total - k_memlock_margin + 1};
  EXPECT_FALSE(plan_permissions(r));
}

TEST(PermissionsPlanner, RealRootsGiveAbsolutePaths) {
  auto r = request();
  r.sysfs_root = "/sys";
  r.etc_root = "/etc/";
  const auto actions = plan_permissions(r);
  ASSERT_TRUE(actions);
  EXPECT_EQ(std::get<WriteFile>(actions->front()).path, "/etc/udev/rules.d/90-pcipass-vfio.rules");
  EXPECT_EQ(std::get<SetPermissions>((*actions)[6]).path, "/sys/bus/pci/drivers_probe");
}

}  // namespace
}  // namespace pcipass::core
