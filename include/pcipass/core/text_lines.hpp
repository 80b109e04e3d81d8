#pragma once

#include <string_view>
#include <vector>

namespace pcipass::core {

// The lines of `text` without their newlines; a final line without one counts.
std::vector<std::string_view> split_lines(std::string_view text);

// The words of `line`, separated by runs of spaces and tabs (the way /proc
// files and limits.conf lay out their columns).
std::vector<std::string_view> split_fields(std::string_view line);

}  // namespace pcipass::core
