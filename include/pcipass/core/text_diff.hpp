#pragma once

#include <string>
#include <string_view>

namespace pcipass::core {

// A unified diff (`--- a/LABEL`, `+++ b/LABEL`, @@ hunks with three lines of
// context) of two texts, line by line; "" when they are equal. Used by
// `--dry-run` to show what pcipass would change in a file.
std::string unified_diff(std::string_view before, std::string_view after, const std::string& label);

}  // namespace pcipass::core
