#pragma once

namespace pcipass::cli {

// "0.1.0 (git e65b38b)": the project version of CMakeLists.txt and, when
// built from a git checkout, `git describe` at configure time. Defined in
// the generated version.cpp (src/cli/version.cpp.in).
extern const char* const k_version;

}  // namespace pcipass::cli
