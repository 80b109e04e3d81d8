// plan_restore and plan_release_files: what comes back after a reboot or a
// crash, what is left alone and why, and what release --all undoes.

#include <pcipass/core/restore_planner.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

PciAddress addr(const char* text) {
  return PciAddress::parse(text).value();
}

PciDevice device(const char* address, std::uint16_t vendor, std::uint16_t id, const char* driver,
                 unsigned group) {
  PciDevice d;
  d.address = addr(address);
  d.vendor_id = vendor;
  d.device_id = id;
  d.class_code = 0x010802;
  d.header = header_kind_from_class(0x010802);
  d.driver = driver;
  d.iommu_group = group;
  return d;
}

const BindToVfio k_zns{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9};
const WriteFile k_rule{"/etc/udev/rules.d/90-pcipass-vfio.rules", "rule\n", 0644, ""};
const SetPermissions k_override{"/sys/bus/pci/devices/0000:02:00.0/driver_override", 0664, "kvm",
                                0644, "root"};
const SetPermissions k_vfio_unbind{"/sys/bus/pci/drivers/vfio-pci/unbind", 0220, "kvm", 0200,
                                   "root"};

// The host after a reboot: the disk back on nvme, in group 9.
Inventory rebooted(const char* driver = "nvme") {
  Inventory inventory;
  inventory.add(device("0000:02:00.0", 0x1b96, 0x2600, driver, 9));
  inventory.rebuild_groups();
  return inventory;
}

JournalState journal_of(const std::vector<Action>& actions, EntryState state = EntryState::done) {
  JournalState journal;
  for (const Action& action : actions) {
    const auto id = journal.begin(action);
    if (state == EntryState::done) journal.finish(id);
    if (state == EntryState::failed) journal.mark_failed(id, "writing x: Input/output error");
  }
  return journal;
}

RestoreRequest request(Force force = Force::no) {
  return RestoreRequest{force, "/sys"};
}

// The files as pcipass left them.
FileStates as_written() {
  return {{k_rule.path, FileState{true, k_rule.bytes, 0644, "root"}},
          {k_override.path, FileState{true, "", 0664, "kvm"}},
          {k_vfio_unbind.path, FileState{true, "", 0220, "kvm"}}};
}

TEST(PlanRestore, RebindsAfterARebootAndLoadsTheModuleFirst) {
  const auto out =
      plan_restore(rebooted(), journal_of({k_zns}), VfioModule::missing, {}, request());
  EXPECT_EQ(out.plan.actions,
            (std::vector<Action>{
                LoadModule{"vfio_pci"},
                BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9}}));
  EXPECT_TRUE(out.plan.notes.empty());
  EXPECT_TRUE(out.refused.empty());
}

TEST(PlanRestore, ADeviceStillOnVfioIsSkippedSoASecondRunDoesNothing) {
  const auto out = plan_restore(rebooted("vfio-pci"), journal_of({k_zns, k_rule, k_override}),
                                VfioModule::loaded, as_written(), request());
  EXPECT_TRUE(out.plan.actions.empty());
  EXPECT_EQ(out.plan.notes, (std::vector<std::string>{
                                "0000:02:00.0 is already on vfio-pci",
                                "unchanged: /etc/udev/rules.d/90-pcipass-vfio.rules",
                                "unchanged: /sys/bus/pci/devices/0000:02:00.0/driver_override",
                            }));
}

TEST(PlanRestore, ChangedIdsAndHostUseAreRefusedTheRestGoesOn) {
  Inventory inventory;
  inventory.add(device("0000:02:00.0", 0x8086, 0x0a54, "nvme", 9));  // another drive
  PciDevice mounted = device("0000:03:00.0", 0x1b96, 0x2600, "nvme", 10);
  mounted.host_uses = {"backs /srv (xfs on /dev/nvme2n1)"};
  inventory.add(mounted);
  inventory.add(device("0000:04:00.0", 0x1b96, 0x2600, "nvme", 11));
  inventory.rebuild_groups();
  BindToVfio second = k_zns;
  second.address = addr("0000:03:00.0");
  BindToVfio third = k_zns;
  third.address = addr("0000:04:00.0");
  BindToVfio gone = k_zns;
  gone.address = addr("0000:05:00.0");
  const JournalState journal = journal_of({k_zns, second, third, gone});

  const auto out = plan_restore(inventory, journal, VfioModule::loaded, {}, request());
  EXPECT_EQ(out.refused,
            (std::vector<std::string>{
                "0000:02:00.0: is now 8086:0a54, but pcipass bound 1b96:2600 there; not touching "
                "it",
                "0000:03:00.0: used by the host now: backs /srv (xfs on /dev/nvme2n1) (restore "
                "--force binds it anyway)",
            }));
  EXPECT_EQ(out.plan.notes,
            (std::vector<std::string>{"0000:05:00.0: no such PCI device on this host any more "
                                      "(bound as 1b96:2600); nothing to restore (pcipass "
                                      "release 0000:05:00.0 forgets it)"}));
  ASSERT_EQ(out.plan.actions.size(), 1u);
  EXPECT_EQ(std::get<BindToVfio>(out.plan.actions[0]).address, addr("0000:04:00.0"));

  const auto forced = plan_restore(inventory, journal, VfioModule::loaded, {}, request(Force::yes));
  EXPECT_EQ(forced.refused.size(), 1u);  // ids that changed are never forced
  EXPECT_EQ(forced.plan.actions.size(), 2u);
}

TEST(PlanRestore, ABindACrashLeftPendingOrFailedIsFinished) {
  for (EntryState state : {EntryState::pending, EntryState::failed}) {
    // Crashed after the unbind: no driver, override set; the journal keeps nvme to give back.
    BindToVfio resumed = k_zns;
    const auto out =
        plan_restore(rebooted(""), journal_of({resumed}, state), VfioModule::loaded, {}, request());
    ASSERT_EQ(out.plan.actions.size(), 1u);
    const auto& bind = std::get<BindToVfio>(out.plan.actions[0]);
    EXPECT_EQ(bind.current_driver, "");
    EXPECT_EQ(bind.restore_driver, "nvme");
    EXPECT_EQ(out.plan.notes, std::vector<std::string>{
                                  std::string("0000:02:00.0: finishing the bind an earlier run "
                                              "left ") +
                                  to_string(state)});
    // Even when it made it onto vfio-pci: re-bound, verified, marked done.
    EXPECT_EQ(plan_restore(rebooted("vfio-pci"), journal_of({resumed}, state), VfioModule::loaded,
                           {}, request())
                  .plan.actions.size(),
              1u);
  }
}

TEST(PlanRestore, AnInterruptedReleaseIsLeftToRelease) {
  JournalState journal = journal_of({k_zns});
  journal.begin(ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"});
  const auto out = plan_restore(rebooted(), journal, VfioModule::loaded, {}, request());
  EXPECT_TRUE(out.plan.actions.empty());
  EXPECT_EQ(out.plan.notes,
            std::vector<std::string>{"0000:02:00.0: an earlier release of it was interrupted; not "
                                     "binding it again (pcipass release 0000:02:00.0 finishes the "
                                     "release)"});
}

TEST(PlanRestore, MissingOrChangedFilesAreWrittenAgainAndLostModesSetAgain) {
  FileStates files = as_written();
  files[k_rule.path] = FileState{true, "edited\n", 0644, "root"};
  files[k_override.path].mode = 0644;  // what the kernel gives after a reboot
  files[k_override.path].group = "root";
  WriteFile limits{"/etc/security/limits.d/90-pcipass-memlock.conf", "@kvm hard memlock 1\n", 0644,
                   ""};
  const auto out =
      plan_restore(rebooted("vfio-pci"), journal_of({k_zns, k_rule, k_override, limits}),
                   VfioModule::loaded, files, request());
  EXPECT_EQ(out.plan.actions, (std::vector<Action>{k_rule, k_override, limits}));
  EXPECT_EQ(out.plan.notes,
            (std::vector<std::string>{
                "0000:02:00.0 is already on vfio-pci",
                "/etc/udev/rules.d/90-pcipass-vfio.rules differs from what pcipass wrote: writing "
                "it again",
                "/etc/security/limits.d/90-pcipass-memlock.conf is missing: writing it again",
            }));
}

// A run whose last journal write failed leaves a module load, a file or a
// mode in place on the host but pending (or failed) in the journal: restore
// makes each again, so that the journal records it done.
TEST(PlanRestore, LoadsFilesAndModesLeftUnfinishedAreMadeAgainEvenWhenInPlace) {
  for (EntryState state : {EntryState::pending, EntryState::failed}) {
    JournalState journal = journal_of({k_zns});
    for (const Action& action : std::vector<Action>{LoadModule{"vfio_pci"}, k_rule, k_override}) {
      const auto id = journal.begin(action);
      if (state == EntryState::failed) journal.mark_failed(id, "writing x: Input/output error");
    }
    const auto out =
        plan_restore(rebooted("vfio-pci"), journal, VfioModule::loaded, as_written(), request());
    EXPECT_EQ(out.plan.actions, (std::vector<Action>{LoadModule{"vfio_pci"}, k_rule, k_override}));
    const std::string left = to_string(state);
    EXPECT_EQ(out.plan.notes,
              (std::vector<std::string>{
                  "0000:02:00.0 is already on vfio-pci",
                  "/etc/udev/rules.d/90-pcipass-vfio.rules: finishing the write an earlier "
                  "run left " +
                      left,
                  "/sys/bus/pci/devices/0000:02:00.0/driver_override: finishing the mode "
                  "change an earlier run left " +
                      left,
              }));
  }
}

TEST(PlanRestore, AModeInTheVfioDriverFolderWaitsForTheModuleOthersAreSkipped) {
  SetPermissions gone_driver{"/sys/bus/pci/drivers/nvme/unbind", 0220, "kvm", 0200, "root"};
  const JournalState journal = journal_of({k_zns, k_vfio_unbind, gone_driver});
  // vfio-pci is loaded by this plan, so its unbind attribute will exist.
  const auto out = plan_restore(rebooted(), journal, VfioModule::missing, {}, request());
  ASSERT_EQ(out.plan.actions.size(), 3u);
  EXPECT_EQ(std::get<SetPermissions>(out.plan.actions[2]), k_vfio_unbind);
  EXPECT_EQ(out.plan.notes,
            std::vector<std::string>{"/sys/bus/pci/drivers/nvme/unbind does not exist now (is its "
                                     "driver loaded?); its mode 0220 is not restored"});
}

TEST(PlanRestore, TheVfioNodeOfAGroupBeingReboundGetsItsModeAfterTheBind) {
  // A reboot loses /dev/vfio/9 with the binding; the bind of group 9 makes
  // the node again, so its mode is planned after the bind. The node of a
  // group no bind brings back stays a note.
  const SetPermissions node9{"/dev/vfio/9", 0660, "kvm", 0600, "root"};
  const SetPermissions node19{"/dev/vfio/19", 0660, "kvm", 0600, "root"};
  const JournalState journal = journal_of({k_zns, node9, node19});
  const auto out = plan_restore(rebooted(), journal, VfioModule::loaded, {}, request());
  ASSERT_EQ(out.plan.actions.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<BindToVfio>(out.plan.actions[0]));
  EXPECT_EQ(std::get<SetPermissions>(out.plan.actions[1]), node9);
  EXPECT_EQ(out.plan.notes, std::vector<std::string>{"/dev/vfio/19 does not exist now (is its "
                                                     "driver loaded?); its mode 0660 is not "
                                                     "restored"});
}

TEST(PlanRestore, AnInterruptedReleaseAllLeavesTheFileAlone) {
  JournalState journal = journal_of({k_rule});
  journal.begin(RemoveFile{k_rule.path, k_rule.bytes});
  const auto out = plan_restore(Inventory{}, journal, VfioModule::loaded, {}, request());
  EXPECT_TRUE(out.plan.actions.empty());
  EXPECT_EQ(out.plan.notes, std::vector<std::string>{
                                "/etc/udev/rules.d/90-pcipass-vfio.rules: an earlier release --all "
                                "was undoing it; left as it is (pcipass release --all finishes "
                                "it)"});
}

TEST(PlanReleaseFiles, AWorldWritableEarlierModeComesBackWithoutThoseBits) {
  // /dev/vfio/N made 0666 by hand before pcipass: giving that back would be
  // refused as world-writable and block release --all whole.
  SetPermissions node{"/dev/vfio/9", 0660, "kvm", 0666, "root"};
  const auto plan = plan_release_files(journal_of({node}), as_written());
  EXPECT_EQ(plan.actions, (std::vector<Action>{RevertPermissions{"/dev/vfio/9", 0664, "root"}}));
  EXPECT_EQ(plan.notes, std::vector<std::string>{
                            "/dev/vfio/9 had mode 0666 before pcipass; it gets 0664 back (never "
                            "set-uid, set-gid, sticky or world-writable)"});
}

TEST(PlanReleaseFiles, RemovesFilesAndRevertsModesNewestFirstButKeepsTheService) {
  const WriteFile unit{"/etc/systemd/system/pcipass-restore.service", "[Unit]\n", 0644, ""};
  SetPermissions unrecorded = k_vfio_unbind;
  unrecorded.previous_mode.reset();
  FileStates files = as_written();
  files[k_rule.path].bytes = "edited\n";
  const auto plan = plan_release_files(journal_of({unit, k_rule, k_override, unrecorded}), files);
  // The unrecorded mode is forgotten (dropped from the journal, file untouched).
  EXPECT_EQ(plan.actions, (std::vector<Action>{ForgetFile{k_vfio_unbind.path},
                                               RevertPermissions{k_override.path, 0644, "root"},
                                               RemoveFile{k_rule.path, k_rule.bytes}}));
  EXPECT_EQ(plan.notes,
            (std::vector<std::string>{
                "no earlier mode of /sys/bus/pci/drivers/vfio-pci/unbind is recorded: left as it "
                "is",
                "/etc/udev/rules.d/90-pcipass-vfio.rules was changed since pcipass wrote it: left "
                "in place, and forgotten",
                "/etc/systemd/system/pcipass-restore.service stays: to remove the boot service, "
                "run systemctl disable pcipass-restore.service and delete the file",
            }));
}

TEST(JournalFiles, RewritesReplaceEntriesKeepThePreviousModeAndUndoRemovesThem) {
  JournalState journal;
  journal.finish(journal.begin(k_override));
  SetPermissions again = k_override;  // restore re-applies after a reboot: 0644 root again
  again.previous_mode = 0644;
  again.previous_group = "kvm";
  journal.finish(journal.begin(again));
  journal.finish(journal.begin(k_rule));
  journal.finish(journal.begin(k_rule));
  ASSERT_EQ(journal.file_entries().size(), 2u);
  EXPECT_EQ(std::get<SetPermissions>(journal.file_entries()[0]->action).previous_group, "root");

  const auto undo = journal.begin(RevertPermissions{k_override.path, 0644, "root"});
  EXPECT_TRUE(journal.undo_pending(k_override.path));
  EXPECT_EQ(journal.entries().size(), 3u);
  journal.finish(undo);
  ASSERT_EQ(journal.entries().size(), 1u);
  EXPECT_EQ(std::get<WriteFile>(journal.entries()[0].action), k_rule);

  journal.finish(journal.begin(LoadModule{"vfio_pci"}));  // one boot
  journal.finish(journal.begin(LoadModule{"vfio_pci"}));  // the next
  EXPECT_EQ(journal.entries().size(), 2u);
}

}  // namespace
}  // namespace pcipass::core
