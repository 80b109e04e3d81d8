// libFuzzer target: see check_kconfig_writer in checks.hpp for the property.
#include "fuzz/checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pcipass::fuzz::check_kconfig_writer(data, size);
  return 0;
}
