// examples/kdevops-mini, the small model of kdevops' tree with the pcipass
// patch of docs/kdevops.md applied, driven through make as a kdevops user
// drives kdevops: make dynconfig (with the user's consent the only scan),
// make (nodes, guest XML, kdevops' per-device files), make bringup (pcipass
// first, then define and kdevops' attach step). On the simulated
// workstation, without binding.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

bool have(const std::vector<std::string>& probe) {
  return run_command(probe).exit_code != 127;
}

#define SKIP_WITHOUT_MAKE_AND_KCONFIG()                                                   \
  do {                                                                                    \
    if (!have({"make", "--version"})) GTEST_SKIP() << "make is missing";                  \
    if (!have({"kconfig-conf", "--help"}))                                                \
      GTEST_SKIP() << "kconfig-conf is missing (apt install kconfig-frontends)";          \
    if (!have({"python3", "--version"})) GTEST_SKIP() << "python3 is missing";            \
  } while (false)

const std::string k_no_host = "PCIPASS_SOURCE_ARGS=--sysfs-root /nonexistent/sys";

std::string workstation() {
  return "PCIPASS_SOURCE_ARGS=--sysfs-root " + (sim_host("workstation") / "sys").string();
}

// A copy of the example, as a user would check it out.
struct Example {
  Example() { fs::copy(source_path("examples/kdevops-mini"), dir.path(), fs::copy_options::recursive); }
  CommandResult make(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"make",
                                     "-C",
                                     dir.path().string(),
                                     "--no-print-directory",
                                     std::string("PCIPASS=") + PCIPASS_EXE,
                                     "PCIPASS_MAKEFILE=" +
                                         source_path("scripts/pcipass.Makefile").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  fs::path path(const std::string& relative) const { return dir.path() / relative; }
  TempDir dir;
};

TEST(KdevopsMini, DynconfigMakeAndPcipassBringupWorkTheKdevopsWay) {
  SKIP_WITHOUT_MAKE_AND_KCONFIG();
  const Example example;
  const fs::path generated = example.path("Kconfig.passthrough_libvirt.generated");

  // Without consent nothing is scanned (a scan of /nonexistent would fail).
  CommandResult r = example.make({k_no_host, "olddefconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(file_text(generated), "");

  // kdevops' dynconfig: the scan (pcipass), the user's choice, the cloud step.
  r = example.make({workstation(), "KCONFIG_UI=defconfig-workstation-zns", "dynconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("cloud-config: nothing to refresh"), std::string::npos) << r.out;
  const std::string scanned = file_text(generated);
  const std::string config = file_text(example.path(".config"));
  EXPECT_NE(config.find("CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007=y\n"), std::string::npos)
      << config;
  EXPECT_NE(config.find("CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID=\"0000:02:00.0\"\n"),
            std::string::npos)
      << "the shipped defconfig's number is the ZNS drive, as kdevops numbers it";

  // A failed scan keeps the previous file.
  r = example.make({k_no_host, "dynconfig-pci", "KCONFIG_UI=olddefconfig"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(file_text(generated), scanned);

  // kdevops' make: nodes, the guest's XML and one per-device file.
  r = example.make({});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string nodes = file_text(example.path("guestfs/kdevops_nodes.yaml"));
  EXPECT_NE(nodes.find("      passthrough1:\n        domain: 0x0000\n        bus: 0x02\n"),
            std::string::npos)
      << nodes;
  const std::string guest = file_text(example.path("guestfs/kdevops/kdevops.xml"));
  ASSERT_NE(guest.find("<qemu:arg value=\"ICH9-LPC.disable_s3=1\"/>"), std::string::npos) << guest;

  // pcipass-bringup checks and leaves the device to kdevops' attach step:
  // the guest file stays byte for byte (its double quotes included).
  r = example.make({workstation(), "PCIPASS_BRINGUP_ARGS=--no-bind", "pcipass-bringup"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0000:02:00.0: kdevops attaches it from "
                       "guestfs/kdevops/pcie_passthrough_passthrough1.xml"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(file_text(example.path("guestfs/kdevops/kdevops.xml")), guest);

  // A file an earlier make left for a device no longer selected is refused.
  put_file(example.path("guestfs/kdevops/pcie_passthrough_passthrough2.xml"),
           "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0' "
           "bus='0x6' slot='0x0' function='0x0'/></source></hostdev>\n");
  const auto before = files_under(example.dir.path());
  r = example.make({workstation(), "PCIPASS_BRINGUP_ARGS=--no-bind", "pcipass-bringup"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pcie_passthrough_passthrough2.xml would attach 0000:06:00.0 to guest "
                       "'kdevops'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(files_under(example.dir.path()), before);
}

// pcipass.Makefile sets no variable and no target of the includer: at the
// top of the Makefile it works as at the end, and the default goal stays.
TEST(KdevopsMini, PcipassMakefileWorksIncludedAnywhere) {
  SKIP_WITHOUT_MAKE_AND_KCONFIG();
  const Example example;
  std::string makefile = file_text(example.path("Makefile"));
  const std::size_t include = makefile.find("# The pcipass patch");
  ASSERT_NE(include, std::string::npos);
  const std::string block = makefile.substr(include);
  makefile.erase(include);
  put_file(example.path("Makefile"), block + "\n" + makefile);

  CommandResult r = example.make({workstation(), "KCONFIG_UI=defconfig-workstation-zns",
                                  "dynconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(file_text(example.path(".config")).find("_0007=y"), std::string::npos);
  r = example.make({"-n"});  // the default goal: kdevops' `make`, not a pcipass target
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("gen_nodes.py"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("pcipass"), std::string::npos) << r.out;
  // A variable the Makefile sets after the include is used.
  put_file(example.path("Makefile"), file_text(example.path("Makefile")) + "PCIPASS_GUESTS ?= a,b\n");
  r = example.make({"-n", "pcipass-plan"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("plan --config .config --guests a,b --generated"), std::string::npos) << r.out;
  r = example.make({"-s", "pcipass-help"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("pcipass-bringup"), std::string::npos) << r.out;
}

// The whole shipped flow on this machine's libvirtd: make dynconfig, then
// make bringup defines the guest and kdevops' attach step adds the device
// exactly once. The guest is only defined, never started, and undefined.
TEST(KdevopsMiniRealDaemon, ShippedDefconfigDynconfigThenBringupDefinesTheGuestOnce) {
  SKIP_WITHOUT_MAKE_AND_KCONFIG();
  if (!have({"virsh", "--version"})) GTEST_SKIP() << "virsh is missing";
  const std::string uri = "qemu:///system";
  if (run_command({"virsh", "-c", uri, "list", "--all"}).exit_code != 0)
    GTEST_SKIP() << "no libvirtd answers at " << uri;
  if (run_command({"virsh", "-c", uri, "dominfo", "kdevops"}).exit_code == 0)
    GTEST_SKIP() << "a domain named kdevops exists here: not touching it";
  const Example example;
  struct Undefine {
    std::function<void()> run;
    ~Undefine() { run(); }
  } undefine{[&] { example.make({"LIBVIRT_URI=" + uri, "destroy"}); }};

  CommandResult r = example.make({workstation(), "KCONFIG_UI=defconfig-workstation-zns",
                                  "dynconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Twice, as a user brings the guests up again after make destroy.
  for (int round = 0; round < 2; ++round) {
    if (round > 0) {
      ASSERT_EQ(example.make({"LIBVIRT_URI=" + uri, "destroy"}).exit_code, 0);
    }
    r = example.make(
        {workstation(), "PCIPASS_BRINGUP_ARGS=--no-bind", "LIBVIRT_URI=" + uri, "bringup"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("defined kdevops\nattached guestfs/kdevops/pcie_passthrough_passthrough1.xml"),
              std::string::npos)
        << r.out;
    const CommandResult xml = run_command({"virsh", "-c", uri, "dumpxml", "--inactive", "kdevops"});
    ASSERT_EQ(xml.exit_code, 0) << xml.err;
    std::size_t hostdevs = 0;
    for (std::size_t at = xml.out.find("<hostdev "); at != std::string::npos;
         at = xml.out.find("<hostdev ", at + 1))
      ++hostdevs;
    EXPECT_EQ(hostdevs, 1u) << xml.out;
    EXPECT_NE(xml.out.find("<address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>"),
              std::string::npos)
        << xml.out;
  }
  // Brought up again without make destroy: kdevops leaves the defined
  // guest as it is, which holds what the plan gives it.
  r = example.make({workstation(), "PCIPASS_BRINGUP_ARGS=--no-bind", "LIBVIRT_URI=" + uri, "bringup"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kdevops is defined already: booted as it is"), std::string::npos) << r.out;

  // The device deselected, make run again: kdevops' make leaves the old
  // per-device file, which kdevops would attach unchecked; refused.
  std::string config = file_text(example.path(".config"));
  const std::string selected = "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007=y\n";
  ASSERT_NE(config.find(selected), std::string::npos);
  config.replace(config.find(selected), selected.size(),
                 "# CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007 is not set\n");
  put_file(example.path(".config"), config);
  ASSERT_EQ(example.make({}).exit_code, 0);
  ASSERT_EQ(example.make({"LIBVIRT_URI=" + uri, "destroy"}).exit_code, 0);
  r = example.make({workstation(), "PCIPASS_BRINGUP_ARGS=--no-bind", "LIBVIRT_URI=" + uri, "bringup"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pcie_passthrough_passthrough1.xml would attach 0000:02:00.0 to guest "
                       "'kdevops', which gets no device in the plan"),
            std::string::npos)
      << r.err;
  EXPECT_NE(run_command({"virsh", "-c", uri, "dominfo", "kdevops"}).exit_code, 0)
      << "make stopped before kdevops defined the guest";


}

}  // namespace
}  // namespace pcipass::test
