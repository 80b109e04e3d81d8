// Actions as data: the sysfs writes each makes, its one-line description,
// and its JSON form surviving a round trip (the journal depends on it).

#include <pcipass/core/actions.hpp>
#include <pcipass/core/journal_state.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

PciAddress addr(const char* text) {
  return PciAddress::parse(text).value();
}

const BindToVfio k_bind{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9};

TEST(Actions, BindWritesOverrideUnbindProbe) {
  EXPECT_EQ(sysfs_writes(k_bind), (std::vector<SysfsWrite>{
                                      {"bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci"},
                                      {"bus/pci/drivers/nvme/unbind", "0000:02:00.0"},
                                      {"bus/pci/drivers_probe", "0000:02:00.0"},
                                  }));
  BindToVfio unbound = k_bind;
  unbound.current_driver = "";
  EXPECT_EQ(sysfs_writes(unbound).size(), 2u);  // nothing to unbind
}

TEST(Actions, ReleaseWritesDependOnWhereTheDeviceIs) {
  const ReleaseDevice on_vfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"};
  EXPECT_EQ(sysfs_writes(on_vfio), (std::vector<SysfsWrite>{
                                       {"bus/pci/drivers/vfio-pci/unbind", "0000:02:00.0"},
                                       {"bus/pci/devices/0000:02:00.0/driver_override", "\n"},
                                       {"bus/pci/drivers_probe", "0000:02:00.0"},
                                   }));
  ReleaseDevice still_home = on_vfio;
  still_home.current_driver = "nvme";  // a crash before the unbind
  EXPECT_EQ(sysfs_writes(still_home),
            (std::vector<SysfsWrite>{{"bus/pci/devices/0000:02:00.0/driver_override", "\n"}}));
  ReleaseDevice had_none = on_vfio;
  had_none.restore_driver = "";
  EXPECT_EQ(sysfs_writes(had_none).size(), 2u);  // no probe: it had no driver before
}

TEST(Actions, DescribeIsOneLine) {
  EXPECT_EQ(describe(k_bind),
            "bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from nvme");
  BindToVfio resumed = k_bind;
  resumed.current_driver = "";
  EXPECT_EQ(describe(resumed),
            "bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from no driver; release "
            "gives it back "
            "to nvme");
  EXPECT_EQ(describe(LoadModule{"vfio_pci"}), "load kernel module vfio_pci (modprobe vfio_pci)");
  EXPECT_EQ(
      describe(ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"}),
      "release 0000:02:00.0 (1b96:2600) from vfio-pci back to nvme");
  EXPECT_EQ(describe(ForgetDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}}),
            "forget 0000:02:00.0 (1b96:2600): no longer on this host, nothing to give back");
  EXPECT_EQ(describe(WriteFile{"/etc/udev/rules.d/90-pcipass.rules", "x\n", 0644, ""}),
            "write /etc/udev/rules.d/90-pcipass.rules (mode 0644, 2 bytes)");
  EXPECT_EQ(describe(SetPermissions{"/dev/vfio/9", 0660, "kvm"}),
            "set mode 0660 and group kvm on /dev/vfio/9");
  EXPECT_EQ(describe(RemoveFile{"/etc/x.rules", "x\n"}),
            "remove /etc/x.rules, written by pcipass (kept if changed since)");
  EXPECT_EQ(describe(RevertPermissions{"/sys/bus/pci/drivers_probe", 0200, "root"}),
            "set mode 0200 and group root back on /sys/bus/pci/drivers_probe");
}

TEST(Actions, JsonRoundTripsEveryKind) {
  const std::vector<Action> all{
      LoadModule{"vfio_pci"},
      k_bind,
      ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"},
      ForgetDevice{addr("0000:41:00.3"), DeviceIds{0x8086, 0x1889}},
      WriteFile{"/etc/security/limits.d/90-pcipass.conf", "@kvm hard memlock 1\n", 0644, "root"},
      SetPermissions{"/dev/vfio/9", 0660, "kvm"},
      SetPermissions{"/sys/bus/pci/drivers_probe", 0220, "kvm", 0200, "root"},
      RemoveFile{"/etc/udev/rules.d/90-pcipass-vfio.rules", "rule\n"},
      RevertPermissions{"/sys/bus/pci/drivers_probe", 0200, "root"},
      ForgetDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, Presence::may_be_here},
      ForgetFile{"/dev/vfio/9"},
      SetVfCount{addr("0000:02:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", 2, 4, false},
      SetVfCount{addr("0000:02:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", 4, 2, true},
  };
  for (const Action& action : all) {
    auto back = action_from_json(action_to_json(action));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, action) << describe(action);
  }
  EXPECT_EQ(action_to_json(k_bind).dump(),
            R"({"action":"bind-to-vfio","address":"0000:02:00.0","current_driver":"nvme",)"
            R"("expected_ids":"1b96:2600","iommu_group":9,"restore_driver":"nvme"})");
}

TEST(Actions, ADeviceActionThroughLibvirtRecordsTheHostAndMakesNoSysfsWrite) {
  BindToVfio bind = k_bind;
  bind.through = "qemu+ssh://hv1.example/system";
  ReleaseDevice release{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme",
                        "qemu+ssh://hv1.example/system"};
  for (const Action& action : {Action{bind}, Action{release}}) {
    EXPECT_TRUE(sysfs_writes(action).empty()) << describe(action);
    const nlohmann::json json = action_to_json(action);
    EXPECT_EQ(json["through"], "qemu+ssh://hv1.example/system");
    EXPECT_EQ(json["node_device"], "pci_0000_02_00_0");
    auto back = action_from_json(json);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, action);
    EXPECT_TRUE(describe(action).ends_with(" through libvirt at qemu+ssh://hv1.example/system"))
        << describe(action);
  }
  // This machine's actions keep their writes and carry no such field.
  EXPECT_FALSE(sysfs_writes(k_bind).empty());
  EXPECT_FALSE(action_to_json(k_bind).contains("through"));
  // An empty or non-string URI is a damaged journal, not this machine.
  for (const nlohmann::json& through : {nlohmann::json(""), nlohmann::json(7)}) {
    nlohmann::json json = action_to_json(bind);
    json["through"] = through;
    auto bad = action_from_json(json);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message,
              "journal action bind-to-vfio: field 'through' missing or malformed");
  }
}

TEST(Actions, MalformedJsonNamesTheField) {
  auto bad =
      action_from_json(nlohmann::json{{"action", "bind-to-vfio"}, {"address", "0000:02:00.0"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "journal action bind-to-vfio: field 'expected_ids' missing or malformed");
  auto unknown = action_from_json(nlohmann::json{{"action", "reset"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "journal action: unknown action 'reset'");
}

const std::vector<std::string> k_roots{"/srv/host/sys", "/srv/host/dev", "/srv/host/etc"};

TEST(Confinement, FilesInsideTheRootsAndDeviceActionsPass) {
  EXPECT_TRUE(check_confined(k_bind, k_roots));
  EXPECT_TRUE(check_confined(LoadModule{"vfio_pci"}, k_roots));
  EXPECT_TRUE(check_confined(
      SetPermissions{"/srv/host/sys/bus/pci/drivers_probe", 0220, "kvm"}, k_roots));
  EXPECT_TRUE(check_confined(WriteFile{"/srv/host/etc/udev/rules.d/90-pcipass-vfio.rules", "x", 0644, ""},
                             k_roots));
  EXPECT_TRUE(check_confined(RevertPermissions{"/srv/host/dev/vfio/9", 0600, "root"}, k_roots));
  EXPECT_TRUE(check_confined(RemoveFile{"/etc/security/limits.d/90-pcipass-memlock.conf", "x"},
                             {"/sys", "/dev", "/etc"}));
  EXPECT_TRUE(check_confined(RemoveFile{"/anything", "x"}, {"/"}));
}

TEST(Confinement, RelativeUncleanAndOutsidePathsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"etc/udev/rules.d/x.rules", "not a clean absolute path"},
      {"/srv/host/etc/../../../etc/passwd", "not a clean absolute path"},
      {"/srv/host/etc/./x", "not a clean absolute path"},
      {"/srv/host/etc//x", "not a clean absolute path"},
      {"/srv/host/etc/", "not a clean absolute path"},
      {"/etc/udev/rules.d/x.rules", "outside the folders this run may change"},
      {"/srv/host/etcetera/x", "outside the folders this run may change"},
      {"/srv/host/var/lib/pcipass/journal.json", "outside the folders this run may change"},
  };
  for (const auto& [path, why] : cases) {
    SCOPED_TRACE(path);
    const auto r = check_confined(RemoveFile{path, "x"}, k_roots);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ExitCode::refused);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  }
  const auto outside = check_confined(SetPermissions{"/etc/shadow", 0644, ""}, k_roots);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().message,
            "refusing to set mode 0644 on /etc/shadow: outside the folders this run may change "
            "(/srv/host/sys, /srv/host/dev, /srv/host/etc); a journal from another tree?");
}

TEST(Confinement, SetUidSetGidStickyAndWorldWritableModesAreRefused) {
  for (const unsigned mode : {04755u, 02755u, 01755u, 0666u, 0777u, 06755u}) {
    SCOPED_TRACE(mode);
    EXPECT_FALSE(check_confined(SetPermissions{"/srv/host/etc/x", mode, ""}, k_roots));
    EXPECT_FALSE(check_confined(WriteFile{"/srv/host/etc/x", "x", mode, ""}, k_roots));
    EXPECT_FALSE(check_confined(RevertPermissions{"/srv/host/etc/x", mode, ""}, k_roots));
  }
  const auto r = check_confined(WriteFile{"/srv/host/etc/x", "x", 06755, ""}, k_roots);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "refusing to write /srv/host/etc/x (mode 6755, 1 bytes): mode 6755 is set-uid, "
            "set-gid, sticky or world-writable");
  EXPECT_TRUE(check_confined(SetPermissions{"/srv/host/dev/vfio/9", 0660, "kvm"}, k_roots));
}

TEST(JournalState, DoneReleaseRemovesTheDeviceAndABindReplacesOldEntries) {
  JournalState journal;
  const auto module = journal.begin(LoadModule{"vfio_pci"});
  journal.finish(module);
  const auto first = journal.begin(k_bind);
  journal.mark_failed(first, "writing x: Permission denied");
  EXPECT_EQ(journal.bind_entry(addr("0000:02:00.0"))->state, EntryState::failed);
  const auto second = journal.begin(k_bind);  // a re-run replaces the failed entry
  EXPECT_EQ(journal.entries().size(), 2u);
  journal.finish(second);
  const auto release = journal.begin(
      ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"});
  EXPECT_EQ(journal.entries().size(), 3u);  // pending release beside the bind
  journal.finish(release);
  ASSERT_EQ(journal.entries().size(), 1u);
  EXPECT_TRUE(std::holds_alternative<LoadModule>(journal.entries()[0].action));
}

// A PF's VF count keeps what it had before pcipass, however often it is
// set; a done undo drops the PF's entries; a bind of the PF leaves them.
TEST(JournalState, VfCountsKeepTheEarliestCountUntilUndone) {
  const PciAddress pf = addr("0000:02:00.0");
  const DeviceIds ids{0x8086, 0x1572};
  JournalState journal;
  journal.finish(journal.begin(SetVfCount{pf, ids, "i40e", 2, 4, false}));
  journal.finish(journal.begin(SetVfCount{pf, ids, "i40e", 6, 2, false}));
  ASSERT_EQ(journal.vf_count_entries().size(), 1u);
  const auto& kept = std::get<SetVfCount>(journal.vf_count_entries()[0]->action);
  EXPECT_EQ(kept.count, 6u);
  EXPECT_EQ(kept.previous, 4u);
  journal.finish(journal.begin(BindToVfio{pf, ids, "i40e", "i40e", 5}));
  EXPECT_EQ(journal.vf_count_entries().size(), 1u);
  const auto undo = journal.begin(SetVfCount{pf, ids, "i40e", 4, 6, true});
  EXPECT_EQ(journal.vf_count_entries().size(), 1u);  // an undo is not a count to restore
  journal.mark_failed(undo, "writing x: Device or resource busy");
  EXPECT_EQ(journal.vf_count_entries().size(), 1u);  // a failed undo keeps the record
  journal.finish(journal.begin(SetVfCount{pf, ids, "i40e", 4, 6, true}));
  EXPECT_TRUE(journal.vf_count_entries().empty());
  ASSERT_EQ(journal.entries().size(), 1u);  // the bind
  auto back = JournalState::parse(journal.to_text());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->entries().size(), 1u);
}

TEST(Actions, AVfCountGoesThroughZeroBetweenTwoCounts) {
  const PciAddress pf = addr("0000:02:00.0");
  const DeviceIds ids{0x8086, 0x1572};
  using Writes = std::vector<SysfsWrite>;
  const std::string path = "bus/pci/devices/0000:02:00.0/sriov_numvfs";
  EXPECT_EQ(sysfs_writes(SetVfCount{pf, ids, "i40e", 2, 4}), (Writes{{path, "0"}, {path, "2"}}));
  EXPECT_EQ(sysfs_writes(SetVfCount{pf, ids, "i40e", 2, 0}), (Writes{{path, "2"}}));
  EXPECT_EQ(sysfs_writes(SetVfCount{pf, ids, "i40e", 0, 4}), (Writes{{path, "0"}}));
  EXPECT_EQ(describe(SetVfCount{pf, ids, "i40e", 2, 4}),
            "set 0000:02:00.0 (8086:1572) to 2 VFs (from 4)");
  EXPECT_EQ(describe(SetVfCount{pf, ids, "i40e", 4, 2, true}),
            "give 0000:02:00.0 (8086:1572) back its 4 VFs (from 2)");
}

TEST(JournalState, DoneForgetRemovesTheDeviceLikeARelease) {
  JournalState journal;
  journal.finish(journal.begin(k_bind));
  const auto forget =
      journal.begin(ForgetDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}});
  EXPECT_EQ(journal.entries().size(), 2u);
  EXPECT_NE(journal.bind_entry(addr("0000:02:00.0")), nullptr);  // until it is done
  journal.finish(forget);
  EXPECT_TRUE(journal.entries().empty());
}

TEST(JournalState, ARecordedFileHoldsWithItsBytesModeAndGroup) {
  const WriteFile rule{"/etc/udev/rules.d/90-pcipass-vfio.rules", "rule\n", 0644, ""};
  const SetPermissions node{"/dev/vfio/9", 0660, "kvm"};
  const FileState written{true, "rule\n", 0100644, "root"};
  EXPECT_TRUE(recorded_file_holds(rule, written));  // no group recorded: any group
  EXPECT_FALSE(recorded_file_holds(rule, FileState{true, "rule!\n", 0644, "root"}));
  EXPECT_FALSE(recorded_file_holds(rule, FileState{true, "rule\n", 0600, "root"}));
  EXPECT_FALSE(recorded_file_holds(rule, FileState{}));
  EXPECT_TRUE(recorded_file_holds(node, FileState{true, "", 020660, "kvm"}));
  EXPECT_FALSE(recorded_file_holds(node, FileState{true, "", 020660, "root"}));
  EXPECT_FALSE(recorded_file_holds(node, FileState{true, "", 020600, "kvm"}));
  EXPECT_FALSE(recorded_file_holds(node, FileState{false, "", 0660, "kvm"}));
  EXPECT_FALSE(recorded_file_holds(RemoveFile{rule.path, rule.bytes}, written));
}

TEST(JournalState, TextRoundTripAndErrors) {
  JournalState journal;
  journal.finish(journal.begin(k_bind));
  journal.mark_failed(journal.begin(LoadModule{"vfio_pci"}), "no module");
  auto back = JournalState::parse(journal.to_text());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_text(), journal.to_text());
  EXPECT_EQ(back->begin(LoadModule{"x"}), 3u);  // ids keep counting

  EXPECT_EQ(JournalState::parse("{").error().message, "not JSON");
  EXPECT_EQ(JournalState::parse(R"({"format":"other"})").error().message,
            "not a pcipass journal (no \"format\": \"pcipass-journal\")");
  EXPECT_EQ(JournalState::parse(R"({"format":"pcipass-journal","version":2})").error().message,
            "journal version is not 1 (written by another pcipass version)");
  // An id at the edge of 64 bits would wrap on the next change.
  EXPECT_EQ(JournalState::parse(R"({"format":"pcipass-journal","version":1,)"
                                R"("next_id":18446744073709551615,"entries":[]})")
                .error()
                .message,
            "journal: 'next_id' 18446744073709551615 is out of range");
  // At 2^53 exactly the next id could be written but not read back.
  EXPECT_FALSE(JournalState::parse(R"({"format":"pcipass-journal","version":1,)"
                                   R"("next_id":9007199254740992,"entries":[]})"));
  EXPECT_TRUE(JournalState::parse(R"({"format":"pcipass-journal","version":1,)"
                                  R"("next_id":9007199254740991,"entries":[]})"));
  const std::string entry = R"({"id":18446744073709551614,"state":"done","error":"",)"
                            R"("action":{"action":"load-module","name":"vfio_pci"}})";
  EXPECT_EQ(JournalState::parse(R"({"format":"pcipass-journal","version":1,"next_id":1,)"
                                R"("entries":[)" + entry + "]}")
                .error()
                .message,
            "journal entry 18446744073709551614: id out of range");
}

TEST(JournalState, AnotherHostsJournalKeepsTheHostItsEntriesWereMadeOn) {
  JournalState journal;
  EXPECT_EQ(journal.to_text().find("\"host\""), std::string::npos);  // this machine's names none
  journal.set_host({"lab1", "", "4c4c4544-0042-3510-8052-b4c04f4d3732", ""});
  journal.finish(journal.begin(k_bind));
  auto back = JournalState::parse(journal.to_text());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->host(), journal.host());
  EXPECT_EQ(back->to_text(), journal.to_text());
  const auto bad = JournalState::parse(R"({"format":"pcipass-journal","version":1,"next_id":1,)"
                                       R"("host":{"hostname":[]},"entries":[]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "journal: host identity: hostname is not a string or null");
}

}  // namespace
}  // namespace pcipass::core
