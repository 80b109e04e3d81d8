#include <pcipass/core/pci_address.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

TEST(PciAddress, ParsesFullForm) {
  auto a = PciAddress::parse("0000:2d:00.1");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->domain, 0u);
  EXPECT_EQ(a->bus, 0x2d);
  EXPECT_EQ(a->slot, 0);
  EXPECT_EQ(a->function, 1);
  EXPECT_EQ(a->to_string(), "0000:2d:00.1");
}

TEST(PciAddress, ParsesShortFormAsDomainZero) {
  auto a = PciAddress::parse("2D:1f.7");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->to_string(), "0000:2d:1f.7");
}

TEST(PciAddress, ParsesLibvirtName) {
  auto a = PciAddress::parse("pci_0001_2d_03_4");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->to_string(), "0001:2d:03.4");
  EXPECT_EQ(a->libvirt_name(), "pci_0001_2d_03_4");
}

TEST(PciAddress, ParsesWideVmdDomain) {
  auto a = PciAddress::parse("10000:e1:00.0");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->domain, 0x10000u);
  EXPECT_EQ(a->to_string(), "10000:e1:00.0");
}

TEST(PciAddress, OrdersByDomainBusSlotFunction) {
  EXPECT_LT(*PciAddress::parse("00:1f.7"), *PciAddress::parse("01:00.0"));
  EXPECT_LT(*PciAddress::parse("0000:ff:1f.7"), *PciAddress::parse("0001:00:00.0"));
}

struct Rejected {
  const char* input;
  const char* message;
};

void PrintTo(const Rejected& r, std::ostream* os) { *os << "'" << r.input << "'"; }

class PciAddressRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(PciAddressRejects, WithMessageSayingWhatWasExpected) {
  auto a = PciAddress::parse(GetParam().input);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ExitCode::usage);
  EXPECT_EQ(a.error().message,
            std::string(GetParam().message) +
                "; expected DDDD:BB:SS.F (e.g. 0000:2d:00.0), BB:SS.F or pci_DDDD_BB_SS_F");
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, PciAddressRejects,
    ::testing::Values(
        Rejected{"", "invalid PCI address '': it is empty"},
        Rejected{"0000:2d:00.8", "invalid PCI address '0000:2d:00.8': function 8 is above 7"},
        Rejected{"0000:2d:20.0", "invalid PCI address '0000:2d:20.0': slot 0x20 is above 0x1f"},
        Rejected{"0000:2g:00.0",
                 "invalid PCI address '0000:2g:00.0': 'g' is not a hex digit in the bus"},
        Rejected{"0000:2d:00.0x",
                 "invalid PCI address '0000:2d:00.0x': unexpected 'x' after the function"},
        Rejected{"0000:2d:00.0\n",
                 "invalid PCI address '0000:2d:00.0\\x0a': unexpected '\\x0a' after the function"},
        Rejected{"../../devices/0000:2d:00.0",
                 "invalid PCI address '../../devices/0000:2d:00.0': it looks like a path"},
        Rejected{"0000:2d:00", "invalid PCI address '0000:2d:00': expected '.' after the slot"},
        Rejected{"0000:2d:00.", "invalid PCI address '0000:2d:00.': the function is missing"},
        Rejected{"00:2d:00.0",
                 "invalid PCI address '00:2d:00.0': the domain needs 4 to 8 hex digits"},
        Rejected{"pci_0000_2d_00", "invalid PCI address 'pci_0000_2d_00': libvirt names have four parts"},
        Rejected{"123456789:00:00.0",
                 "invalid PCI address '123456789:00:00.0': expected ':' after the domain"}));

}  // namespace
}  // namespace pcipass::core
