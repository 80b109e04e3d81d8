// fill_names(): every device with ids gets the database's names, sanitized;
// a run of functions with the same ids (SR-IOV VFs) is looked up once.

#include <pcipass/core/pci_names.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pcipass::core {
namespace {

// Names made of the ids, counting the lookups.
class CountingNames final : public PciNames {
public:
  std::string vendor(std::uint16_t v) const override {
    ++lookups;
    return "vendor " + std::to_string(v);
  }
  std::string device(std::uint16_t v, std::uint16_t d) const override {
    ++lookups;
    return "device " + std::to_string(v) + ":" + std::to_string(d) + "\n";  // sanitized away
  }
  std::string subsystem(std::uint16_t, std::uint16_t, std::uint16_t sv,
                        std::uint16_t sd) const override {
    ++lookups;
    return "subsystem " + std::to_string(sv) + ":" + std::to_string(sd);
  }
  std::string class_name(std::uint32_t c) const override {
    ++lookups;
    return "class " + std::to_string(c >> 8);
  }
  mutable int lookups = 0;
};

PciDevice vf(const char* address, std::uint16_t subsystem_device) {
  PciDevice d = test::device(address, 0x8086, 0x154c, 0x020000, "iavf", 1);
  d.subsystem_vendor_id = 0x8086;
  d.subsystem_device_id = subsystem_device;
  return d;
}

TEST(FillNames, NamesRunsOfEqualIdsOnceAndEveryDeviceAlike) {
  Inventory inventory;
  inventory.add(vf("0000:01:02.0", 1));
  inventory.add(vf("0000:01:02.1", 1));
  inventory.add(vf("0000:01:02.2", 1));
  inventory.add(vf("0000:01:02.3", 2));  // another subsystem: looked up again
  PciDevice named = test::device("0000:02:00.0", 0, 0, 0, "", 2);
  named.vendor_id.reset();
  named.device_id.reset();
  named.class_code.reset();
  named.vendor_name = "from lspci";
  named.device_name = "kept";
  inventory.add(named);
  PciDevice named_too = named;
  named_too.address = test::addr("0000:02:00.1");
  named_too.vendor_name = "also from lspci";
  inventory.add(named_too);

  CountingNames names;
  fill_names(inventory, names);
  EXPECT_EQ(names.lookups, 10);  // 5 for the first VF, 5 for the one with other ids
  for (const char* address : {"0000:01:02.0", "0000:01:02.1", "0000:01:02.2"}) {
    const PciDevice& d = *inventory.find(test::addr(address));
    EXPECT_EQ(d.vendor_name, "vendor 32902") << address;
    EXPECT_EQ(d.device_name, "device 32902:5452") << address;
    EXPECT_EQ(d.subsystem_vendor_name, "vendor 32902") << address;
    EXPECT_EQ(d.subsystem_name, "subsystem 32902:1") << address;
    EXPECT_EQ(d.class_name, "class 512") << address;
  }
  EXPECT_EQ(inventory.find(test::addr("0000:01:02.3"))->subsystem_name, "subsystem 32902:2");
  // Devices without ids keep the names their source gave, each its own.
  EXPECT_EQ(inventory.find(test::addr("0000:02:00.0"))->vendor_name, "from lspci");
  EXPECT_EQ(inventory.find(test::addr("0000:02:00.1"))->vendor_name, "also from lspci");
  EXPECT_EQ(inventory.find(test::addr("0000:02:00.1"))->device_name, "kept");
}

}  // namespace
}  // namespace pcipass::core
