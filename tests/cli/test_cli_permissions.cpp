// `pcipass permissions` on a copy of a simulated host with a temporary etc
// root beside it: contents and modes compared whole.

#include "support/sim_host.hpp"
#include "support/simulated_kernel.hpp"

#include <gtest/gtest.h>

#include <grp.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

struct PermissionsHost {
  PermissionsHost() {
    for (const char* part : {"sys", "proc", "dev"}) {
      fs::copy(sim_host("workstation") / part, dir.path() / part,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
    fs::create_directories(dir.path() / "etc");
    std::ofstream(dir.path() / "etc/group") << "root:x:0:\nkvm:x:104:\n";
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"--sysfs-root", (dir.path() / "sys").string()});
    return rest;
  }
  std::string read(const std::string& relative) const {
    std::ifstream in(dir.path() / relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  unsigned mode(const std::string& relative) const {
    return static_cast<unsigned>(fs::status(dir.path() / relative).permissions() & fs::perms::all);
  }
  TempDir dir;
};

// A group this process may give its files to: its own primary group.
std::string own_group() {
  const struct group* entry = ::getgrgid(::getgid());
  return entry == nullptr ? std::string() : std::string(entry->gr_name);
}

TEST(CliPermissions, DryRunChangesNothingAndPicksTheDefaultGroup) {
  PermissionsHost host;
  std::ofstream(host.dir.path() / "etc/group", std::ios::app) << "libvirt-qemu:x:108:\n";
  const std::string before = snapshot_tree(host.dir.path());
  const auto r = run_pcipass(host.args({"permissions", "--dry-run", "2d:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("set mode 0664 and group libvirt-qemu on " + host.dir.path().string() +
                       "/sys/bus/pci/devices/0000:2d:00.0/driver_override\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

TEST(CliPermissions, WritesTheRuleTheLimitAndOpensTheSysfsFiles) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  PermissionsHost host;
  const auto r =
      run_pcipass(host.args({"permissions", "--group", group, "--user", "alice", "--guest-memory",
                             "16G", "--guest-memory", "512M", "2d:00.0", "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(host.read("etc/udev/rules.d/90-pcipass-vfio.rules"),
            "# Written by pcipass permissions: members of " + group +
                " may open these vfio groups,\n"
                "# so qemu:///session guests can use their devices.\n"
                "SUBSYSTEM==\"vfio\", KERNEL==\"9\", GROUP=\"" +
                group +
                "\", MODE=\"0660\"\n"
                "SUBSYSTEM==\"vfio\", KERNEL==\"15\", GROUP=\"" +
                group + "\", MODE=\"0660\"\n");
  EXPECT_EQ(host.read("etc/security/limits.d/90-pcipass-memlock.conf"),
            "# Written by pcipass permissions. A guest with a passed-through device locks\n"
            "# all its memory: guests of 16 GiB + 512 MiB plus a 1 GiB margin = 17920 MiB,\n"
            "# in KiB.\n"
            "alice soft memlock 18350080\n"
            "alice hard memlock 18350080\n");
  EXPECT_EQ(host.mode("etc/udev/rules.d/90-pcipass-vfio.rules"), 0644u);
  EXPECT_EQ(host.mode("sys/bus/pci/devices/0000:2d:00.0/driver_override"), 0664u);
  EXPECT_EQ(host.mode("sys/bus/pci/devices/0000:02:00.0/driver_override"), 0664u);
  EXPECT_EQ(host.mode("sys/bus/pci/drivers_probe"), 0220u);
  EXPECT_EQ(host.mode("sys/bus/pci/drivers/amdgpu/unbind"), 0220u);
  EXPECT_EQ(host.mode("sys/bus/pci/drivers/nvme/unbind"), 0220u);
  const auto status = run_pcipass(host.args({"status"}));
  EXPECT_NE(status.out.find("done: write " + host.dir.path().string() +
                            "/etc/security/limits.d/90-pcipass-memlock.conf"),
            std::string::npos)
      << status.out;
}

TEST(CliPermissions, HostileGroupNamesAreRefusedBeforeAnyChange) {
  PermissionsHost host;
  const std::string before = snapshot_tree(host.dir.path());
  const auto r =
      run_pcipass(host.args({"permissions", "--group", "kvm\", MODE=\"0666", "2d:00.0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "pcipass: error: invalid user or group name (letters a-z, digits, _ and -, at most "
            "32): not shown, it holds other characters\n");
  fs::remove_all(host.dir.path() / "var");  // the lock file is all a refused run leaves
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

TEST(CliPermissions, BadGuestMemoryIsAUsageError) {
  PermissionsHost host;
  const auto r = run_pcipass(host.args({"permissions", "--guest-memory", "lots", "2d:00.0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "pcipass: error: invalid --guest-memory 'lots': give a size like 16G, 512M or a "
            "number of bytes\n");
}

TEST(CliPermissions, KdevopsScriptTakesPciIdsAndPassesOptionsOn) {
  PermissionsHost host;
  const std::string before = snapshot_tree(host.dir.path());
  const auto script = run_command({"env", std::string("PCIPASS=") + PCIPASS_EXE,
                                   source_path("scripts/vfio-permissions.sh").string(),
                                   "0000:2d:00.0", "0000:02:00.0", "--dry-run", "--sysfs-root",
                                   (host.dir.path() / "sys").string()});
  const auto direct =
      run_pcipass(host.args({"permissions", "--dry-run", "0000:2d:00.0", "0000:02:00.0"}));
  ASSERT_EQ(script.exit_code, 0) << script.err;
  EXPECT_EQ(script.out, direct.out);
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
  const auto usage = run_command({source_path("scripts/vfio-permissions.sh").string()});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.err, "usage: vfio-permissions.sh PCI_ADDRESS... [pcipass permissions options]\n");
}

}  // namespace
}  // namespace pcipass::test
