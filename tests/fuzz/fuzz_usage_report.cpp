// libFuzzer target: see check_usage_report in checks.hpp for the property.
#include "fuzz/checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pcipass::fuzz::check_usage_report(data, size);
  return 0;
}
