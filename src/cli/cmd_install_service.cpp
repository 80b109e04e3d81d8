// `pcipass install-service`: writes scripts/pcipass-restore.service (carried
// in the binary) into systemd's unit folder, with ExecStart naming this very
// binary, through the journal like every file pcipass writes. It never runs
// systemctl: enabling a boot service is the administrator's step.

#include "commands.hpp"
#include "host_prep.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/text.hpp>

#include "restore_service_data.hpp"

#include <algorithm>
#include <memory>

namespace pcipass::cli {

namespace {

struct InstallServiceOptions {
  std::string unit_dir;
  ChangeOptions change;
};

// True for paths systemd takes unquoted in ExecStart: no spaces, quotes,
// `%` specifiers, `$` variables or backslashes can reach the unit file.
bool is_plain_path(const std::string& path) {
  return path.starts_with("/") && std::all_of(path.begin(), path.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '.' || c == '_' || c == '-' || c == '+';
         });
}

std::string plain_path_or_throw(const std::string& path, const std::string& what) {
  if (!is_plain_path(path)) {
    throw core::Failure("installing the boot service: " + what + " " +
                            core::quote_for_message(path) +
                            " is not an absolute path of letters, digits and /._+- (a unit file "
                            "would need it quoted); install pcipass under a plain path such as "
                            "/usr/local/sbin",
                        core::ExitCode::usage);
  }
  return path;
}

// The unit shipped in scripts/, with ExecStart running `restore` of this
// binary on the sysfs tree and state folder this run was given.
std::string unit_text(const Context& context) {
  const std::string shipped(reinterpret_cast<const char*>(k_restore_service),
                            sizeof k_restore_service);
  std::string exec = plain_path_or_throw(context.executable, "the pcipass binary's path");
  if (context.options.sysfs_root != "/sys")
    exec += " --sysfs-root " + plain_path_or_throw(context.options.sysfs_root, "--sysfs-root");
  if (context.options.state_dir != host::k_default_state_dir)
    exec += " --state-dir " + plain_path_or_throw(context.options.state_dir, "--state-dir");
  // Roots given by hand: the journal names files under them, and restore
  // refuses files outside the roots it runs with.
  if (context.options.dev_root_given)
    exec += " --dev-root " + plain_path_or_throw(context.options.dev_root, "--dev-root");
  if (context.options.etc_root_given)
    exec += " --etc-root " + plain_path_or_throw(context.options.etc_root, "--etc-root");
  const std::size_t start = shipped.find("\nExecStart=");
  const std::size_t end = shipped.find('\n', start + 1);
  if (start == std::string::npos || end == std::string::npos) {
    throw core::Failure("the embedded pcipass-restore.service has no ExecStart line",
                        core::ExitCode::failure);
  }
  return shipped.substr(0, start) + "\nExecStart=" + exec + " restore" + shipped.substr(end);
}

int run_install_service(Context& context, const InstallServiceOptions& options) {
  const std::string dir = options.unit_dir.empty() ? context.options.etc_root + "/systemd/system"
                                                   : absolute_path(options.unit_dir);
  const core::WriteFile unit{dir + "/" + core::k_restore_unit_name, unit_text(context), 0644, {}};

  const auto lock = lock_state(context, options.change);
  host::Journal journal =
      host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  core::Plan plan;
  const auto now = context.os->read_file(unit.path).value_or_throw();
  if (now && *now == unit.bytes) {
    plan.notes.push_back("unchanged: " + unit.path);
  } else {
    plan.actions.push_back(unit);
  }
  plan.notes.push_back(
      std::string("to run it at boot: systemctl daemon-reload && systemctl enable ") +
      core::k_restore_unit_name);
  // --unit-dir is a folder the user named for this run: the unit may go there.
  execute_plan(context, plan, journal, options.change,
               {.command = "install-service", .extra_roots = {dir}});
  return 0;
}

}  // namespace

void register_install_service(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<InstallServiceOptions>();
  CLI::App* cmd = app.add_subcommand(
      "install-service",
      "Write the systemd unit that runs pcipass restore at boot (ETC/systemd/system/"
      "pcipass-restore.service, ExecStart naming this binary); prints the systemctl command "
      "that enables it, and never runs it");
  cmd->add_option("--unit-dir", options->unit_dir,
                  "Folder to write the unit into (default: systemd/system under --etc-root)");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print what would be written, and write nothing");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback(
      [&context, &exit_code, options] { exit_code = run_install_service(context, *options); });
}

}  // namespace pcipass::cli
