#pragma once

#include "context.hpp"

#include <CLI/CLI.hpp>

namespace pcipass::cli {

// Each command registers its subcommand and options on `app`; the callback
// it installs runs the command with the context main built. Commands throw
// core::Failure on error and return the exit code on success.
void register_list(CLI::App& app, Context& context, int& exit_code);
void register_groups(CLI::App& app, Context& context, int& exit_code);
void register_bind(CLI::App& app, Context& context, int& exit_code);
void register_release(CLI::App& app, Context& context, int& exit_code);
void register_status(CLI::App& app, Context& context, int& exit_code);
void register_kconfig(CLI::App& app, Context& context, int& exit_code);
void register_doctor(CLI::App& app, Context& context, int& exit_code);
void register_permissions(CLI::App& app, Context& context, int& exit_code);
void register_plan(CLI::App& app, Context& context, int& exit_code);
void register_bringup(CLI::App& app, Context& context, int& exit_code);
void register_restore(CLI::App& app, Context& context, int& exit_code);
void register_install_service(CLI::App& app, Context& context, int& exit_code);
void register_attach(CLI::App& app, Context& context, int& exit_code);
void register_detach(CLI::App& app, Context& context, int& exit_code);
void register_vfs(CLI::App& app, Context& context, int& exit_code);

// The message printed when a host has no IOMMU groups, with the fix.
extern const char* const k_no_iommu_message;

}  // namespace pcipass::cli
