// Host identity: two machines built alike show the same devices, so their
// name, machine id and firmware UUID are what tells them apart.

#include <pcipass/core/host_identity.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using Verdict = HostComparison::Verdict;

HostIdentity host(std::string hostname, std::string machine_id = "", std::string system_uuid = "",
                  std::string libvirt_uuid = "") {
  return {std::move(hostname), std::move(machine_id), std::move(system_uuid),
          std::move(libvirt_uuid)};
}

TEST(HostIdentity, NormalFormsDropWhatTellsNoHostApart) {
  EXPECT_EQ(normal_hostname(" Lab1.Example.ORG.\n"), "lab1.example.org");
  // Text that is no host name never reaches a message.
  for (const char* odd : {"x' and 'lab1", ".", ".x", "a..b", "-a", "lab 1", "lab1;"})
    EXPECT_EQ(normal_hostname(odd), "") << odd;
  for (const char* generic : {"localhost", "localhost.localdomain", "(none)", "", "  \n"})
    EXPECT_EQ(normal_hostname(generic), "") << generic;
  EXPECT_EQ(normal_machine_id("3D1219C7C4C5404AAA1F6D2A48ADFDA4\n"), "3d1219c7c4c5404aaa1f6d2a48adfda4");
  EXPECT_EQ(normal_machine_id("3d1219c7"), "");
  EXPECT_EQ(normal_machine_id("00000000000000000000000000000000"), "");
  EXPECT_EQ(normal_uuid("4C4C4544-0042-3510-8052-B4C04F4D3732\n"), "4c4c4544-0042-3510-8052-b4c04f4d3732");
  EXPECT_EQ(normal_uuid("4c4c454400423510-8052b4c04f4d3732"), "");  // dashes out of place
  EXPECT_EQ(normal_uuid("4c4c45440042351080520b4c04f4d3732"), "");  // 33 digits
  // What firmware writes when it has no UUID to give.
  for (const char* placeholder :
       {"00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "03000200-0400-0500-0006-000700080009"}) {
    EXPECT_EQ(normal_uuid(placeholder), "") << placeholder;
  }
}

TEST(HostIdentity, AFieldBothKnowThatDisagreesMeansTwoMachines) {
  const HostIdentity a = host("lab1", "3d1219c7c4c5404aaa1f6d2a48adfda4");
  const HostComparison renamed = compare_hosts(a, host("lab2"));
  EXPECT_EQ(renamed.verdict, Verdict::different);
  EXPECT_EQ(renamed.differences, std::vector<std::string>{"hostname 'lab1' and 'lab2'"});
  // The same name does not outweigh another machine id: one image installed twice.
  const HostComparison clone = compare_hosts(a, host("lab1", "9d1219c7c4c5404aaa1f6d2a48adfda4"));
  EXPECT_EQ(clone.verdict, Verdict::different);
  EXPECT_EQ(clone.differences, std::vector<std::string>{"machine id 3d1219c7c4c5404aaa1f6d2a48adfda4 "
                                                         "and 9d1219c7c4c5404aaa1f6d2a48adfda4"});
  const HostComparison board = compare_hosts(host("", "", "4c4c4544-0042-3510-8052-b4c04f4d3732"),
                                             host("", "", "4c4c4544-0042-3510-8052-b4c04f4d3733"));
  EXPECT_EQ(board.verdict, Verdict::different);
}

TEST(HostIdentity, TwoFullNamesAreComparedWhole) {
  const HostComparison two = compare_hosts(host("db1.staging.example"), host("db1.prod.example"));
  EXPECT_EQ(two.verdict, Verdict::different);
  EXPECT_EQ(compare_hosts(host("db1.prod.example"), host(normal_hostname("DB1.prod.example."))).verdict, Verdict::same);
}

TEST(HostIdentity, OneHostAgreesWhereBothKnowAndTheFullNameMatchesTheShortOne) {
  const HostComparison same = compare_hosts(host("lab1.example.org", "3d1219c7c4c5404aaa1f6d2a48adfda4"),
                                            host("lab1", "", "4c4c4544-0042-3510-8052-b4c04f4d3732"));
  EXPECT_EQ(same.verdict, Verdict::same);
  EXPECT_EQ(same.agreements, std::vector<std::string>{"hostname 'lab1.example.org'"});
  EXPECT_EQ(compare_hosts(host(""), host("lab1")).verdict, Verdict::unknown);
  EXPECT_EQ(compare_hosts(HostIdentity{}, HostIdentity{}).verdict, Verdict::unknown);
}

TEST(HostIdentity, LibvirtsUuidConfirmsAHostButNeverTellsTwoApart) {
  // libvirt made up its UUID (no firmware UUID): not a difference.
  const HostIdentity reported = host("", "3d1219c7c4c5404aaa1f6d2a48adfda4", "4c4c4544-0042-3510-8052-b4c04f4d3732");
  EXPECT_EQ(compare_hosts(reported, host("", "", "", "2cea74ce-619f-4a90-a544-066f6b78f41f")).verdict,
            Verdict::unknown);
  // libvirt's UUID is the firmware's (host_uuid_source=smbios) or the machine id.
  EXPECT_EQ(compare_hosts(reported, host("", "", "", "4c4c4544-0042-3510-8052-b4c04f4d3732")).verdict,
            Verdict::same);
  EXPECT_EQ(compare_hosts(host("", "", "", "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4"), reported).verdict,
            Verdict::same);
}

TEST(HostIdentity, JsonRoundTripsAndNormalises) {
  const HostIdentity identity = host("lab1", "3d1219c7c4c5404aaa1f6d2a48adfda4",
                                     "4c4c4544-0042-3510-8052-b4c04f4d3732");
  const auto back = HostIdentity::from_json(identity.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, identity);
  EXPECT_TRUE(identity.to_json()["libvirt_uuid"].is_null());
  const auto odd = HostIdentity::from_json(
      {{"hostname", "LOCALHOST"}, {"system_uuid", "00000000-0000-0000-0000-000000000000"}});
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->empty());
  const auto bad = HostIdentity::from_json({{"hostname", 7}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ExitCode::bad_input);
  EXPECT_EQ(bad.error().message, "host identity: hostname is not a string or null");
  const auto quoted = HostIdentity::from_json({{"hostname", "x' and 'lab1"}});
  ASSERT_FALSE(quoted);
  EXPECT_EQ(quoted.error().code, ExitCode::bad_input);
  EXPECT_FALSE(HostIdentity::from_json(nlohmann::json::array()));
}

TEST(HostIdentity, ReadsLibvirtsCapabilitiesAndSysinfo) {
  EXPECT_EQ(capabilities_host_uuid("<capabilities><host><uuid>2CEA74CE-619F-4A90-A544-066F6B78F41F"
                                   "</uuid><cpu/></host></capabilities>"),
            "2cea74ce-619f-4a90-a544-066f6b78f41f");
  EXPECT_EQ(capabilities_host_uuid("<capabilities><host><cpu/></host></capabilities>"), "");
  EXPECT_EQ(capabilities_host_uuid("<capabilities"), "");
  EXPECT_EQ(sysinfo_system_uuid("<sysinfo type='smbios'><bios><entry name='uuid'>x</entry></bios>"
                                "<system><entry name='manufacturer'>QEMU</entry>"
                                "<entry name='uuid'>4c4c4544-0042-3510-8052-b4c04f4d3732</entry>"
                                "</system></sysinfo>"),
            "4c4c4544-0042-3510-8052-b4c04f4d3732");
  EXPECT_EQ(sysinfo_system_uuid("<sysinfo type='smbios'><system><entry name='uuid'>"
                                "00000000-0000-0000-0000-000000000000</entry></system></sysinfo>"),
            "");
  EXPECT_EQ(sysinfo_system_uuid("not xml"), "");
}

TEST(HostIdentity, DescribeNamesWhatIsKnown) {
  EXPECT_EQ(HostIdentity{}.describe(), "no identity");
  EXPECT_EQ(host("lab1", "", "4c4c4544-0042-3510-8052-b4c04f4d3732").describe(),
            "host 'lab1', system UUID 4c4c4544-0042-3510-8052-b4c04f4d3732");
}

}  // namespace
}  // namespace pcipass::core
