#pragma once

// Usage errors a person can act on: a mistyped command or option gets
// "did you mean ...?", and a bare `pcipass` gets a short usage with the
// commands.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::cli {

// The word of `known` nearest to `word` (edit distance, a swap of two
// neighbours counting one) when it is near enough to be a typo: at most 2
// edits, and fewer than half of `word`'s letters. Ties go to the first.
std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& known);

// The text after "pcipass: error: " for a parse error `what` of `args`
// (argv without the program): a command that does not exist, or an option
// the command does not have, is named with the nearest known one.
std::string explain_usage_error(CLI::App& app, const std::vector<std::string>& args,
                                const std::string& what);

// What a bare `pcipass` prints: the usage line, the commands and where to
// read more.
std::string short_usage(CLI::App& app);

}  // namespace pcipass::cli
