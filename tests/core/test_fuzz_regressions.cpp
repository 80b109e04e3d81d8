// Runs every fuzz property over the seed corpus and the inputs that once
// broke pcipass (tests/fuzz/regressions/TARGET/), in the normal build.

#include "fuzz/checks.hpp"
#include "support/sim_host.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace pcipass::fuzz {
namespace {

namespace fs = std::filesystem;

TEST(FuzzRegressions, EveryCorpusAndRegressionInputKeepsItsProperty) {
  std::size_t inputs = 0;
  for (const FuzzTarget& target : fuzz_targets()) {
    for (const char* kind : {"corpus", "regressions"}) {
      const fs::path dir = test::source_path("tests/fuzz") / kind / target.name;
      if (!fs::is_directory(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        const std::string data = bytes.str();
        SCOPED_TRACE(entry.path().string());
        target.check(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
        ++inputs;
      }
    }
  }
  // The seed corpus is part of the repository: an empty run means it is gone.
  EXPECT_GE(inputs, 12u);
}

}  // namespace
}  // namespace pcipass::fuzz
