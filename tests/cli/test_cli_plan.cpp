// `pcipass plan` and `pcipass bringup` end to end: the real binary on the
// simulated workstation (read-only: plan and bringup --no-bind never touch
// sysfs) with guest XML files in a temporary folder.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> on_workstation(std::vector<std::string> args) {
  args.insert(args.begin(), {"--sysfs-root", (sim_host("workstation") / "sys").string()});
  return args;
}

bool have_virt_xml_validate() {
  return run_command({"virt-xml-validate", "--help"}).exit_code != 127;
}

TEST(CliPlan, RoundRobinOverTheGuestsAsATable) {
  const auto r = run_pcipass(on_workstation(
      {"plan", "--guests", "xfs,btrfs", "--technique", "roundrobin", "02:00.0", "06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "GUEST  DEVICE        IDS        GROUP  NAME\n"
            "xfs    0000:02:00.0  1b96:2600  9      /dev/nvme1n1 - WZS4C8T4TDSP303 with FW "
            "R1110021\n"
            "btrfs  0000:06:00.0  1022:149c  14     Advanced Micro Devices, Inc. [AMD] Matisse USB "
            "3.0 Host Controller\n");
}

TEST(CliPlan, JsonCarriesGroupCompletionAndForcedDevices) {
  const auto r = run_pcipass(on_workstation(
      {"--json", "plan", "02:00.0=xfs", "2d:00.0=gpu", "--whole-groups", "--force"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["technique"], "each");
  ASSERT_EQ(doc["guests"].size(), 2u);
  EXPECT_EQ(doc["guests"][1]["name"], "gpu");
  const auto& gpu = doc["guests"][1]["devices"];
  ASSERT_EQ(gpu.size(), 2u);
  EXPECT_EQ(gpu[0]["address"], "0000:2d:00.0");
  EXPECT_EQ(gpu[0]["host_in_use"], true);
  EXPECT_EQ(gpu[1]["address"], "0000:2d:00.1");
  EXPECT_EQ(gpu[1]["added_for_group"], true);
  // Group completion, the forced host device, and the card without a reset.
  ASSERT_EQ(doc["notes"].size(), 3u);
  EXPECT_EQ(doc["notes"][2],
            "0000:2d:00.0, 0000:2d:00.1 have no reset the kernel can use: state stays from one guest "
            "to the next and a guest restart may hang the device; give a guest every function of the "
            "card (so a bus reset may work) or reboot the host between guests");
  EXPECT_EQ(gpu[0]["identity"]["nvme_serial"], nullptr);
}

TEST(CliPlan, EveryProblemInOneRefusal) {
  const auto r = run_pcipass(on_workstation({"plan", "--guests", "xfs,btrfs", "2d:00.0=xfs",
                                             "01:00.0=xfs", "99:00.0=xfs", "06:00.0=ext4"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to assign the devices:\n"
            "  0000:99:00.0: no such PCI device on this host\n"
            "  0000:06:00.0: guest 'ext4' is not one of the guests (xfs, btrfs)\n"
            "  IOMMU group 15 of 0000:2d:00.0 also holds 0000:2d:00.1 (Advanced Micro Devices, "
            "Inc. [AMD/ATI] Navi 21/23 HDMI/DP Audio Controller); select every endpoint of the "
            "group, or use --whole-groups\n"
            "  0000:01:00.0: used by the host: backs / (ext4 on /dev/nvme0n1p2); backs /boot/efi "
            "(vfat on /dev/nvme0n1p1); swap on /dev/nvme0n1p3 (--force assigns it anyway)\n"
            "  0000:2d:00.0: used by the host: boot VGA device; framebuffer console (fb0) "
            "(--force assigns it anyway)\n");
}

TEST(CliPlan, BadOptionsAndFilesAreOneLineErrors) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  TempDir dir;
  test::put_file(dir.path() / "broken.yaml", "guestfs_nodes:\n  - name: [unclosed\n");
  test::put_file(dir.path() / "shape.yaml", "guestfs_nodes: 3\n");
  const std::vector<Case> cases = {
      {{"plan"}, 2, "nothing to plan"},
      {{"plan", "--technique", "sideways", "02:00.0"}, 2, "--technique 'sideways'"},
      {{"plan", "02:00.0=xfs", "--guest", "xfs"}, 2, "--guest names the one guest"},
      {{"plan", "--config", "/nonexistent/.config"}, 3, "reading /nonexistent/.config"},
      {{"plan", "--nodes", (dir.path() / "broken.yaml").string()}, 3, "broken.yaml"},
      {{"plan", "--nodes", (dir.path() / "shape.yaml").string()}, 3, "shape.yaml"},
      {{"plan", "2d:00.0:7"}, 2, "2d:00.0:7"},
      {{"plan", "--guests", "a,,b", "02:00.0"}, 2, "an empty guest name"},
  };
  for (const Case& c : cases) {
    const auto r = run_pcipass(on_workstation(c.args));
    EXPECT_EQ(r.exit_code, c.code) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(CliPlan, ConfigWithPassthroughOffPlansNothing) {
  TempDir dir;
  test::put_file(dir.path() / ".config", "# CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is not set\n");
  const auto r =
      run_pcipass(on_workstation({"plan", "--config", (dir.path() / ".config").string()}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nothing to plan"), std::string::npos);
}

TEST(CliPlan, ConfigSelectionIsRecheckedAgainstTheHost) {
  TempDir dir;
  // Entry 1 selected 144d:a80a at 02:00.0, but the workstation has a ZN540 there.
  test::put_file(dir.path() / ".config",
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_SPECIFIC=y\n"
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME=\"lab-xfs\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001=y\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID=\"0000:02:00.0\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_VENDOR_DEVICE=\"144d:a80a\"\n");
  const auto r =
      run_pcipass(on_workstation({"plan", "--config", (dir.path() / ".config").string()}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(
      r.err.find("0000:02:00.0: selected as 144d:a80a, but the device there is 1b96:2600 now"),
      std::string::npos)
      << r.err;
}

// The kdevops files: the extra-vars list and the node entries load in
// PyYAML, and the node entries plan the same again through --nodes.
TEST(CliPlan, KdevopsFilesLoadAndRoundTrip) {
  TempDir dir;
  const fs::path vars = dir.path() / "extra_vars.yaml";
  const fs::path nodes = dir.path() / "nodes.yaml";
  auto r = run_pcipass(on_workstation({"plan", "--guests", "lab-xfs,lab-btrfs", "--technique",
                                       "roundrobin", "02:00.0", "06:00.0", "--write-extra-vars",
                                       vars.string(), "--write-nodes", nodes.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string table = r.out;

  const char* script =
      "import json, sys, yaml\n"
      "print(json.dumps([yaml.safe_load(open(p)) for p in sys.argv[1:]]))\n";
  const auto loaded =
      run_command({"/usr/bin/python3", "-c", script, vars.string(), nodes.string()});
  if (loaded.exit_code != 0 && loaded.err.find("No module named 'yaml'") != std::string::npos)
    GTEST_SKIP() << "python3-yaml is missing";
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  const auto docs = nlohmann::json::parse(loaded.out);
  const auto& devices = docs[0]["pcie_passthrough_devices"];
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]["bus"], "0x02");
  EXPECT_EQ(devices[0]["pcie_id"], "0000:02:00.0");
  EXPECT_EQ(devices[0]["iommu_group"], "9");
  EXPECT_EQ(devices[0]["target_guest"], "lab-xfs");
  EXPECT_EQ(devices[1]["target_guest"], "lab-btrfs");
  const auto& guests = docs[1]["guestfs_nodes"];
  ASSERT_EQ(guests.size(), 2u);
  EXPECT_EQ(guests[0]["name"], "lab-xfs");
  EXPECT_EQ(guests[0]["pcipassthrough"]["passthrough1"]["bus"], 2);  // a YAML hex integer

  r = run_pcipass(on_workstation({"plan", "--nodes", nodes.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, table);
}

// kdevops' extra_vars.yaml holds some 130 variables of its own: the plan
// replaces its pcie_passthrough_devices list and keeps every other byte; a
// file pcipass cannot splice is bad input and stays as it was.
TEST(CliPlan, WriteExtraVarsKeepsEveryOtherVariable) {
  TempDir dir;
  const fs::path vars = dir.path() / "extra_vars.yaml";
  std::string head = "---\n# kdevops\n";
  for (int i = 0; i < 130; ++i) {
    head += "kdevops_var_" + std::to_string(i) + ": '" + std::to_string(i * 7) + "'\n";
  }
  const std::string old_list =
      "pcie_passthrough_devices:\n"
      "  - { domain: \"0x0000\", bus: \"0x05\", slot: \"0x00\", function: \"0x0\",\n"
      "      target_guest: \"\" }\n";
  const std::string tail = "\nbootlinux_tree: \"/data/linux\"\n";
  put_file(vars, head + old_list + tail);
  const auto plan = [&] {
    return run_pcipass(on_workstation({"plan", "--guests", "lab", "02:00.0", "--write-extra-vars",
                                       vars.string()}));
  };
  auto r = plan();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string merged = file_text(vars);
  ASSERT_TRUE(merged.starts_with(head + "pcie_passthrough_devices:\n  - domain: \"0x0000\"\n"))
      << merged;
  EXPECT_TRUE(merged.ends_with("    target_guest: \"lab\"\n" + tail)) << merged;
  EXPECT_EQ(merged.find("0x05"), std::string::npos);
  // Once more: the same bytes.
  r = plan();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(file_text(vars), merged);

  const std::string flow = "{kdevops_var_0: '0', pcie_passthrough_devices: []}\n";
  put_file(vars, flow);
  r = plan();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pcipass: error: " + vars.string() +
                       ": cannot replace pcie_passthrough_devices line by line without changing "
                       "other keys (flow style?); pcipass leaves it as it is (write the list to "
                       "another file)\n");
  EXPECT_EQ(file_text(vars), flow);
}

// A command that binds on this machine never takes another host's, or the
// test driver's, URI: its devices and guests would be two machines'.
TEST(CliPlan, CommandsThatChangeThisMachineRefuseAnotherHostsUri) {
  TempDir dir;
  const std::string state = (dir.path() / "state").string();
  for (const char* uri_text : {"qemu+ssh://hv1.example/system", "test:///default",
                               "qemu+ssh://localhost/system", "qemu:///system?socket=/tmp/fwd",
                               "qemu+ext:///system?command=/bin/hop"}) {
    const std::string uri = uri_text;
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"bind", "02:00.0"},
          std::vector<std::string>{"bringup", "--guests", "test", "02:00.0", "--dry-run"},
          std::vector<std::string>{"release", "--all"}, std::vector<std::string>{"status"},
          std::vector<std::string>{"restore"}}) {
      std::vector<std::string> args = {"--state-dir", state, "-c", uri};
      args.insert(args.end(), command.begin(), command.end());
      const auto r = run_pcipass(on_workstation(args));
      EXPECT_EQ(r.exit_code, 2) << command[0] << " " << uri << ": " << r.err;
      // They act on another host through libvirt, but never while a host
      // tree is named too.
      const std::string expected =
          "--sysfs-root names a host tree (" + (sim_host("workstation") / "sys").string() +
          "), but -c names ";
      EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
      EXPECT_EQ(r.out, "");
    }
  }
  EXPECT_FALSE(fs::exists(state));  // not even the lock: refused before it
  // Editing that host's guests only (no binding here) stays possible.
  const auto r = run_pcipass(on_workstation({"-c", "test:///default", "bringup", "--guests",
                                             "test", "02:00.0", "--no-bind", "--force",
                                             "--dry-run"}));
  EXPECT_NE(r.exit_code, 2) << r.err;
}

class CliBringup : public ::testing::Test {
 protected:
  void SetUp() override {
    test::put_file(guests() / "xfs/xfs.xml", sample_guest("xfs"));
    test::put_file(guests() / "btrfs.xml", sample_guest("btrfs"));
  }
  fs::path guests() const { return dir.path() / "guestfs"; }
  std::vector<std::string> bringup(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"--state-dir",    (dir.path() / "state").string(),
                                     "bringup",        "--guests",
                                     "xfs,btrfs",      "02:00.0=xfs",
                                     "06:00.0=btrfs",  "--xml-dir",
                                     guests().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return on_workstation(args);
  }
  TempDir dir;
};

TEST_F(CliBringup, DryRunShowsBindsAndADiffPerGuestAndChangesNothing) {
  const auto before = files_under(dir.path());
  const auto r = run_pcipass(bringup({"--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from nvme"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("guest xfs (" + (guests() / "xfs/xfs.xml").string() + "): would change\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("+        <address domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(files_under(dir.path()), before);
}

TEST_F(CliBringup, InjectsOnceKeepsTheRestAndValidates) {
  const std::string original = test::file_text(guests() / "xfs/xfs.xml");
  auto r = run_pcipass(bringup({"--no-bind"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("guest xfs"), std::string::npos);
  EXPECT_NE(r.out.find("  0000:02:00.0: added\n"), std::string::npos) << r.out;
  const std::string xfs = test::file_text(guests() / "xfs/xfs.xml");
  EXPECT_NE(xfs.find("<alias name='ua-pcipass-0000-02-00-0'/>"), std::string::npos) << xfs;
  EXPECT_EQ(xfs.find("bus='0x06'"), std::string::npos);  // btrfs's device stays with btrfs
  // Everything before <devices>' end is the user's, byte for byte, comments included.
  const std::size_t end = original.find("  </devices>");
  EXPECT_EQ(xfs.substr(0, end), original.substr(0, end));
  EXPECT_EQ(test::file_text(guests() / "xfs/xfs.xml.pcipass-backup"), original);
  if (have_virt_xml_validate()) {
    for (const fs::path& file : {guests() / "xfs/xfs.xml", guests() / "btrfs.xml"}) {
      const auto v = run_command({"virt-xml-validate", file.string(), "domain"});
      EXPECT_EQ(v.exit_code, 0) << file << ": " << v.out << v.err;
    }
  }

  const auto after_first = files_under(dir.path());
  r = run_pcipass(bringup({"--no-bind"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(
      r.out.find("guest xfs (" + (guests() / "xfs/xfs.xml").string() + "): already up to date"),
      std::string::npos)
      << r.out;
  EXPECT_EQ(files_under(dir.path()), after_first);
}

TEST_F(CliBringup, ABrokenGuestStopsTheRunBeforeAnythingChanges) {
  test::put_file(guests() / "btrfs.xml", "<domain><name>btrfs</name><devices>");  // truncated
  fs::remove(guests() / "xfs/xfs.xml");
  test::put_file(guests() / "xfs.xml", sample_guest("xfs"));  // the flat layout works too
  test::put_file(dir.path() / "guestfs/ext4.xml", "<domain><name>ext4</name></domain>");
  const auto before = files_under(dir.path());
  const auto r = run_pcipass(on_workstation(
      {"--state-dir", (dir.path() / "state").string(), "bringup", "--no-bind", "--guests",
       "xfs,btrfs,ext4,gone", "02:00.0=xfs", "06:00.0=btrfs", "00:14.0=ext4", "2d:00.0=gone",
       "2d:00.1=gone", "--force", "--xml-dir", guests().string()}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("pcipass: error: cannot bring up the guests:\n", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("btrfs.xml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ext4.xml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gone.xml"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("xfs.xml"), std::string::npos) << r.err;
  EXPECT_EQ(files_under(dir.path()), before);
}

TEST_F(CliBringup, AGuestThatCannotBeWrittenStopsTheRunAndARerunFinishes) {
  // The second guest fails when its turn comes: its file is read-only (the
  // user saying "keep", refused even for root), or its backup cannot be
  // written (a folder stands there: EISDIR). The first guest stays edited,
  // the second is byte for byte as it was with nothing beside it, and once
  // the obstacle is gone a re-run ends where a run without it ends.
  TempDir clean;
  test::put_file(clean.path() / "guestfs/xfs/xfs.xml", sample_guest("xfs"));
  test::put_file(clean.path() / "guestfs/btrfs.xml", sample_guest("btrfs"));
  const auto reference = run_pcipass(on_workstation(
      {"--state-dir", (clean.path() / "state").string(), "bringup", "--no-bind", "--guests",
       "xfs,btrfs", "02:00.0=xfs", "06:00.0=btrfs", "--xml-dir",
       (clean.path() / "guestfs").string()}));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const auto finished = files_under(clean.path() / "guestfs");

  const fs::path btrfs = guests() / "btrfs.xml";
  const fs::path backup = guests() / "btrfs.xml.pcipass-backup";
  struct Obstacle {
    const char* name;
    std::function<void()> place, remove;
    const char* message;
    bool found_first;  // seen while checking the guests, before anything changes
    int exit_code;
  };
  const std::vector<Obstacle> obstacles{
      {"read-only file", [&] { fs::permissions(btrfs, fs::perms::owner_read); },
       [&] { fs::permissions(btrfs, fs::perms::owner_read | fs::perms::owner_write); },
       "the file is read-only", true, 4},
      {"folder in place of the backup", [&] { fs::create_directories(backup / "x"); },
       [&] { fs::remove_all(backup); }, "pcipass-backup: it is a folder", false, 5}};
  for (const Obstacle& obstacle : obstacles) {
    SCOPED_TRACE(obstacle.name);
    fs::remove_all(guests());
    SetUp();
    const std::string original = test::file_text(btrfs);
    obstacle.place();
    const auto failed = run_pcipass(bringup({"--no-bind"}));
    EXPECT_EQ(failed.exit_code, obstacle.exit_code) << failed.err;
    EXPECT_NE(failed.err.find(obstacle.message), std::string::npos) << failed.err;
    const std::string xfs = test::file_text(guests() / "xfs/xfs.xml");
    if (obstacle.found_first) {
      EXPECT_EQ(failed.out, "") << failed.out;
      EXPECT_EQ(xfs, sample_guest("xfs"));
    } else {
      EXPECT_NE(failed.out.find("0000:02:00.0: added"), std::string::npos) << failed.out;
      EXPECT_NE(xfs.find("ua-pcipass-0000-02-00-0"), std::string::npos);
    }
    EXPECT_EQ(test::file_text(btrfs), original);
    for (const auto& entry : fs::directory_iterator(guests())) {
      const std::string name = entry.path().filename().string();
      EXPECT_TRUE(name == "xfs" || name == "btrfs.xml" || entry.path() == backup) << name;
    }
    obstacle.remove();
    const auto rerun = run_pcipass(bringup({"--no-bind"}));
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(files_under(guests()), finished);
  }
}

TEST_F(CliBringup, JsonDryRunIsOneDocument) {
  const auto r = run_pcipass(bringup({"--dry-run", "--no-bind"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto args = bringup({"--dry-run"});
  args.insert(args.begin(), "--json");
  const auto j = run_pcipass(args);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["dry_run"], true);
  ASSERT_EQ(doc["guest_changes"].size(), 2u);
  EXPECT_EQ(doc["guest_changes"][0]["name"], "xfs");
  EXPECT_EQ(doc["guest_changes"][0]["changed"], true);
  EXPECT_NE(doc["guest_changes"][0]["diff"].get<std::string>().find("ua-pcipass-0000-02-00-0"),
            std::string::npos);
  EXPECT_TRUE(doc["host"].is_object()) << doc.dump();
  EXPECT_TRUE(doc["error"].is_null()) << doc.dump();
}

TEST_F(CliBringup, JsonFailingMidwayStillPrintsWhatWasDone) {
  // A folder where the backup goes: only the write itself finds it (EISDIR).
  fs::create_directories(guests() / "btrfs.xml.pcipass-backup/x");
  auto args = bringup({"--no-bind"});
  args.insert(args.begin(), "--json");
  const auto j = run_pcipass(args);
  EXPECT_EQ(j.exit_code, 5) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc["guest_changes"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["guest_changes"][0]["name"], "xfs");
  EXPECT_EQ(doc["guest_changes"][0]["changed"], true);
  ASSERT_TRUE(j.err.starts_with("pcipass: error: ")) << j.err;
  EXPECT_EQ(doc["error"], j.err.substr(16, j.err.size() - 17));
  EXPECT_NE(j.err.find("pcipass-backup: it is a folder"), std::string::npos) << j.err;
}

TEST_F(CliBringup, UnknownDomainInLibvirtIsAClearError) {
  const auto r = run_pcipass(on_workstation({"--source", "sysfs", "-c", "test:///default",
                                             "bringup", "--no-bind", "02:00.0=no-such-guest"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-guest"), std::string::npos) << r.err;
}

TEST_F(CliBringup, DefinedDomainGetsItsHostdevThroughLibvirt) {
  // test:///default holds one domain, "test"; its driver lacks the attach
  // API, so this also covers the define fallback.
  const auto r = run_pcipass(on_workstation(
      {"--source", "sysfs", "-c", "test:///default", "bringup", "--no-bind", "02:00.0=test"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("guest test (domain test): updated\n  0000:02:00.0: added\n"),
            std::string::npos)
      << r.out;
}

// The hostile host's device strings (quotes, $(...), XML and YAML syntax,
// invalid UTF-8, very long names) through plan and bringup: every output
// stays well-formed and carries the names as data.
TEST(CliPlan, HostileStringsStayDataInJsonYamlAndXml) {
  const fs::path root = sim_host("hostile");
  TempDir dir;
  const fs::path vars = dir.path() / "vars.yaml";
  const fs::path nodes = dir.path() / "nodes.yaml";
  const std::vector<std::string> host = {"--sysfs-root", (root / "sys").string(), "--pci-ids",
                                         (root / "pci.ids").string()};
  const std::vector<std::string> devices = {"01:00.0=a", "02:00.0=a", "03:00.0=b", "04:00.0=b"};
  auto args = host;
  args.insert(args.end(), {"--json", "plan", "--force", "--write-extra-vars", vars.string(),
                           "--write-nodes", nodes.string()});
  args.insert(args.end(), devices.begin(), devices.end());
  auto r = run_pcipass(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto plan = nlohmann::json::parse(r.out);  // throws on invalid JSON or UTF-8
  ASSERT_EQ(plan["guests"].size(), 2u);
  const std::string evil = plan["guests"][0]["devices"][0]["name"];
  EXPECT_NE(evil.find("$(shell,touch /tmp/pwned)"), std::string::npos) << evil;

  const char* script =
      "import json, sys, yaml\n"
      "print(json.dumps([yaml.safe_load(open(p)) for p in sys.argv[1:]]))\n";
  const auto loaded = run_command({"/usr/bin/python3", "-c", script, vars.string(), nodes.string()});
  if (loaded.exit_code != 0 && loaded.err.find("No module named 'yaml'") != std::string::npos)
    GTEST_SKIP() << "python3-yaml is missing";
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  const auto docs = nlohmann::json::parse(loaded.out);
  ASSERT_EQ(docs[0]["pcie_passthrough_devices"].size(), 4u);
  // kdevops' name of the device: its quotes dropped as kdevops drops
  // them, the rest kept as data.
  const std::string human = docs[0]["pcie_passthrough_devices"][0]["pcie_human_name"];
  EXPECT_TRUE(human.starts_with("0000:01:00.0 IOMMU group 6 - /dev/nvme0 - Evil double single "
                                "back\\slash $(shell,touch /tmp/pwned) $(FOO) <tag> & ]]>"))
      << human;
  EXPECT_EQ(docs[1]["guestfs_nodes"].size(), 2u);

  test::put_file(dir.path() / "guestfs/a.xml", sample_guest("a"));
  test::put_file(dir.path() / "guestfs/b.xml", sample_guest("b"));
  args = host;
  args.insert(args.end(), {"--state-dir", (dir.path() / "state").string(), "bringup", "--force",
                           "--no-bind", "--xml-dir", (dir.path() / "guestfs").string()});
  args.insert(args.end(), devices.begin(), devices.end());
  r = run_pcipass(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (have_virt_xml_validate()) {
    for (const char* guest : {"a.xml", "b.xml"}) {
      const auto v = run_command({"virt-xml-validate", (dir.path() / "guestfs" / guest).string(),
                                  "domain"});
      EXPECT_EQ(v.exit_code, 0) << guest << ": " << v.out << v.err;
    }
  }
}

}  // namespace
}  // namespace pcipass::test
