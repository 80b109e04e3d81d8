#pragma once

// pcipass(8), generated from the command-line definitions themselves
// (`pcipass --man-page`), so the manual cannot drift from --help: every
// command with its description, positionals and options, the global
// options, the exit codes, the files pcipass writes, and examples.

#include <CLI/CLI.hpp>

#include <string>

namespace pcipass::cli {

// The man page of `app` in troff (man macros), for `version`.
std::string man_page(CLI::App& app, const std::string& version);

}  // namespace pcipass::cli
