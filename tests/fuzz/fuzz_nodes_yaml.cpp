// libFuzzer target: see check_nodes_yaml in checks.hpp for the property.
#include "fuzz/checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pcipass::fuzz::check_nodes_yaml(data, size);
  return 0;
}
