// bind, release and status on another host (issue 17 item 1): given -c URI
// of a host that is not this machine they act there through libvirt's
// node-device API, keep that host's journal in its own folder, and never
// read or write this machine's sysfs. libvirt's test driver stands in for
// the other host: it lists node devices (without their drivers) but has no
// detach, so a real run fails there with libvirt's own message, and the
// journal says so. The success path on a real kernel is the end-to-end
// test's; tests/host/test_bind_through_libvirt.cpp has it on the simulated
// kernel.

#include "support/sim_host.hpp"

#include <pcipass/core/host_identity.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

std::string test_uri(const std::string& host) { return test_driver_uri(host); }

struct Remote {
  Remote() {
    // That host's own `pcipass list --json`, as --host-usage reads it.
    put_file(report(), usage_report_for_test_driver("workstation"));
  }
  [[nodiscard]] fs::path state() const { return dir.path() / "state"; }
  [[nodiscard]] fs::path report() const { return dir.path() / "usage.json"; }
  [[nodiscard]] std::vector<std::string> args(std::vector<std::string> rest) const {
    std::vector<std::string> all = {"--state-dir", state().string(), "-c", test_uri("workstation"),
                                    "--host-usage", report().string()};
    all.insert(all.end(), rest.begin(), rest.end());
    return all;
  }
  // The one journal folder under state/hosts/.
  [[nodiscard]] fs::path journal() const {
    for (const auto& entry : fs::directory_iterator(state() / "hosts"))
      return entry.path() / "journal.json";
    return {};
  }
  TempDir dir;
};

TEST(CliRemote, ADryRunShowsTheLibvirtCallsAndWritesNothing) {
  Remote remote;
  const auto r = run_pcipass(remote.args({"bind", "02:00.0", "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string uri = test_uri("workstation");
  EXPECT_EQ(r.out, "bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from no driver through "
                   "libvirt at " + uri + "\n  call virNodeDeviceDetachFlags (driver vfio) at " +
                       uri + " on node device pci_0000_02_00_0\ndry run: nothing was changed\n");
  EXPECT_FALSE(fs::exists(remote.state()));

  const auto json = run_pcipass(remote.args({"--json", "bind", "02:00.0", "--dry-run"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["through"], uri);
  ASSERT_EQ(doc["actions"].size(), 1u);
  EXPECT_EQ(doc["actions"][0]["action"]["node_device"], "pci_0000_02_00_0");
  EXPECT_EQ(doc["actions"][0]["operations"][0]["kind"], "libvirt-call");
}

TEST(CliRemote, ThatHostsOwnDevicesAreRefusedAsTheyWouldBeThere) {
  Remote remote;
  // The boot drive, by that host's report.
  auto r = run_pcipass(remote.args({"bind", "01:00.0", "--dry-run"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("0000:01:00.0"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // Without a report nothing there is known free.
  r = run_pcipass({"--state-dir", remote.state().string(), "-c", test_uri("workstation"), "bind",
                   "02:00.0", "--dry-run"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("host usage unknown"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(remote.state()));
}

TEST(CliRemote, AFailedDetachIsJournaledForThatHostAloneAndStatusShowsIt) {
  Remote remote;
  const auto r = run_pcipass(remote.args({"bind", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("pcipass: error: binding 0000:02:00.0 to vfio-pci: detaching "
                       "pci_0000_02_00_0 to vfio at '" + test_uri("workstation") + "': "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("not supported"), std::string::npos) << r.err;
  // That host's journal, in its own folder; this machine's is never made.
  EXPECT_FALSE(fs::exists(remote.state() / "journal.json"));
  const fs::path journal = remote.journal();
  ASSERT_TRUE(fs::exists(journal)) << journal;
  EXPECT_EQ(journal.parent_path().filename().string().substr(0, 7), "test%3A");
  const auto recorded = nlohmann::json::parse(file_text(journal));
  ASSERT_EQ(recorded["entries"].size(), 1u);
  EXPECT_EQ(recorded["entries"][0]["state"], "failed");
  EXPECT_EQ(recorded["entries"][0]["action"]["through"], test_uri("workstation"));

  const auto status = run_pcipass(remote.args({"--json", "status"}));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const auto doc = nlohmann::json::parse(status.out);
  EXPECT_EQ(doc["through"], test_uri("workstation"));
  EXPECT_EQ(doc["journal"], journal.string());
  ASSERT_EQ(doc["devices"].size(), 1u);
  EXPECT_EQ(doc["devices"][0]["driver"], "");  // the test driver shows none
  EXPECT_TRUE(doc["devices"][0]["driver_override"].is_null());
  EXPECT_TRUE(doc["devices"][0]["vfio_node"].is_null());
  EXPECT_EQ(doc["devices"][0]["journal_state"], "failed");

  // This machine's status shows none of its entries, only where they are.
  const std::vector<std::string> here = {"--state-dir", remote.state().string(), "--sysfs-root",
                                         (sim_host("workstation") / "sys").string()};
  auto local_args = here;
  local_args.insert(local_args.end(), {"--json", "status"});
  const auto local = run_pcipass(local_args);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto local_doc = nlohmann::json::parse(local.out);
  EXPECT_TRUE(local_doc["devices"].empty());
  EXPECT_EQ(local_doc["other_hosts"],
            nlohmann::json::parse(R"([{"through": ")" + test_uri("workstation") +
                                  R"(", "journal": ")" + journal.string() + R"(", "entries": 1}])"));
  auto text_args = here;
  text_args.push_back("status");
  const auto text = run_pcipass(text_args);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("(the host at '" + test_uri("workstation") +
                          "' has 1 journal entry here: pcipass -c " + test_uri("workstation") +
                          " status)\n"),
            std::string::npos)
      << text.out;

  // restore (after that host rebooted) finishes the bind through libvirt.
  const auto restore = run_pcipass(remote.args({"restore", "--dry-run"}));
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_NE(restore.out.find("  call virNodeDeviceDetachFlags (driver vfio) at " +
                             test_uri("workstation") + " on node device pci_0000_02_00_0\n"),
            std::string::npos)
      << restore.out;

  // release re-attaches through libvirt too (which the test driver cannot
  // either); --forget drops the entry by hand.
  const auto release = run_pcipass(remote.args({"release", "02:00.0"}));
  EXPECT_EQ(release.exit_code, 4) << release.err;
  EXPECT_NE(release.err.find("re-attaching pci_0000_02_00_0 at '"), std::string::npos)
      << release.err;
  const auto forget = run_pcipass(remote.args({"release", "--forget", "02:00.0"}));
  ASSERT_EQ(forget.exit_code, 0) << forget.err;
  EXPECT_TRUE(nlohmann::json::parse(file_text(journal))["entries"].empty());
}

TEST(CliRemote, AJournalIsNeverAppliedToAnotherMachineTheUriNowReaches) {
  Remote remote;
  EXPECT_EQ(run_pcipass(remote.args({"bind", "02:00.0"})).exit_code, 4);  // journaled as failed
  const fs::path journal = remote.journal();
  auto recorded = nlohmann::json::parse(file_text(journal));
  // The journal names the host its entry was made on, as libvirt told it.
  const std::string here = core::normal_hostname(local_hostname());
  ASSERT_FALSE(here.empty()) << "this machine needs a hostname for this test";
  EXPECT_EQ(recorded["host"]["hostname"], here);

  // The URI reached lab7 then; it reaches this machine (the test driver) now.
  recorded["host"] = {{"hostname", "lab7"}};
  put_file(journal, recorded.dump());
  const std::string before = file_text(journal);
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"status"}, {"bind", "06:00.0", "--dry-run"}, {"release", "--all"}, {"restore"}}) {
    const auto r = run_pcipass(remote.args(command));
    EXPECT_EQ(r.exit_code, 5) << command[0] << ": " << r.err;
    EXPECT_EQ(r.err, "pcipass: error: refusing the journal " + journal.string() +
                         ": its entries were made on host 'lab7', but '" + test_uri("workstation") +
                         "' now reaches host '" + here + "' (hostname 'lab7' and '" + here +
                         "'); use a URI that still reaches the first host, or, if it is gone, "
                         "move that folder away\n")
        << command[0];
    EXPECT_EQ(file_text(journal), before) << command[0];
  }

  // Made on a host known only by a UUID libvirt no longer shows: nothing
  // says the URI still reaches it.
  recorded["host"] = {{"libvirt_uuid", "2cea74ce-619f-4a90-a544-066f6b78f41f"}};
  put_file(journal, recorded.dump());
  const auto unknown = run_pcipass(remote.args({"status"}));
  EXPECT_EQ(unknown.exit_code, 5) << unknown.err;
  EXPECT_NE(unknown.err.find(": its entries were made on libvirt host UUID "
                             "2cea74ce-619f-4a90-a544-066f6b78f41f, and nothing libvirt tells of "
                             "the host '"),
            std::string::npos)
      << unknown.err;
}

TEST(CliRemote, BringupBindsOnThatHostThenEditsTheGuests) {
  Remote remote;
  const fs::path guests = remote.dir.path() / "guestfs";
  put_file(guests / "xfs/xfs.xml", sample_guest("xfs"));
  const std::string before = file_text(guests / "xfs/xfs.xml");
  const auto r = run_pcipass(remote.args({"bringup", "--guests", "xfs", "02:00.0=xfs",
                                          "--xml-dir", guests.string(), "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string uri = test_uri("workstation");
  EXPECT_NE(r.out.find("bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from no driver "
                       "through libvirt at " + uri + "\n  call virNodeDeviceDetachFlags (driver "
                       "vfio) at " + uri + " on node device pci_0000_02_00_0\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("guest xfs (" + (guests / "xfs/xfs.xml").string() + "): would change\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(file_text(guests / "xfs/xfs.xml"), before);
  EXPECT_FALSE(fs::exists(remote.state()));

  // A real run stops at the bind that host's libvirt refuses, before any guest.
  const auto real = run_pcipass(remote.args({"bringup", "--guests", "xfs", "02:00.0=xfs",
                                             "--xml-dir", guests.string()}));
  EXPECT_EQ(real.exit_code, 4) << real.err;
  EXPECT_NE(real.err.find("detaching pci_0000_02_00_0 to vfio at '" + uri + "'"),
            std::string::npos)
      << real.err;
  EXPECT_EQ(file_text(guests / "xfs/xfs.xml"), before);
  EXPECT_TRUE(fs::exists(remote.journal()));
  EXPECT_FALSE(fs::exists(remote.state() / "journal.json"));
}

TEST(CliRemote, StatusNamesTheGuestsThatHoldEachDeviceThere) {
  Remote remote;
  // That host runs guest 'web', which holds the ZNS drive.
  std::string node = file_text(sim_host("workstation") / "libvirt-test.xml");
  node.insert(node.rfind("</node>"),
              "  <domain type='test'><name>web</name><memory>131072</memory>"
              "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
              "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
              "domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></hostdev>"
              "</devices></domain>\n");
  const fs::path host = remote.dir.path() / "host.xml";
  put_file(host, node);
  const std::vector<std::string> on_host = {"--state-dir", remote.state().string(), "-c",
                                            "test://" + host.string(), "--host-usage",
                                            remote.report().string()};
  auto with = [&](std::vector<std::string> rest) {
    rest.insert(rest.begin(), on_host.begin(), on_host.end());
    return rest;
  };
  EXPECT_EQ(run_pcipass(with({"bind", "02:00.0"})).exit_code, 4);  // journaled as failed

  const auto json = run_pcipass(with({"--json", "status"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  ASSERT_EQ(doc["devices"].size(), 1u);
  const auto& held_by = doc["devices"][0]["held_by"];
  ASSERT_EQ(held_by.size(), 1u) << held_by;
  EXPECT_EQ(held_by[0]["domain"], "web");
  EXPECT_EQ(held_by[0]["running"], true);

  const auto table = run_pcipass(with({"status"}));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("GUEST"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("guest 'web' (running)"), std::string::npos) << table.out;

  // This machine's status reads no domains: it cannot tell whose they are.
  const auto local = run_pcipass({"--state-dir", remote.state().string(), "--sysfs-root",
                                  (sim_host("workstation") / "sys").string(), "--json", "status"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_TRUE(nlohmann::json::parse(local.out)["devices"].empty());
}

TEST(CliRemote, CommandsThatOnlyWorkHereStillRefuseAnotherHost) {
  Remote remote;
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"vfs", "05:00.0", "2"},
        std::vector<std::string>{"permissions", "--group", "kvm", "02:00.0"}}) {
    const auto r = run_pcipass(remote.args(command));
    EXPECT_EQ(r.exit_code, 2) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("bind, release and status act on another host through libvirt; this "
                         "command does not"),
              std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(remote.state()));
}

}  // namespace
}  // namespace pcipass::test
