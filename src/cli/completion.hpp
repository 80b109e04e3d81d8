#pragma once

// Shell completion for bash, zsh and fish, generated from the command-line
// definitions (`pcipass --completion SHELL`), so it knows every command and
// option --help knows: commands, options, the values of options that take
// one of a few words, files for file and folder options, and, where cheap,
// live values: PCI addresses from /sys/bus/pci/devices and guest names
// from `virsh list --all --name`.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace pcipass::cli {

// The completion script for `shell` ("bash", "zsh" or "fish"), or nullopt
// for another shell.
std::optional<std::string> completion_script(CLI::App& app, const std::string& shell);

}  // namespace pcipass::cli
