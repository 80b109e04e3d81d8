// `pcipass restore`, `install-service` and `release --all` undoing
// permissions: the real binary on a simulated host. The host is put in
// shape in this process by the simulated kernel (bind, permissions, reboot);
// the binary then sees plain files with no kernel behind them, so these tests
// cover what it decides, prints and writes (behaviour: tests/host/test_restore.cpp).

#include "support/fake_os.hpp"
#include "support/simulated_kernel.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/permissions_planner.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <grp.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_zns = "0000:02:00.0";  // workstation: nvme, group 9, free

std::string own_group() {
  const struct group* entry = ::getgrgid(::getgid());
  return entry == nullptr ? std::string() : std::string(entry->gr_name);
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The workstation with 0000:02:00.0 bound and opened to this process's
// group by the simulated kernel, its journal beside sys/ where the binary
// looks by default.
struct PreparedHost {
  PreparedHost() : kernel("workstation"), os(&kernel) {
    const core::PciAddress zns = core::PciAddress::parse(k_zns).value();
    host::Journal journal = host::Journal::load(os, state()).value_or_throw();
    auto inventory = host::read_sysfs_inventory(kernel).value_or_throw();
    core::BindRequest bind{{zns}, core::Force::no, core::GroupExpansion::named_only};
    auto actions = core::plan_bind(inventory, bind, journal.state(), core::VfioModule::loaded)
                       .value_or_throw()
                       .actions;
    core::PermissionRequest perms;
    perms.devices = {{zns, 9, "vfio-pci"}};
    perms.group = own_group();
    perms.limit_name = perms.group;
    perms.sysfs_root = sys().string();
    perms.dev_root = kernel.dev_root().string();
    perms.etc_root = etc().string();
    for (const core::Action& a : core::plan_permissions(perms).value_or_throw()) {
      actions.push_back(a);
    }
    fs::create_directories(etc() / "udev/rules.d");
    fs::create_directories(etc() / "security/limits.d");
    host::Executor executor(kernel, kernel.dev(), os, &journal, host::DryRun::no,
                            {sys().string(), kernel.dev_root().string(), etc().string()});
    executor.run(actions).value_or_throw();
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"--sysfs-root", sys().string()});
    return rest;
  }
  fs::path sys() const { return kernel.sys_root(); }
  fs::path etc() const { return kernel.root() / "etc"; }
  fs::path state() const { return kernel.root() / "var/lib/pcipass"; }

  SimulatedKernel kernel;
  FakeOs os;
};

TEST(CliRestore, ADeviceStillOnVfioIsSkippedAndASecondRunChangesNothing) {
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  PreparedHost host;
  const auto first = run_pcipass(host.args({"restore"}));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string etc = host.etc().string();
  const std::string sys = host.sys().string();
  const std::string expected =
      "note: 0000:02:00.0 is already on vfio-pci\n"
      "note: unchanged: " +
      etc +
      "/udev/rules.d/90-pcipass-vfio.rules\n"
      "note: unchanged: " +
      host.kernel.dev_root().string() +
      "/vfio/9\n"
      "note: unchanged: " +
      sys +
      "/bus/pci/devices/0000:02:00.0/driver_override\n"
      "note: unchanged: " +
      sys +
      "/bus/pci/drivers/vfio-pci/unbind\n"
      "note: unchanged: " +
      sys +
      "/bus/pci/drivers_probe\n"
      "note: unchanged: " +
      etc +
      "/security/limits.d/90-pcipass-memlock.conf\n"
      "nothing to do\n";
  EXPECT_EQ(first.out, expected);
  const std::string before = snapshot_tree(host.kernel.root());
  const auto second = run_pcipass(host.args({"restore"}));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, expected);
  EXPECT_EQ(snapshot_tree(host.kernel.root()), before);
}

TEST(CliRestore, AfterARebootDryRunShowsTheWorkAndChangesNothing) {
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  PreparedHost host;
  host.kernel.reboot();
  const std::string before = snapshot_tree(host.kernel.root());
  const auto r = run_pcipass(host.args({"restore", "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sys = host.sys().string();
  const std::string group = own_group();
  EXPECT_TRUE(r.out.starts_with("note: unchanged: " + host.etc().string() +
                                "/udev/rules.d/90-pcipass-vfio.rules\n"))
      << r.out;
  EXPECT_NE(r.out.find("bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from nvme\n"
                       "  write \"vfio-pci\" to " +
                       sys + "/bus/pci/devices/0000:02:00.0/driver_override\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("set mode 0664 and group " + group + " on " + sys +
                       "/bus/pci/devices/0000:02:00.0/driver_override\n"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(r.out.ends_with("dry run: nothing was changed\n")) << r.out;
  EXPECT_EQ(snapshot_tree(host.kernel.root()), before);

  const auto json = run_pcipass(host.args({"--json", "restore", "--dry-run"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["command"], "restore");
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_EQ(doc["refused"], nlohmann::json::array());
  EXPECT_EQ(doc["error"], nullptr);
  // The bind, then the modes: /dev/vfio/9 (which the bind makes again) and
  // three sysfs files.
  ASSERT_EQ(doc["actions"].size(), 5u);
  EXPECT_EQ(doc["actions"][0]["action"]["action"], "bind-to-vfio");
  EXPECT_EQ(doc["actions"][0]["action"]["restore_driver"], "nvme");
  EXPECT_EQ(doc["actions"][1]["action"]["action"], "set-permissions");
  EXPECT_EQ(doc["actions"][1]["action"]["path"], host.kernel.dev_root().string() + "/vfio/9");
  EXPECT_EQ(doc["actions"][1]["operations"][0]["kind"], "set-permissions");
  EXPECT_EQ(snapshot_tree(host.kernel.root()), before);
}

TEST(CliRestore, ADeviceWithOtherIdsAfterTheRebootIsRefusedTheRestIsRestored) {
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  PreparedHost host;
  host.kernel.reboot();
  host.kernel.set_ids(k_zns, 0x8086, 0x0a54);
  fs::remove(host.etc() / "security/limits.d/90-pcipass-memlock.conf");
  const auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to restore:\n"
            "  0000:02:00.0: is now 8086:0a54, but pcipass bound 1b96:2600 there; not touching "
            "it\n");
  EXPECT_EQ(r.out.find("bind 0000:02:00.0"), std::string::npos) << r.out;
  EXPECT_EQ(host.kernel.override_of(k_zns), "");
  EXPECT_EQ(host.kernel.driver_of(k_zns), "nvme");
  EXPECT_NE(r.out.find("90-pcipass-memlock.conf is missing: writing it again\n"), std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(host.etc() / "security/limits.d/90-pcipass-memlock.conf"));
  EXPECT_EQ(fs::status(host.sys() / "bus/pci/drivers_probe").permissions() & fs::perms::all,
            fs::perms(0220));

  const auto json = run_pcipass(host.args({"--json", "restore", "--dry-run"}));
  EXPECT_EQ(json.exit_code, 5);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["refused"].size(), 1u);
  EXPECT_EQ(doc["error"], r.err.substr(16, r.err.size() - 17));
}

TEST(CliRestore, ADeviceThatFailsToBindDoesNotKeepTheRestFromBeingRestored) {
  // The binary sees plain files: its probe moves nothing, so the bind fails
  // as a driver that refuses the device would. At boot the rest must still
  // be restored: files and modes, all but the mode of the group's node.
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  PreparedHost host;
  host.kernel.reboot();
  fs::remove(host.etc() / "security/limits.d/90-pcipass-memlock.conf");
  const auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "pcipass: error: 2 steps failed:\n"
                   "  binding 0000:02:00.0 to vfio-pci: after probing, its driver is nvme, not "
                   "vfio-pci\n"
                   "  set mode 0660 and group " + own_group() + " on " +
                       (host.kernel.dev_root() / "vfio/9").string() +
                       ": not attempted, binding 0000:02:00.0 failed\n");
  EXPECT_TRUE(fs::exists(host.etc() / "security/limits.d/90-pcipass-memlock.conf"));
  EXPECT_EQ(fs::status(host.sys() / "bus/pci/drivers_probe").permissions() & fs::perms::all,
            fs::perms(0220));
  const auto status = run_pcipass(host.args({"status"}));
  EXPECT_NE(status.out.find("interrupted (failed): run pcipass bind again"), std::string::npos)
      << status.out;
}

TEST(CliStatus, RecordedFilesAndModesAreCheckedAgainstWhatIsThereNow) {
  // The journal says "done" for every mode; after a reboot the kernel has
  // its own modes back, and status must say so rather than repeat the journal.
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  PreparedHost host;
  const std::string probe = "set mode 0220 and group " + own_group() + " on " +
                            (host.sys() / "bus/pci/drivers_probe").string();
  const std::string limits = (host.etc() / "security/limits.d/90-pcipass-memlock.conf").string();
  const auto before = run_pcipass(host.args({"status"}));
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find("done: " + probe + "; as recorded\n"), std::string::npos)
      << before.out;

  host.kernel.reboot();
  fs::remove(limits);
  const auto after = run_pcipass(host.args({"status"}));
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(after.out.find("done: " + probe + "; now mode 0644 group root\n"), std::string::npos)
      << after.out;
  EXPECT_NE(after.out.find("done: write " + limits), std::string::npos) << after.out;
  EXPECT_NE(after.out.find(limits + " (mode 0644, 204 bytes); missing\n"), std::string::npos)
      << after.out;
  const auto json = run_pcipass(host.args({"--json", "status"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  std::set<std::string> states;
  for (const auto& entry : doc["other"]) states.insert(entry["now"].dump());
  EXPECT_TRUE(states.contains(R"({"group":null,"mode":null,"state":"missing"})")) << json.out;
  EXPECT_TRUE(states.contains(R"({"group":"root","mode":"0644","state":"differs"})"))
      << json.out;
  EXPECT_TRUE(states.contains(R"({"group":"root","mode":"0644","state":"as-recorded"})"))
      << json.out;
}

TEST(CliRestore, AnEmptyJournalNeedsNoIommu) {
  TempDir dir;
  fs::copy(sim_host("noiommu") / "sys", dir.path() / "sys",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const auto r = run_pcipass({"--sysfs-root", (dir.path() / "sys").string(), "restore"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "nothing to do\n");
}

TEST(CliRelease, AllAlsoRemovesTheFilesAndPutsTheModesBack) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  TempDir dir;
  for (const char* part : {"sys", "proc", "dev"}) {
    fs::copy(sim_host("workstation") / part, dir.path() / part,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  fs::create_directories(dir.path() / "etc");
  put_file(dir.path() / "etc/group", group + ":x:" + std::to_string(::getgid()) + ":\n");
  const std::string before = snapshot_tree(dir.path());
  const std::vector<std::string> root{"--sysfs-root", (dir.path() / "sys").string()};
  auto args = [&](std::vector<std::string> rest) {
    rest.insert(rest.begin(), root.begin(), root.end());
    return rest;
  };
  const auto perms = run_pcipass(args({"permissions", "--group", group, "2d:00.0"}));
  ASSERT_EQ(perms.exit_code, 0) << perms.err;
  ASSERT_TRUE(fs::exists(dir.path() / "etc/udev/rules.d/90-pcipass-vfio.rules"));

  const auto release = run_pcipass(args({"release", "--all"}));
  ASSERT_EQ(release.exit_code, 0) << release.err;
  const std::string sys = (dir.path() / "sys").string();
  EXPECT_NE(release.out.find("set mode 0644 and group " + group + " back on " + sys +
                             "/bus/pci/devices/0000:2d:00.0/driver_override\n"),
            std::string::npos)
      << release.out;
  EXPECT_NE(release.out.find("remove " + (dir.path() / "etc").string() +
                             "/udev/rules.d/90-pcipass-vfio.rules, written by pcipass"),
            std::string::npos)
      << release.out;
  const auto status = run_pcipass(args({"status"}));
  EXPECT_EQ(status.out, "pcipass has changed nothing on this host (journal " +
                            (dir.path() / "var/lib/pcipass/journal.json").string() + ")\n");
  // What is left: the empty folders the files went into, and the state folder.
  fs::remove_all(dir.path() / "var");
  fs::remove_all(dir.path() / "etc/udev");
  fs::remove_all(dir.path() / "etc/security");
  EXPECT_EQ(snapshot_tree(dir.path()), before);
}

TEST(CliInstallService, WritesTheUnitForThisBinaryThroughTheJournal) {
  PreparedHost host;
  const fs::path unit = host.etc() / "systemd/system/pcipass-restore.service";
  const std::string before = snapshot_tree(host.kernel.root());
  const auto dry = run_pcipass(host.args({"install-service", "--dry-run"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(snapshot_tree(host.kernel.root()), before);

  const auto r = run_pcipass(host.args({"install-service"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "note: to run it at boot: systemctl daemon-reload && systemctl enable "
            "pcipass-restore.service\n"
            "write " +
                unit.string() + " (mode 0644, " + std::to_string(fs::file_size(unit)) +
                " bytes)\n"
                "  write " +
                unit.string() + " (mode 0644, " + std::to_string(fs::file_size(unit)) +
                " bytes)\n");
  const std::string text = read(unit);
  const std::string exec = "\nExecStart=" + fs::canonical(PCIPASS_EXE).string() + " --sysfs-root " +
                           host.sys().string() + " --state-dir " + host.state().string() +
                           " restore\n";
  EXPECT_NE(text.find(exec), std::string::npos) << text;
  for (const char* line :
       {"Type=oneshot\n", "RemainAfterExit=yes\n", "WantedBy=multi-user.target\n",
        "Before=libvirtd.service virtqemud.service\n",
        "After=systemd-udev-settle.service systemd-modules-load.service\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(text.find("/usr/local/sbin"), std::string::npos);
  EXPECT_EQ(fs::status(unit).permissions() & fs::perms::all, fs::perms(0644));

  const auto again = run_pcipass(host.args({"install-service"}));
  EXPECT_EQ(again.out, "note: unchanged: " + unit.string() +
                           "\nnote: to run it at boot: systemctl daemon-reload && systemctl "
                           "enable pcipass-restore.service\nnothing to do\n");
  // release --all leaves the unit: systemd must disable it first.
  const auto release = run_pcipass(host.args({"release", "--all", "--dry-run"}));
  EXPECT_NE(release.out.find(unit.string() + " stays: to remove the boot service, run systemctl "
                                             "disable pcipass-restore.service and delete the file"),
            std::string::npos)
      << release.out;
}

}  // namespace
}  // namespace pcipass::test
