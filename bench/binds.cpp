// Times binding COUNT free NVMe controllers of a lab host to vfio-pci on the
// simulated kernel (tests/support), each unbind taking MS milliseconds as an
// NVMe controller's shutdown does, with up to THREADS IOMMU groups at once
// (Executor::set_concurrent_binds). Prints the seconds the executor's run
// took (the copy of the tree the simulated kernel makes first is not
// counted), after checking every controller ended on vfio-pci.
//
//   pcipass-bench-binds TREE COUNT MS THREADS
//
// TREE is a host bench/make-lab-yaml.py N --driver nvme generated (an
// absolute path). Nothing outside the simulated kernel's own copy is written.

#include "support/host_rig.hpp"

#include <pcipass/core/bind_planner.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace {

unsigned number(const char* text) {
  char* end = nullptr;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0') throw std::runtime_error(std::string("not a number: ") + text);
  return static_cast<unsigned>(value);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pcipass;
  if (argc != 5 || argv[1][0] != '/') {
    std::fprintf(stderr, "usage: pcipass-bench-binds /ABSOLUTE/TREE COUNT MS THREADS\n");
    return 2;
  }
  try {
    const unsigned count = number(argv[2]);
    const unsigned unbind_ms = number(argv[3]);
    test::HostRig rig(argv[1]);
    rig.kernel.set_unbind_time("nvme", std::chrono::milliseconds(unbind_ms));
    rig.concurrent_binds = number(argv[4]);
    const core::Inventory inventory = rig.inventory();
    core::BindRequest request;
    request.expansion = core::GroupExpansion::named_only;
    for (const auto& [address, device] : inventory.devices()) {
      if (request.devices.size() == count) break;
      // The boot drive holds /: the planner would refuse it.
      if (device.driver == "nvme" && address.to_string() != "0000:00:01.0")
        request.devices.push_back(address);
    }
    if (request.devices.size() != count) {
      std::fprintf(stderr, "pcipass-bench-binds: %s has only %zu free controllers on nvme\n",
                   argv[1], request.devices.size());
      return 2;
    }
    const core::Plan plan =
        core::plan_bind(inventory, request, rig.journal().state(), rig.vfio()).value_or_throw();
    const auto start = std::chrono::steady_clock::now();
    const core::Status done = rig.run(plan);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (!done) {
      std::fprintf(stderr, "pcipass-bench-binds: %s\n", done.error().message.c_str());
      return 1;
    }
    for (const core::PciAddress& address : request.devices) {
      if (rig.kernel.driver_of(address.to_string()) != "vfio-pci") {
        std::fprintf(stderr, "pcipass-bench-binds: %s is not on vfio-pci\n",
                     address.to_string().c_str());
        return 1;
      }
    }
    std::printf("%.4f\n", took.count());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pcipass-bench-binds: %s\n", e.what());
    return 1;
  }
}
