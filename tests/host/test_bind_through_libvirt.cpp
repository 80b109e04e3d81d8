// Binding and releasing through libvirt's node-device API (bind -c URI of
// another host): the executor asks libvirt to detach or re-attach, checks
// the device libvirt describes first and its driver afterwards, journals the
// URI, and never touches a device through any other host or path. libvirt
// here is SimulatedNodeDevices: the qemu driver's calls made on the
// simulated kernel.

#include "support/host_rig.hpp"
#include "support/simulated_node_devices.hpp"

#include <pcipass/core/bind_planner.hpp>

#include <gtest/gtest.h>

namespace pcipass::host {
namespace {

constexpr const char* k_hv1 = "qemu+ssh://hv1.example/system";
constexpr const char* k_zns = "0000:02:00.0";  // workstation: nvme, group 9, free

core::PciAddress addr(const char* text) { return core::PciAddress::parse(text).value(); }

struct Rig : test::HostRig {
  Rig() : HostRig("workstation"), libvirt(kernel, k_hv1) { node_devices = &libvirt; }

  core::Plan plan_bind(const char* device, const std::string& through = k_hv1) {
    core::BindRequest request;
    request.devices.push_back(addr(device));
    core::Plan plan =
        core::plan_bind(inventory(), request, journal().state(), core::VfioModule::loaded)
            .value_or_throw();
    for (core::Action& action : plan.actions) std::get<core::BindToVfio>(action).through = through;
    return plan;
  }
  core::Plan plan_release_all() {
    core::ReleaseRequest request;
    request.scope = core::ReleaseScope::all;
    core::Plan plan = core::plan_release(inventory(), request, journal().state()).value_or_throw();
    for (core::Action& action : plan.actions) std::get<core::ReleaseDevice>(action).through = k_hv1;
    return plan;
  }

  test::SimulatedNodeDevices libvirt;
};

TEST(BindThroughLibvirt, LibvirtDetachesAndReattachesAndTheJournalNamesTheHost) {
  Rig rig;
  const core::Plan bind = rig.plan_bind(k_zns);
  ASSERT_EQ(bind.actions.size(), 1u);
  auto done = rig.run(bind.actions);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(rig.libvirt.calls, (std::vector<std::string>{"detach 0000:02:00.0"}));
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  // Every write was libvirt's, none the executor's own.
  EXPECT_EQ(rig.kernel.writes(), (std::vector<std::string>{
                                     "bus/pci/devices/0000:02:00.0/driver_override <- vfio-pci",
                                     "bus/pci/drivers/nvme/unbind <- 0000:02:00.0",
                                     "bus/pci/drivers_probe <- 0000:02:00.0",
                                 }));
  {
    const Journal journal = rig.journal();
    ASSERT_EQ(journal.state().entries().size(), 1u);
    const core::JournalEntry& entry = journal.state().entries()[0];
    EXPECT_EQ(entry.state, core::EntryState::done);
    const auto& recorded = std::get<core::BindToVfio>(entry.action);
    EXPECT_EQ(recorded.through, k_hv1);
    EXPECT_EQ(recorded.restore_driver, "nvme");
    EXPECT_EQ(core::action_to_json(entry.action)["node_device"], "pci_0000_02_00_0");
  }

  done = rig.run(rig.plan_release_all().actions);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(rig.libvirt.calls,
            (std::vector<std::string>{"detach 0000:02:00.0", "reattach 0000:02:00.0"}));
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_TRUE(rig.journal().state().entries().empty());
}

TEST(BindThroughLibvirt, AnActionForAnotherHostIsNeverMadeOnThisOne) {
  for (const bool connected : {true, false}) {
    Rig rig;
    test::SimulatedNodeDevices hv2(rig.kernel, "qemu+ssh://hv2.example/system");
    rig.node_devices = connected ? &hv2 : nullptr;
    auto done = rig.run(rig.plan_bind(k_zns).actions);
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, core::ExitCode::refused);
    EXPECT_EQ(done.error().message,
              "binding 0000:02:00.0: it is on the host libvirt reaches at "
              "'qemu+ssh://hv1.example/system'; nothing was changed (run pcipass with -c and "
              "that URI)");
    EXPECT_TRUE(hv2.calls.empty());
    EXPECT_TRUE(rig.libvirt.calls.empty());
    EXPECT_TRUE(rig.kernel.writes().empty());
    EXPECT_TRUE(rig.journal().state().entries().empty());
  }
}

TEST(BindThroughLibvirt, ADeviceThatChangedSincePlanningIsLeftAlone) {
  Rig rig;
  const core::Plan plan = rig.plan_bind(k_zns);
  rig.kernel.set_ids(k_zns, 0x144d, 0xa808);  // another drive took the address
  auto done = rig.run(plan.actions);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, core::ExitCode::refused);
  EXPECT_EQ(done.error().message,
            "binding 0000:02:00.0: the device there is now 144d:a808, not 1b96:2600 as planned; "
            "nothing was changed for it (run pcipass again to re-plan)");
  EXPECT_TRUE(rig.libvirt.calls.empty());
  EXPECT_TRUE(rig.journal().state().entries().empty());
}

// libvirt said yes, but the device is not on vfio-pci: the entry says failed.
class LyingNodeDevices final : public NodeDevices {
public:
  explicit LyingNodeDevices(test::SimulatedNodeDevices& real) : m_real(real) {}
  [[nodiscard]] std::string uri() const override { return m_real.uri(); }
  [[nodiscard]] core::Result<std::optional<core::PciDevice>> read(
      const core::PciAddress& address) const override {
    return m_real.read(address);
  }
  core::Status detach_to_vfio(const core::PciAddress&) override { return core::ok(); }
  core::Status reattach(const core::PciAddress&) override {
    return core::fail("re-attaching pci_0000_02_00_0 at 'qemu+ssh://hv1.example/system': "
                      "this function is not supported by the connection driver",
                      core::ExitCode::host_error);
  }

private:
  test::SimulatedNodeDevices& m_real;
};

TEST(BindThroughLibvirt, WhatLibvirtReportsAfterwardsDecidesDoneOrFailed) {
  Rig rig;
  LyingNodeDevices lying(rig.libvirt);
  rig.node_devices = &lying;
  auto done = rig.run(rig.plan_bind(k_zns).actions);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, core::ExitCode::host_error);
  EXPECT_EQ(done.error().message,
            "binding 0000:02:00.0 to vfio-pci: libvirt at 'qemu+ssh://hv1.example/system' "
            "reports driver nvme afterwards, not vfio-pci");
  {
    const Journal journal = rig.journal();
    ASSERT_EQ(journal.state().entries().size(), 1u);
    EXPECT_EQ(journal.state().entries()[0].state, core::EntryState::failed);
  }

  // A failed re-attach keeps the entry, so the device is never forgotten.
  rig.node_devices = &rig.libvirt;
  ASSERT_TRUE(rig.run(rig.plan_bind(k_zns).actions));
  rig.node_devices = &lying;
  done = rig.run(rig.plan_release_all().actions);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().message,
            "releasing 0000:02:00.0: re-attaching pci_0000_02_00_0 at "
            "'qemu+ssh://hv1.example/system': this function is not supported by the connection "
            "driver");
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_FALSE(rig.journal().state().bind_entries().empty());
}

TEST(BindThroughLibvirt, AJournalIsReadOnlyForTheHostItsEntriesWereMadeOn) {
  Rig rig;
  ASSERT_TRUE(rig.run(rig.plan_bind(k_zns).actions));
  const std::string path = (rig.state() / "journal.json").string();
  auto local = Journal::load(rig.os, rig.state());
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().code, core::ExitCode::refused);
  EXPECT_EQ(local.error().message,
            "refusing the journal " + path + ": it records 0000:02:00.0 on the host libvirt "
            "reaches at 'qemu+ssh://hv1.example/system', and this run acts on this machine (run "
            "pcipass -c qemu+ssh://hv1.example/system for it)");
  auto other = Journal::load(rig.os, rig.state(), "qemu+ssh://hv2.example/system");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("and this run acts on the host libvirt reaches at "
                                       "'qemu+ssh://hv2.example/system'"),
            std::string::npos)
      << other.error().message;
  EXPECT_TRUE(Journal::load(rig.os, rig.state(), k_hv1));
}

TEST(BindThroughLibvirt, WhetherADeviceLeftThatHostIsAskedOfItsLibvirt) {
  Rig rig;
  ASSERT_TRUE(rig.run(rig.plan_bind(k_zns).actions));
  // Planned as if libvirt no longer listed it: a forget, made through libvirt.
  core::ReleaseRequest request;
  request.scope = core::ReleaseScope::all;
  core::Plan plan = core::plan_release(core::Inventory{}, request, rig.journal().state()).value_or_throw();
  ASSERT_EQ(plan.actions.size(), 1u);
  std::get<core::ForgetDevice>(plan.actions[0]).through = k_hv1;
  const auto done = rig.run(plan.actions);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().message,
            "forgetting 0000:02:00.0: libvirt at 'qemu+ssh://hv1.example/system' has it again; "
            "nothing was changed (run pcipass release again to give it back to its driver)");
  EXPECT_FALSE(rig.journal().state().bind_entries().empty());
}

TEST(BindThroughLibvirt, ADeviceThatHadNoDriverMayGetOneWhenLibvirtReattachesIt) {
  Rig rig;
  ASSERT_TRUE(rig.run(rig.plan_bind(k_zns).actions));
  // libvirt's re-attach lets the kernel probe: nvme takes the drive back.
  const core::Action release = core::ReleaseDevice{addr(k_zns), core::DeviceIds{0x1b96, 0x2600},
                                                   "vfio-pci", "", k_hv1};
  const auto done = rig.run({release});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
}

}  // namespace
}  // namespace pcipass::host
