// `pcipass permissions` on a copy of a simulated host with a temporary etc
// root beside it: contents and modes compared whole.

#include "support/sim_host.hpp"
#include "support/simulated_kernel.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

TEST(CliPermissions, ASecondRunChangesNothingUntilAFileDiffers) {
  // What Ansible's `changed` and any rerun rely on: a change in effect and
  // journaled is not made again.
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  PermissionsHost host;
  const std::vector<std::string> command = {"--json", "permissions", "--group", group,
                                            "--guest-memory", "4G", "02:00.0"};
  const auto first = run_pcipass(host.args(command));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(nlohmann::json::parse(first.out)["actions"].size(), 5u);
  const std::string journal = host.read("var/lib/pcipass/journal.json");

  const auto second = run_pcipass(host.args(command));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto doc = nlohmann::json::parse(second.out);
  EXPECT_TRUE(doc["actions"].empty()) << doc["actions"];
  EXPECT_EQ(doc["notes"], nlohmann::json::array(
                              {"5 changes are in effect already, as an earlier run made and "
                               "journaled them"}));
  EXPECT_EQ(host.read("var/lib/pcipass/journal.json"), journal);

  // Someone edited the limit: only that file is written again.
  std::ofstream(host.dir.path() / "etc/security/limits.d/90-pcipass-memlock.conf") << "# mine\n";
  const auto third = run_pcipass(host.args(command));
  ASSERT_EQ(third.exit_code, 0) << third.err;
  const auto redo = nlohmann::json::parse(third.out)["actions"];
  ASSERT_EQ(redo.size(), 1u) << redo;
  EXPECT_EQ(redo[0]["action"]["path"],
            (host.dir.path() / "etc/security/limits.d/90-pcipass-memlock.conf").string());
  // Another size is another change.
  auto bigger = command;
  bigger[5] = "8G";
  const auto fourth = run_pcipass(host.args(bigger));
  ASSERT_EQ(fourth.exit_code, 0) << fourth.err;
  EXPECT_EQ(nlohmann::json::parse(fourth.out)["actions"].size(), 1u);
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

namespace pcipass::test {
namespace {

// A guest definition holding `hostdev` (bus number, "" for none) with a
// size element (`size`, e.g. "<memory unit='GiB'>4</memory>").
void write_guest(const fs::path& file, const std::string& name, const std::string& size,
                 const std::string& hostdev_bus) {
  fs::create_directories(file.parent_path());
  std::string devices;
  if (!hostdev_bus.empty()) {
    devices = "    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source><address "
              "domain='0x0000' bus='0x" +
              hostdev_bus + "' slot='0x00' function='0x0'/></source>\n    </hostdev>\n";
  }
  std::ofstream(file) << "<domain type='kvm'>\n  <name>" << name << "</name>\n  " << size
                      << "\n  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                      << "  <devices>\n" << devices << "  </devices>\n</domain>\n";
}

const char* k_limits = "etc/security/limits.d/90-pcipass-memlock.conf";

// Issue 18 item 6: the limit comes from the guests that get the devices,
// read from their definitions (kdevops' guestfs layout or flat files).
TEST(CliPermissions, TheMemlockLimitIsSizedFromTheGuestsThatHoldTheDevices) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  PermissionsHost host;
  const fs::path guests = host.dir.path() / "guestfs";
  write_guest(guests / "xfs/xfs.xml", "xfs", "<memory unit='GiB'>4</memory>", "02");
  write_guest(guests / "btrfs.xml", "btrfs", "<memory unit='MiB'>3072</memory>", "2d");
  write_guest(guests / "idle/idle.xml", "idle", "<memory unit='GiB'>64</memory>", "");
  const auto r = run_pcipass(host.args(
      {"permissions", "--group", group, "--xml-dir", guests.string(), "02:00.0", "2d:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("note: guest 'xfs' may lock 4 GiB (its memory, from " +
                       (guests / "xfs/xfs.xml").string() + ")"),
            std::string::npos)
      << r.out;
  // 4 GiB + 3 GiB + the 1 GiB margin (DIR/NAME/NAME.xml before flat files); the
  // idle guest holds neither device.
  EXPECT_EQ(host.read(k_limits),
            "# Written by pcipass permissions. A guest with a passed-through device locks\n"
            "# all its memory: guests of xfs (4 GiB) + btrfs (3 GiB) plus a 1 GiB margin = 8 "
            "GiB,\n# in KiB.\n@" +
                group + " soft memlock 8388608\n@" + group + " hard memlock 8388608\n");
}

// Named guests count whether or not they hold the devices yet (permissions
// comes before attach); memtune's hard_limit is what libvirt lets a guest
// lock (maxMemory is not), and locked memory needs no limit at all.
TEST(CliPermissions, NamedGuestsCountWhatLibvirtLetsThemLock) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  PermissionsHost host;
  const fs::path guests = host.dir.path() / "guestfs";
  write_guest(guests / "a/a.xml", "a",
              "<memory unit='GiB'>6</memory><maxMemory slots='2' unit='GiB'>64</maxMemory>", "");
  write_guest(guests / "b/b.xml", "b",
              "<memory unit='GiB'>2</memory><memtune><hard_limit unit='GiB'>5</hard_limit>"
              "</memtune>",
              "");
  const auto r = run_pcipass(host.args({"permissions", "--group", group, "--xml-dir",
                                        guests.string(), "--guest", "a", "--guest", "b",
                                        "--guest", "a", "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("guest 'a' may lock 6 GiB (its memory, from"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(its memtune hard_limit, from"), std::string::npos) << r.out;
  // Each guest once, however often it is named.
  EXPECT_NE(host.read(k_limits).find("guests of a (6 GiB) + b (5 GiB) plus a 1 GiB margin = 12 "
                                     "GiB"),
            std::string::npos)
      << host.read(k_limits);

  write_guest(guests / "c/c.xml", "c",
              "<memory unit='GiB'>2</memory><memoryBacking><locked/></memoryBacking>", "");
  const auto locked = run_pcipass(host.args({"permissions", "--group", group, "--xml-dir",
                                             guests.string(), "--guest", "a", "--guest", "c",
                                             "02:00.0"}));
  ASSERT_EQ(locked.exit_code, 0) << locked.err;
  EXPECT_NE(host.read(k_limits).find("@" + group + " hard memlock unlimited\n"), std::string::npos)
      << host.read(k_limits);
}

// A folder of guests as kdevops leaves it: a subfolder without NAME.xml, a
// dangling link and a flat file of a guest that also has DIR/NAME/NAME.xml
// are no error, and no guest counts twice.
TEST(CliPermissions, AnUntidyXmlDirIsReadWhole) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  PermissionsHost host;
  const fs::path guests = host.dir.path() / "guestfs";
  write_guest(guests / "xfs/xfs.xml", "xfs", "<memory unit='GiB'>4</memory>", "02");
  write_guest(guests / "xfs.xml", "xfs", "<memory unit='GiB'>4</memory>", "02");
  fs::create_directories(guests / "zzz-old");
  fs::create_symlink("nowhere", guests / "zzz-gone");
  const auto r = run_pcipass(
      host.args({"permissions", "--group", group, "--xml-dir", guests.string(), "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(host.read(k_limits).find("guests of xfs (4 GiB) plus a 1 GiB margin = 5 GiB"),
            std::string::npos)
      << host.read(k_limits);
}

TEST(CliPermissions, MissingGuestsAndMixedSizeOptionsChangeNothing) {
  PermissionsHost host;
  const fs::path guests = host.dir.path() / "guestfs";
  write_guest(guests / "nosize/nosize.xml", "nosize", "", "02");
  const std::string before = snapshot_tree(host.dir.path());
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--xml-dir", guests.string(), "--guest", "gone"}, "no definition of guest 'gone'"},
      {{"--xml-dir", guests.string()}, "guest 'nosize' ("},
      {{"--guest", "x", "--guest-memory", "4G"}, "--guest-memory gives the guests' sizes by hand"},
      {{"--guest", "x"}, "say where its definition is"},
      {{"--guest", "a\nb", "--xml-dir", guests.string()}, "is not a guest name"},
      {{"--xml-dir", (guests / "nosize/nosize.xml").string()}, "is not a folder"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"permissions", "02:00.0"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = run_pcipass(host.args(args));
    EXPECT_EQ(r.exit_code, 2) << c.message << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  fs::remove_all(host.dir.path() / "sys/../var");  // the lock file is all a refused run leaves
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

// Without --xml-dir or -c nothing is read (root's default libvirt holds
// system guests, which need no limit): the default size is used, and said.
TEST(CliPermissions, WithoutXmlDirOrUriTheDefaultSizeIsSaid) {
  PermissionsHost host;
  const auto r = run_pcipass(host.args({"permissions", "--dry-run", "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("note: guests not read: give --xml-dir DIR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sizing the memlock limit for one 8 GiB guest"), std::string::npos);
}

}  // namespace
}  // namespace pcipass::test
