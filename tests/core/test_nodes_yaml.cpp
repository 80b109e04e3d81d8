#include <pcipass/core/nodes_yaml.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

TEST(NodesYaml, ReadsGuestsAndTheirPassthroughEntries) {
  auto guests = parse_nodes_yaml(R"(---
guestfs_nodes:
  - name: kdevops-xfs
    pcipassthrough:
      zns1:
        domain: 0x0000
        bus: 0x2d
        slot: 0x00
        function: 0x0
      gpu:
        domain: 0
        bus: 45
        slot: 0
        function: 1
  - name: kdevops-btrfs
)");
  ASSERT_TRUE(guests) << guests.error().message;
  ASSERT_EQ(guests->size(), 2u);
  EXPECT_EQ((*guests)[0].name, "kdevops-xfs");
  ASSERT_EQ((*guests)[0].passthrough.size(), 2u);
  EXPECT_EQ((*guests)[0].passthrough[0].name, "zns1");
  EXPECT_EQ((*guests)[0].passthrough[0].address.to_string(), "0000:2d:00.0");
  EXPECT_EQ((*guests)[0].passthrough[1].address.to_string(), "0000:2d:00.1");
  EXPECT_EQ((*guests)[1].name, "kdevops-btrfs");
  EXPECT_TRUE((*guests)[1].passthrough.empty());
}

TEST(NodesYaml, AcceptsTheOlderVagrantBoxesKey) {
  auto guests = parse_nodes_yaml(
      "vagrant_boxes:\n  - name: a\n    pcipassthrough:\n      z: {domain: 0x0000, bus: 0x2e, slot: 0x00, "
      "function: 0x0}\n");
  ASSERT_TRUE(guests) << guests.error().message;
  EXPECT_EQ((*guests)[0].passthrough[0].address.to_string(), "0000:2e:00.0");
}

struct Bad {
  const char* yaml;
  const char* message;
};

class NodesYamlRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(NodesYamlRejects, WithTheLineAndWhatIsWrong) {
  auto guests = parse_nodes_yaml(GetParam().yaml);
  ASSERT_FALSE(guests);
  EXPECT_EQ(guests.error().code, ExitCode::bad_input);
  EXPECT_EQ(guests.error().message, GetParam().message);
}

void PrintTo(const Bad& b, std::ostream* os) { *os << b.message; }

INSTANTIATE_TEST_SUITE_P(
    Shapes, NodesYamlRejects,
    ::testing::Values(
        Bad{"guestfs_nodes: [a, {b: 1}\n", "kdevops nodes file line 2: not valid YAML: end of sequence flow not found"},
        Bad{"- a\n- b\n", "kdevops nodes file: expected a mapping with 'guestfs_nodes:'"},
        Bad{"other: 1\n", "kdevops nodes file line 1: no 'guestfs_nodes:' list of guests"},
        Bad{"guestfs_nodes: {a: 1}\n", "kdevops nodes file line 1: 'guestfs_nodes' is not a list of guests"},
        Bad{"guestfs_nodes:\n  - pcipassthrough: {}\n", "kdevops nodes file line 2: a guest has no 'name'"},
        Bad{"guestfs_nodes:\n  - name: a\n  - name: a\n", "kdevops nodes file line 3: guest 'a' is listed twice"},
        Bad{"guestfs_nodes:\n  - name: a\n    pcipassthrough: [1]\n",
            "kdevops nodes file line 3: guest 'a': 'pcipassthrough' is not a mapping of named devices"},
        Bad{"guestfs_nodes:\n  - name: a\n    pcipassthrough:\n      z: {domain: 0, bus: 0x2d, slot: 0}\n",
            "kdevops nodes file line 4: passthrough entry 'z' has no 'function'"},
        Bad{"guestfs_nodes:\n  - name: a\n    pcipassthrough:\n      z: {domain: 0, bus: 0x2g, slot: 0, function: 0}\n",
            "kdevops nodes file line 4: passthrough entry 'z': 'bus' is '0x2g', expected a number such as 0x2d"},
        Bad{"guestfs_nodes:\n  - name: a\n    pcipassthrough:\n      z: {domain: 0, bus: 0x2d, slot: 0x20, function: 0}\n",
            "kdevops nodes file line 4: passthrough entry 'z': 'slot' '0x20' is above 0x1f"},
        Bad{"guestfs_nodes:\n  - name: a\n    pcipassthrough:\n      z: 7\n",
            "kdevops nodes file line 4: passthrough entry 'z' is not a mapping of domain, bus, slot and function"}));

}  // namespace
}  // namespace pcipass::core
