// Which guests hold each device: from every domain's persistent and
// running definitions, and the refusal lines attach, plan and bringup print.

#include "support/test_devices.hpp"

#include <pcipass/core/device_holders.hpp>
#include <pcipass/core/domain_xml.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using test::addr;

TEST(DeviceHolders, HostdevsAndHostdevInterfacesAreHeld) {
  const auto xml = DomainXml::parse(
                       "<domain type='kvm'><name>g</name><devices>"
                       "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' "
                       "bus='0x02' slot='0x00' function='0x0'/></source></hostdev>"
                       "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source>"
                       "</hostdev>"
                       "<interface type='hostdev' managed='yes'><source><address type='pci' "
                       "domain='0x0000' bus='0x05' slot='0x02' function='0x1'/></source></interface>"
                       "<interface type='network'><source network='default'/></interface>"
                       "</devices></domain>")
                       .value();
  EXPECT_EQ(xml.held_pci_devices(),
            (std::vector<PciAddress>{addr("0000:02:00.0"), addr("0000:05:02.1")}));
}

TEST(DeviceHolders, EachDeviceKnowsItsGuestsAndHowTheyHoldIt) {
  const PciAddress zns = addr("0000:02:00.0");
  const PciAddress nic = addr("0000:05:00.0");
  const PciAddress gpu = addr("0000:2d:00.0");
  const DeviceHolders holders = holders_of({
      {"web", true, {zns}, {zns, nic}},  // running; the NIC hot-plugged
      {"db", false, {zns, gpu}, {}},     // off
      {"next", true, {gpu}, {}},         // running; the GPU only at its next start
  });
  ASSERT_EQ(holders.size(), 3u);
  EXPECT_EQ(holders.at(zns), (std::vector<DeviceHolder>{{"db", false, true, false},
                                                        {"web", true, true, true}}));
  EXPECT_EQ(describe_holders(holders.at(zns)), "guests 'db' and 'web' (running)");
  EXPECT_EQ(describe_holders(holders.at(nic)), "guest 'web' (running, hot-plugged)");
  EXPECT_EQ(describe_holders(holders.at(gpu)), "guests 'db' and 'next' (at its next start)");
  EXPECT_EQ(describe_holders({}), "");

  EXPECT_TRUE(other_holders(holders, nic, "web").empty());
  EXPECT_TRUE(other_holders(holders, addr("0000:09:00.0"), "web").empty());
  EXPECT_EQ(held_elsewhere(holders, {{nic, "web"}, {zns, "db"}, {gpu, "db"}}),
            (std::vector<std::string>{
                "0000:02:00.0 is held by guest 'web' (running), not 'db'; it would be taken from "
                "a running guest",
                "0000:2d:00.0 is held by guest 'next' (at its next start), not 'db'; both would "
                "claim it when they start"}));
}

}  // namespace
}  // namespace pcipass::core
