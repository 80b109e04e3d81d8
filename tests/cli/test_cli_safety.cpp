// The holes an adversarial pass found (issue 16), each shut and kept shut:
// the host's disks behind btrfs and ZFS, roots and journals confined to the
// run's own tree, outputs that never replace device nodes or links, domain
// files edited through links and one run at a time. The real binary on
// private copies of simulated hosts.

#include "support/simulated_kernel.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <thread>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

// A private copy of a simulated host with an etc/ of its own.
struct Host {
  explicit Host(const std::string& name) {
    fs::create_directories(root());
    for (const char* part : {"sys", "proc", "dev", "run"}) {
      if (fs::exists(sim_host(name) / part)) {
        fs::copy(sim_host(name) / part, root() / part,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      }
    }
    put_file(root() / "etc/group", "root:x:0:\nkvm:x:104:\n");
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"--sysfs-root", (root() / "sys").string()});
    return rest;
  }
  fs::path root() const { return dir.path() / "host"; }
  fs::path state() const { return root() / "var/lib/pcipass"; }
  fs::path journal() const { return state() / "journal.json"; }
  TempDir dir;
};

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return static_cast<unsigned>(st.st_mode & 07777);
}

// Runs pcipass through a shell line: for a working folder or a umask.
CommandResult run_in_shell(const std::string& line) {
  return run_command({"/bin/sh", "-c", line});
}

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

// --- the host's own disks ---------------------------------------------------

TEST(CliSafety, TheSecondMemberOfABtrfsRootIsRefused) {
  Host host("btrfs");
  const std::string before = snapshot_tree(host.root() / "sys");
  const auto r = run_pcipass(host.args({"bind", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to bind:\n"
            "  0000:02:00.0: used by the host: backs / (btrfs on /dev/nvme0n1p2); backs /home "
            "(btrfs on /dev/nvme0n1p2) (--force binds it anyway)\n");
  EXPECT_TRUE(snapshot_tree(host.root() / "sys") == before);
  // The third drive, of the same model, is free.
  const auto free = run_pcipass(host.args({"bind", "--dry-run", "03:00.0"}));
  EXPECT_EQ(free.exit_code, 0) << free.err;
}

TEST(CliSafety, AZfsRootIsTheHostsAndAnUntracedRootLeavesNoDiskFree) {
  Host host("zfs");
  auto r = run_pcipass(host.args({"bind", "--dry-run", "01:00.0"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("0000:01:00.0: used by the host: backs / (zfs on rpool/ROOT/pve-1)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(run_pcipass(host.args({"bind", "--dry-run", "02:00.0"})).exit_code, 0);

  // Without udev's database (--run-root elsewhere) / traces to nothing: every
  // storage controller needs --force, and list and groups say why.
  const std::string hidden = (host.dir.path() / "no-run").string();
  r = run_pcipass(host.args({"--run-root", hidden, "bind", "--dry-run", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to bind:\n"
            "  0000:02:00.0: host usage unknown: / (zfs on rpool/ROOT/pve-1) is traced to no "
            "device (--force binds it anyway)\n");
  r = run_pcipass(host.args({"--run-root", hidden, "bind", "--dry-run", "--force", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("note: 0000:02:00.0 may be used by the host (host usage unknown: / (zfs "
                       "on rpool/ROOT/pve-1) is traced to no device); binding it anyway (--force)"),
            std::string::npos)
      << r.out;
  r = run_pcipass(host.args({"--run-root", hidden, "--json", "list"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto listed = nlohmann::json::parse(r.out);
  for (const auto& d : listed["devices"]) {
    const bool nvme = d["class"] == "0x010802";
    EXPECT_EQ(d["status"], nvme ? "host-usage-unknown" : d["status"]) << d.dump();
    if (nvme) {
      EXPECT_EQ(d["host_usage_unknown"], "/ (zfs on rpool/ROOT/pve-1) is traced to no device");
    } else {
      EXPECT_TRUE(d["host_usage_unknown"].is_null()) << d.dump();
    }
  }
  EXPECT_EQ(r.err,
            "pcipass: warning: / (zfs on rpool/ROOT/pve-1) is traced to no device: host usage "
            "unknown for 2 devices, which need --force like the host's own (pcipass doctor says "
            "more)\n");
  r = run_pcipass(host.args({"--run-root", hidden, "groups"}));
  EXPECT_NE(r.out.find("IOMMU group 5: blocked\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  why: 0000:02:00.0: host usage unknown: / (zfs on rpool/ROOT/pve-1) is "
                       "traced to no device\n"),
            std::string::npos)
      << r.out;
}

// --- roots and journals -------------------------------------------------------

TEST(CliSafety, RelativeRootsAreJournaledAsAbsolutePaths) {
  // Run from inside the host with relative roots, as a person might; restore
  // then runs from / (the boot service's folder) and must find the same files.
  Host host("btrfs");
  const auto r = run_in_shell("cd " + quoted(host.root()) + " && exec " + PCIPASS_EXE +
                              " --sysfs-root sys permissions --group kvm 03:00.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto journal = nlohmann::json::parse(file_text(host.journal()));
  ASSERT_EQ(journal["entries"].size(), 5u) << journal.dump();
  for (const auto& entry : journal["entries"]) {
    const std::string path = entry["action"]["path"];
    EXPECT_TRUE(path.starts_with(host.root().string() + "/")) << path;
  }
  const auto restore = run_in_shell("cd / && exec " + std::string(PCIPASS_EXE) + " --sysfs-root " +
                                    quoted(host.root() / "sys") + " restore");
  EXPECT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_NE(restore.out.find("note: unchanged: " + host.root().string() +
                             "/etc/udev/rules.d/90-pcipass-vfio.rules"),
            std::string::npos)
      << restore.out;
}

// A journal holding one file action, as restore or release would read it.
std::string journal_with(const nlohmann::json& action) {
  nlohmann::json entry{{"id", 1}, {"state", "done"}, {"error", ""}, {"action", action}};
  return nlohmann::json{
      {"format", "pcipass-journal"}, {"version", 1}, {"entries", {entry}}, {"next_id", 2}}
      .dump(2);
}

TEST(CliSafety, AJournalNamingFilesOutsideTheRunsRootsIsRefused) {
  Host host("btrfs");
  const fs::path victim = host.dir.path() / "victim";
  put_file(victim, "private\n");
  fs::permissions(victim, fs::perms::owner_read | fs::perms::owner_write);
  const fs::path planted = host.dir.path() / "planted";
  const std::vector<std::pair<nlohmann::json, std::string>> crafted{
      // restore rewrites a recorded file that changed or went missing...
      {{{"action", "write-file"},
        {"path", planted.string()},
        {"bytes", "#!/bin/sh\n"},
        {"mode", "6755"},
        {"group", ""}},
       "outside the folders this run may change"},
      // ...and re-applies recorded modes.
      {{{"action", "set-permissions"},
        {"path", victim.string()},
        {"mode", "0644"},
        {"group", ""},
        {"previous_mode", "0600"},
        {"previous_group", "root"}},
       "outside the folders this run may change"},
      {{{"action", "write-file"},
        {"path", "etc/udev/rules.d/90-pcipass-vfio.rules"},
        {"bytes", "x"},
        {"mode", "0644"},
        {"group", ""}},
       "not a clean absolute path"},
      {{{"action", "write-file"},
        {"path", (host.root() / "etc/udev/rules.d/../../../../planted").string()},
        {"bytes", "x"},
        {"mode", "0644"},
        {"group", ""}},
       "not a clean absolute path"},
      {{{"action", "write-file"},
        {"path", (host.root() / "etc/planted").string()},
        {"bytes", "x"},
        {"mode", "4755"},
        {"group", ""}},
       "mode 4755 is set-uid, set-gid, sticky or world-writable"},
  };
  put_file(host.state() / "lock", "");  // restore takes the lock before it reads the journal
  fs::permissions(host.state() / "lock", fs::perms::owner_read | fs::perms::owner_write);
  for (const auto& [action, why] : crafted) {
    SCOPED_TRACE(action.dump());
    put_file(host.journal(), journal_with(action));
    const std::string before = snapshot_tree(host.dir.path());
    const auto r = run_in_shell("cd " + quoted(host.dir.path()) + " && exec " + PCIPASS_EXE +
                                " --sysfs-root " + quoted(host.root() / "sys") + " restore");
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_TRUE(snapshot_tree(host.dir.path()) == before);
    EXPECT_EQ(mode_of(victim), 0600u);
    EXPECT_FALSE(fs::exists(planted));
  }
}

TEST(CliSafety, RestoreDoesWhatStaysInsideItsRootsAndListsTheRest) {
  // One entry outside the roots must not keep the others from the boot.
  Host host("btrfs");
  ASSERT_EQ(run_pcipass(host.args({"permissions", "--group", "kvm", "03:00.0"})).exit_code, 0);
  auto journal = nlohmann::json::parse(file_text(host.journal()));
  const fs::path elsewhere = host.dir.path() / "elsewhere.rules";
  journal["entries"].push_back(
      {{"id", 99}, {"state", "done"}, {"error", ""},
       {"action", {{"action", "write-file"}, {"path", elsewhere.string()}, {"bytes", "x"},
                   {"mode", "0644"}, {"group", ""}}}});
  journal["next_id"] = 100;
  put_file(host.journal(), journal.dump(2));
  fs::remove(host.root() / "etc/udev/rules.d/90-pcipass-vfio.rules");  // lost in a reboot
  const auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("refusing to write " + elsewhere.string()), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(host.root() / "etc/udev/rules.d/90-pcipass-vfio.rules"));
  EXPECT_FALSE(fs::exists(elsewhere));
}

TEST(CliSafety, InstallServiceIntoAFolderOfItsOwnAndTheRootsItNeeds) {
  Host host("btrfs");
  const fs::path units = host.dir.path() / "units";
  fs::create_directories(units);
  const std::string dev = (host.root() / "dev").string();
  auto r = run_in_shell("cd " + quoted(host.dir.path()) + " && exec " + PCIPASS_EXE +
                        " --sysfs-root " + quoted(host.root() / "sys") + " --dev-root " +
                        quoted(fs::path(dev)) + " install-service --unit-dir units");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string unit = file_text(units / "pcipass-restore.service");
  EXPECT_NE(unit.find(" --dev-root " + dev + " restore\n"), std::string::npos) << unit;
  EXPECT_EQ(unit.find("--etc-root"), std::string::npos) << unit;  // not given: derived again
}

TEST(CliSafety, ACopiedHostNeverUndoesTheOriginal) {
  Host original("btrfs");
  ASSERT_EQ(run_pcipass(original.args({"permissions", "--group", "kvm", "03:00.0"})).exit_code, 0);
  const std::string before = snapshot_tree(original.root());
  TempDir copy_dir;
  const fs::path copy = copy_dir.path() / "copy";
  ASSERT_EQ(run_command({"cp", "-a", original.root().string(), copy.string()}).exit_code, 0);
  const auto r = run_pcipass({"--sysfs-root", (copy / "sys").string(), "release", "--all"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("5 steps refused, nothing was changed:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("outside the folders this run may change (" + (copy / "sys").string()),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(snapshot_tree(original.root()) == before);
}

TEST(CliSafety, AJournalOthersCouldHaveWrittenIsRefused) {
  Host host("btrfs");
  ASSERT_EQ(run_pcipass(host.args({"permissions", "--group", "kvm", "03:00.0"})).exit_code, 0);
  fs::permissions(host.state(), fs::perms::all);
  auto r = run_pcipass(host.args({"status"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: refusing the journal: its folder " + host.state().string() +
                       " could be changed by others (mode 0777, owner uid 0); make it owned by "
                       "root and not group- or world-writable (chown root; chmod go-w)\n");
  fs::permissions(host.state(), fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
  fs::permissions(host.journal(), fs::perms::others_write, fs::perm_options::add);
  r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("its file " + host.journal().string() + " could be changed by others"),
            std::string::npos)
      << r.err;
}

TEST(CliSafety, FoldersGetTheirModeWhateverTheUmask) {
  if (::geteuid() != 0) GTEST_SKIP() << "writes a group-owned file: needs root";
  Host host("btrfs");
  const auto r = run_in_shell("umask 0 && exec " + std::string(PCIPASS_EXE) + " --sysfs-root " +
                              quoted(host.root() / "sys") + " permissions --group kvm 03:00.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* folder : {"var", "var/lib", "var/lib/pcipass", "etc/udev", "etc/udev/rules.d",
                             "etc/security", "etc/security/limits.d"}) {
    EXPECT_EQ(mode_of(host.root() / folder), 0755u) << folder;
  }
  EXPECT_EQ(mode_of(host.journal()), 0644u);
  EXPECT_EQ(mode_of(host.state() / "lock"), 0600u);
}

TEST(CliSafety, ALinkPlantedAsTheLockIsNeverFollowed) {
  Host host("btrfs");
  fs::create_directories(host.state());
  const fs::path target = host.dir.path() / "created-by-root";
  fs::create_symlink(target, host.state() / "lock");
  const auto r = run_pcipass(host.args({"bind", "03:00.0"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: opening the lock " + (host.state() / "lock").string() +
                       ": it is a symbolic link, which pcipass never follows there; remove it\n");
  EXPECT_FALSE(fs::exists(target));
}

TEST(CliSafety, AttributesThatAreLinksOutOfTheTreeAreNeverFollowed) {
  // A hostile copy of a host: drivers_probe and a driver_override point at
  // files outside it. Neither chmod (permissions) nor a write (bind) may
  // reach them.
  Host host("btrfs");
  const fs::path outside = host.dir.path() / "outside";
  put_file(outside, "keep\n");
  fs::permissions(outside, fs::perms::owner_read | fs::perms::owner_write);
  const fs::path probe = host.root() / "sys/bus/pci/drivers_probe";
  fs::remove(probe);
  fs::create_symlink(outside, probe);
  auto r = run_pcipass(host.args({"permissions", "--group", "kvm", "03:00.0"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("changing the mode of " + probe.string() +
                       ": it is a symbolic link, which pcipass never follows there"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(mode_of(outside), 0600u);

  const fs::path override_file = host.root() / "sys/bus/pci/devices/0000:03:00.0/driver_override";
  fs::remove(override_file);
  fs::create_symlink(outside, override_file);
  fs::remove(probe);
  put_file(probe, "");
  r = run_pcipass(host.args({"release", "--all"}));  // the permissions run above left entries
  r = run_pcipass(host.args({"bind", "03:00.0"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("writing " + override_file.string() +
                       ": it is a symbolic link, which pcipass never writes through"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(file_text(outside), "keep\n");
}

TEST(CliSafety, PermissionsForAMissingGroupWritesNothing) {
  // It wrote a live udev rule naming the group, then failed at the chown.
  Host host("btrfs");
  const std::string before = snapshot_tree(host.root());
  const auto r = run_pcipass(host.args({"permissions", "--group", "kvmm", "03:00.0"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: no group 'kvmm' in " + (host.root() / "etc/group").string() +
                       "; create it (groupadd) or name an existing one with --group\n");
  EXPECT_TRUE(snapshot_tree(host.root()) == before);
}

TEST(CliSafety, AModeChangeThatNeverTookIsNotRestoredAndReleaseClearsIt) {
  // /dev/vfio/7 was gone when permissions ran: no earlier mode recorded, the
  // entry failed. restore must not apply 0660 to the node a bind re-creates,
  // and release --all must be able to clear the entry.
  Host host("btrfs");
  const fs::path node = host.root() / "dev/vfio/7";
  put_file(host.journal(),
           journal_with({{"action", "set-permissions"}, {"path", node.string()}, {"mode", "0660"},
                         {"group", "kvm"}}));
  put_file(node, "");
  fs::permissions(node, fs::perms::owner_read | fs::perms::owner_write);
  auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(node.string() + ": its mode change never took (the file was missing); not "
                                       "restored (pcipass release --all forgets it)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(mode_of(node), 0600u);
  r = run_pcipass(host.args({"release", "--all"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mode_of(node), 0600u);
  EXPECT_EQ(nlohmann::json::parse(file_text(host.journal()))["entries"].size(), 0u)
      << file_text(host.journal());
}

TEST(CliSafety, TemporariesAKilledRunLeftAreCleanedByTheNextRun) {
  Host host("btrfs");
  ASSERT_EQ(run_pcipass(host.args({"permissions", "--group", "kvm", "03:00.0"})).exit_code, 0);
  const fs::path rules = host.root() / "etc/udev/rules.d";
  for (const fs::path& leftover : {host.state() / ".journal.json.pcipass-a1B2c3",
                                   rules / ".90-pcipass-vfio.rules.pcipass-Zz9Yy8"}) {
    put_file(leftover, "half written");
  }
  put_file(rules / ".other.pcipass-keepme", "not ours");  // another file's: stays
  put_file(rules / "90-pcipass-vfio.rules", "edited\n");  // so restore rewrites it
  const auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(host.state() / ".journal.json.pcipass-a1B2c3"));
  EXPECT_FALSE(fs::exists(rules / ".90-pcipass-vfio.rules.pcipass-Zz9Yy8"));
  EXPECT_TRUE(fs::exists(rules / ".other.pcipass-keepme"));
}

TEST(CliSafety, ReleaseAllGivesBackWhatItCanAndForgetDropsTheRest) {
  // Two journaled binds; the card at one address is now another model. A
  // copied tree has no kernel to move drivers, so 03:00.0 stands for a
  // device a reboot already gave back to nvme (release then only clears its
  // driver_override), and 04:00.0 sits on vfio-pci.
  Host host("btrfs");
  const fs::path nic = host.root() / "sys/bus/pci/devices/0000:04:00.0";
  fs::remove(nic / "driver");
  fs::create_symlink("../../../../bus/pci/drivers/vfio-pci", nic / "driver");
  nlohmann::json entries = nlohmann::json::array();
  std::uint64_t id = 1;
  for (const auto& [address, ids, driver, group] :
       {std::tuple{"0000:03:00.0", "144d:a80a", "nvme", 7},
        std::tuple{"0000:04:00.0", "8086:15f3", "igc", 8}}) {
    entries.push_back({{"id", id++}, {"state", "done"}, {"error", ""},
                       {"action", {{"action", "bind-to-vfio"}, {"address", address},
                                   {"expected_ids", ids}, {"current_driver", driver},
                                   {"restore_driver", driver}, {"iommu_group", group}}}});
  }
  put_file(host.journal(), nlohmann::json{{"format", "pcipass-journal"}, {"version", 1},
                                          {"next_id", id}, {"entries", entries}}
                               .dump(2));
  auto r = run_pcipass(host.args({"release", "--all"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  // 03:00.0 was released before the refusal.
  EXPECT_NE(r.out.find("release 0000:03:00.0 (144d:a80a) from nvme back to nvme"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("refusing to release:\n  0000:04:00.0: is now 8086:125c, but pcipass "
                       "bound 8086:15f3 there; not touching it (pcipass release --forget "
                       "0000:04:00.0 drops it"),
            std::string::npos)
      << r.err;
  r = run_pcipass(host.args({"release", "--forget", "04:00.0"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("forget 0000:04:00.0 (8086:15f3): dropped from the journal on request"),
            std::string::npos)
      << r.out;
  const auto journal = nlohmann::json::parse(file_text(host.journal()));
  for (const auto& entry : journal["entries"]) {
    EXPECT_NE(entry["action"].value("address", ""), "0000:04:00.0") << journal.dump();
  }
  EXPECT_EQ(fs::read_symlink(host.root() / "sys/bus/pci/devices/0000:04:00.0/driver").filename(),
            "vfio-pci");  // untouched
  EXPECT_EQ(run_pcipass(host.args({"release", "--forget", "--all"})).exit_code, 2);
}

// --- outputs ------------------------------------------------------------------

TEST(CliSafety, OutputsAreWrittenIntoDevicesAndThroughLinksNeverOverThem) {
  Host host("workstation");
  const fs::path out = host.dir.path() / "out";
  fs::create_directories(out);
  auto kconfig = [&](const fs::path& target) {
    return run_pcipass(host.args({"kconfig", "-o", target.string()}));
  };
  const auto reference = run_pcipass(host.args({"kconfig"}));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  // A link to /dev/stdout: the text goes to standard output, the link stays.
  fs::create_symlink("/dev/stdout", out / "stdout");
  auto r = kconfig(out / "stdout");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(reference.out)) << r.out;  // then the "wrote ..." line
  EXPECT_TRUE(fs::is_symlink(out / "stdout"));

  // A link to a file: that file gets the text, the link stays a link.
  put_file(out / "real.generated", "old\n");
  fs::create_symlink("real.generated", out / "link.generated");
  r = kconfig(out / "link.generated");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(out / "link.generated"));
  EXPECT_EQ(file_text(out / "real.generated"), reference.out);

  // A file with a second hard link: refused, both names keep the old text.
  put_file(out / "one", "old\n");
  fs::create_hard_link(out / "one", out / "two");
  r = kconfig(out / "one");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: writing " + (out / "one").string() +
                       ": it has 2 hard links, which replacing it would split; edit a copy\n");
  EXPECT_EQ(file_text(out / "two"), "old\n");

  // A folder, and (as root) a character device like /dev/null and a block device.
  fs::create_directories(out / "folder");
  r = kconfig(out / "folder");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: writing " + (out / "folder").string() +
                       ": it is a folder, and pcipass never replaces one with a file\n");
  if (::geteuid() == 0) {
    ASSERT_EQ(::mknod((out / "null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0);
    r = kconfig(out / "null");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_character_file(out / "null"));
    ASSERT_EQ(::mknod((out / "disk").c_str(), S_IFBLK | 0600, ::makedev(7, 250)), 0);
    r = kconfig(out / "disk");
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_TRUE(fs::is_block_file(out / "disk"));
  }
  // plan's outputs follow the same rules.
  const fs::path vars = out / "vars.yaml";
  fs::create_directories(vars);
  r = run_pcipass(
      host.args({"plan", "--guests", "g", "02:00.0=g", "--write-extra-vars", vars.string()}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_TRUE(fs::is_directory(vars));
}

// --- domain files ---------------------------------------------------------------

TEST(CliSafety, AttachEditsTheFileALinkNamesAndKeepsTheLink) {
  Host host("workstation");
  const fs::path real = host.dir.path() / "libvirt/g.xml";
  put_file(real, sample_guest("g"));
  const fs::path link = host.dir.path() / "g.xml";
  fs::create_symlink(real, link);
  const auto r = run_pcipass(host.args({"attach", "--xml", link.string(), "g", "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_NE(file_text(real).find("ua-pcipass-0000-02-00-0"), std::string::npos);

  // A hard-linked definition would be split by the rename: refused, unchanged.
  const fs::path other = host.dir.path() / "h.xml";
  put_file(other, sample_guest("h"));
  fs::create_hard_link(other, host.dir.path() / "h-again.xml");
  const auto split = run_pcipass(host.args({"attach", "--xml", other.string(), "h", "02:00.0"}));
  EXPECT_EQ(split.exit_code, 5) << split.err;
  EXPECT_EQ(file_text(other), sample_guest("h"));
}

TEST(CliSafety, ConcurrentAttachesToOneFileKeepEveryDevice) {
  Host host("workstation");
  const fs::path file = host.dir.path() / "g.xml";
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    put_file(file, sample_guest("g"));
    CommandResult first, second;
    std::thread a([&] {
      first = run_pcipass(host.args({"attach", "--xml", file.string(), "g", "02:00.0"}));
    });
    std::thread b([&] {
      second = run_pcipass(host.args({"attach", "--xml", file.string(), "g", "06:00.0"}));
    });
    a.join();
    b.join();
    EXPECT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(second.exit_code, 0) << second.err;
    const std::string text = file_text(file);
    EXPECT_NE(text.find("ua-pcipass-0000-02-00-0"), std::string::npos) << text;
    EXPECT_NE(text.find("ua-pcipass-0000-06-00-0"), std::string::npos) << text;
  }
}

TEST(CliSafety, BringupChecksEveryGuestFileBeforeItBindsAnything) {
  Host host("workstation");
  const fs::path guests = host.dir.path() / "guestfs";
  put_file(guests / "a.xml", sample_guest("a"));
  put_file(guests / "b.xml", sample_guest("b"));
  fs::permissions(guests / "b.xml", fs::perms::owner_read);  // refused even for root
  const std::string before = snapshot_tree(host.dir.path());
  for (const char* dry : {"--dry-run", ""}) {
    std::vector<std::string> args{"bringup",   "--guests",  "a,b",          "02:00.0=a",
                                  "06:00.0=b", "--xml-dir", guests.string()};
    if (*dry != '\0') args.emplace_back(dry);
    const auto r = run_pcipass(host.args(args));
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("the file is read-only (mode 0400)"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(snapshot_tree(host.dir.path()) == before);  // nothing bound, no journal, no guest
  }
}

}  // namespace
}  // namespace pcipass::test
