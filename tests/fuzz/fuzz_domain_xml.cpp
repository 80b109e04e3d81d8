// libFuzzer target: see check_domain_xml in checks.hpp for the property.
#include "fuzz/checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pcipass::fuzz::check_domain_xml(data, size);
  return 0;
}
