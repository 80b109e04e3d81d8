// `pcipass bringup --xml-dir` beside kdevops' own attach step: kdevops
// writes guestfs/NAME/pcie_passthrough_ENTRY.xml per device and attaches
// each after define. pcipass checks those files against its plan, leaves
// the devices they bring to kdevops, and adds only the others, so every
// device arrives exactly once and no file brings an unchecked device.
// The real binary on the simulated workstation, --no-bind (read-only).

#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

// kdevops' per-device file for `bus` (hex digits) as its generator writes it.
std::string kdevops_device_file(const std::string& bus) {
  return "<!-- PCIE passthrough device -->\n"
         "   <hostdev mode='subsystem' type='pci' managed='yes'>\n"
         "      <driver name='vfio'/>\n"
         "      <source>\n"
         "        <address domain='0x0' bus='0x" +
         bus +
         "' slot='0x0' function='0x0'/>\n"
         "      </source>\n"
         "    </hostdev>\n"
         "<!-- End of PCIE passthrough device -->\n";
}

class KdevopsBringup : public ::testing::Test {
 protected:
  void SetUp() override {
    put_file(guestfs() / "xfs/xfs.xml", sample_guest("xfs"));
    put_file(guestfs() / "btrfs/btrfs.xml", sample_guest("btrfs"));
    put_file(guestfs() / "xfs/pcie_passthrough_passthrough1.xml", kdevops_device_file("2"));
  }
  fs::path guestfs() const { return dir.path() / "guestfs"; }
  CommandResult bringup(std::vector<std::string> devices, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--sysfs-root", (sim_host("workstation") / "sys").string(),
                                     "--state-dir",  (dir.path() / "state").string(),
                                     "bringup",      "--guests",
                                     "xfs,btrfs",    "--no-bind",
                                     "--xml-dir",    guestfs().string()};
    args.insert(args.end(), devices.begin(), devices.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pcipass(args);
  }
  TempDir dir;
};

TEST_F(KdevopsBringup, ADeviceKdevopsAttachesIsLeftToItAndTheGuestFileUntouched) {
  const auto before = files_under(guestfs());
  auto r = bringup({"02:00.0=xfs", "06:00.0=btrfs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string file = (guestfs() / "xfs/pcie_passthrough_passthrough1.xml").string();
  EXPECT_NE(r.out.find("guest xfs (" + (guestfs() / "xfs/xfs.xml").string() +
                       "): already up to date\n  0000:02:00.0: kdevops attaches it from " + file +
                       "\n"),
            std::string::npos)
      << r.out;
  // The device kdevops has no file for goes into the guest's XML.
  EXPECT_NE(r.out.find("  0000:06:00.0: added\n"), std::string::npos) << r.out;
  auto after = files_under(guestfs());
  EXPECT_EQ(after["xfs/xfs.xml"], before.at("xfs/xfs.xml")) << "not a byte changed";
  EXPECT_FALSE(after.contains("xfs/xfs.xml.pcipass-backup")) << "nothing written at all";
  EXPECT_EQ(after["xfs/pcie_passthrough_passthrough1.xml"],
            before.at("xfs/pcie_passthrough_passthrough1.xml"));
  EXPECT_NE(after["btrfs/btrfs.xml"].find("bus='0x06'"), std::string::npos);

  r = run_pcipass({"--sysfs-root", (sim_host("workstation") / "sys").string(), "--json",
                   "--state-dir", (dir.path() / "state").string(), "bringup", "--guests",
                   "xfs,btrfs", "--no-bind", "--xml-dir", guestfs().string(), "02:00.0=xfs",
                   "06:00.0=btrfs", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["guest_changes"].size(), 2u);
  EXPECT_EQ(doc["guest_changes"][0]["kdevops_files"],
            nlohmann::json::parse(R"([{"address":"0000:02:00.0","path":")" + file + R"("}])"));
  EXPECT_EQ(doc["guest_changes"][1]["kdevops_files"], nlohmann::json::array());
}

TEST_F(KdevopsBringup, PcipassesOwnHostdevOfSuchADeviceLeavesTheGuestFile) {
  // A guest file pcipass edited before kdevops wrote the device's file:
  // kdevops' attach would fail on a device the definition already holds.
  fs::remove(guestfs() / "xfs/pcie_passthrough_passthrough1.xml");
  ASSERT_EQ(bringup({"02:00.0=xfs"}).exit_code, 0);
  ASSERT_NE(file_text(guestfs() / "xfs/xfs.xml").find("bus='0x02'"), std::string::npos);
  put_file(guestfs() / "xfs/pcie_passthrough_passthrough1.xml", kdevops_device_file("2"));
  const auto r = bringup({"02:00.0=xfs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(file_text(guestfs() / "xfs/xfs.xml"), sample_guest("xfs")) << "byte for byte";

  // A user's own <hostdev> of it cannot be taken out: refused, nothing changes.
  std::string users = sample_guest("xfs");
  users.insert(users.find("  </devices>"), kdevops_device_file("2"));
  put_file(guestfs() / "xfs/xfs.xml", users);
  const auto before = files_under(dir.path());
  const auto refused = bringup({"02:00.0=xfs"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_NE(refused.err.find("holds a <hostdev> of 0000:02:00.0 already, and " +
                             (guestfs() / "xfs/pcie_passthrough_passthrough1.xml").string() +
                             " attaches it again"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(files_under(dir.path()), before);
}

TEST_F(KdevopsBringup, AFileNamingADeviceThePlanDoesNotGiveThatGuestIsRefused) {
  // Left by an earlier make (a device no longer selected), or written for
  // another guest than the plan's: kdevops would attach it unchecked.
  put_file(guestfs() / "btrfs/pcie_passthrough_passthrough1.xml", kdevops_device_file("1"));
  put_file(guestfs() / "btrfs/pcie_passthrough_passthrough2.xml", kdevops_device_file("2"));
  const auto before = files_under(dir.path());
  const auto r = bringup({"02:00.0=xfs", "06:00.0=btrfs"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  const std::string btrfs = (guestfs() / "btrfs").string();
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to bring up the guests: they would get devices pcipass "
            "has not checked:\n  " +
                btrfs +
                "/pcie_passthrough_passthrough1.xml would attach 0000:01:00.0 to guest 'btrfs', "
                "which the plan does not give that device: a file an earlier make left behind? "
                "Remove it, or run make again to write the guests' files from the current "
                ".config\n  " +
                btrfs +
                "/pcie_passthrough_passthrough2.xml would attach 0000:02:00.0 to guest 'btrfs', "
                "which the plan does not give that device: a file an earlier make left behind? "
                "Remove it, or run make again to write the guests' files from the current "
                ".config\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(files_under(dir.path()), before) << "nothing written, no lock taken";
}

TEST_F(KdevopsBringup, WithPassthroughOffAnyFileIsRefusedToo) {
  const fs::path config = dir.path() / ".config";
  put_file(config, "# CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is not set\n");
  const std::vector<std::string> base = {"--sysfs-root",
                                         (sim_host("workstation") / "sys").string(),
                                         "--state-dir",
                                         (dir.path() / "state").string(),
                                         "bringup",
                                         "--config",
                                         config.string(),
                                         "--guests",
                                         "xfs,btrfs",
                                         "--xml-dir",
                                         guestfs().string()};
  auto r = run_pcipass(base);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("pcie_passthrough_passthrough1.xml would attach 0000:02:00.0 to guest "
                       "'xfs', which gets no device in the plan"),
            std::string::npos)
      << r.err;
  fs::remove(guestfs() / "xfs/pcie_passthrough_passthrough1.xml");
  r = run_pcipass(base);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "PCI-E passthrough is not enabled: nothing to bring up\n");
}

TEST_F(KdevopsBringup, ABrokenDeviceFileIsBadInputNamingIt) {
  put_file(guestfs() / "xfs/pcie_passthrough_passthrough1.xml", "<hostdev type='pci'>");
  const auto before = files_under(dir.path());
  const auto r = bringup({"02:00.0=xfs"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("pcipass: error: " +
                            (guestfs() / "xfs/pcie_passthrough_passthrough1.xml").string() +
                            ": not well-formed XML",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line";
  EXPECT_EQ(files_under(dir.path()), before);
}

TEST_F(KdevopsBringup, APcipassHostdevThePlanNoLongerGivesIsRefused) {
  // An earlier bringup put 06:00.0 into btrfs' file; the plan now gives
  // btrfs nothing: defined as it is, btrfs would get it unchecked.
  ASSERT_EQ(bringup({"02:00.0=xfs", "06:00.0=btrfs"}).exit_code, 0);
  const auto before = files_under(dir.path());
  const auto r = bringup({"02:00.0=xfs"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  const std::string file = (guestfs() / "btrfs/btrfs.xml").string();
  EXPECT_NE(r.err.find("  " + file + " holds pcipass's <hostdev> of 0000:06:00.0, which the plan "
                       "does not give guest 'btrfs': take it out (pcipass detach btrfs "
                       "0000:06:00.0 --xml " + file + "), or plan it again\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(files_under(dir.path()), before);
}

TEST_F(KdevopsBringup, ALinkIsNotAFileKdevopsAttaches) {
  // kdevops finds its files without following links: a link brings
  // nothing, so pcipass puts the device into the guest's XML itself.
  fs::rename(guestfs() / "xfs/pcie_passthrough_passthrough1.xml", dir.path() / "elsewhere.xml");
  fs::create_symlink(dir.path() / "elsewhere.xml",
                     guestfs() / "xfs/pcie_passthrough_passthrough1.xml");
  const auto r = bringup({"02:00.0=xfs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  0000:02:00.0: added\n"), std::string::npos) << r.out;
}

TEST_F(KdevopsBringup, AGuestDefinedAlreadyMustHoldThePlannedDevices) {
  // kdevops boots a guest that is defined already as it is. libvirt's test
  // driver showing the workstation's devices, with 'lab' defined without
  // a device and 'web' defined with the ZNS drive.
  std::string node = file_text(sim_host("workstation") / "libvirt-test.xml");
  const std::string guest_head =
      "<memory>131072</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>";
  node.insert(node.rfind("</node>"),
              "  <domain type='test'><name>lab</name>" + guest_head + "</devices></domain>\n"
              "  <domain type='test'><name>web</name>" + guest_head +
                  "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                  "domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></hostdev>"
                  "</devices></domain>\n");
  put_file(dir.path() / "host.xml", node);
  put_file(guestfs() / "lab/lab.xml", sample_guest("lab"));
  put_file(guestfs() / "web/web.xml", sample_guest("web"));
  const auto run = [&](const std::string& guest) {
    return run_pcipass({"-c", "test://" + (dir.path() / "host.xml").string(), "--state-dir",
                        (dir.path() / "state").string(), "bringup", "--guests", guest,
                        "--no-bind", "--force", "--xml-dir", guestfs().string(),
                        "02:00.0=" + guest});
  };
  const auto before = files_under(guestfs());
  auto r = run("lab");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("pcipass: error: refusing to bring up the guests:\n  guest 'lab' is "
                       "defined already at 'test://" +
                       (dir.path() / "host.xml").string() +
                       "' with no device, but the plan gives it 0000:02:00.0: a defined guest is "
                       "booted as it is (make destroy first, then bring it up again)\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(files_under(guestfs()), before);
  // The guest that holds exactly the planned device passes.
  r = run("web");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace pcipass::test
