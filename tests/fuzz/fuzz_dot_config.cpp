// libFuzzer target: see check_dot_config in checks.hpp for the property.
#include "fuzz/checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pcipass::fuzz::check_dot_config(data, size);
  return 0;
}
