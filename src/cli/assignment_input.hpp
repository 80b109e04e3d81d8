#pragma once

// What `plan` and `bringup` share: where the devices and guests come from
// (a .config, a kdevops nodes file, or the command line) and the planner's
// options, turned into a checked core::Assignment.

#include "context.hpp"

#include <pcipass/core/assignment_planner.hpp>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pcipass::cli {

struct AssignmentOptions {
  std::string config;                // a kdevops .config
  std::string generated;             // the generated Kconfig the .config was made with
  std::string nodes;                 // kdevops_nodes.yaml
  std::string guests;                // --guests a,b,c
  std::vector<std::string> devices;  // DEV or DEV=GUEST
  std::string technique;             // --technique, for devices on the command line
  std::string guest;                 // --guest, the guest of `specific`
  bool whole_groups = false;
  bool follow_moved = false;
  bool force = false;
};

// Adds the options above to `cmd`, with their help texts.
void add_assignment_options(CLI::App* cmd, AssignmentOptions& options);

struct PlannedAssignment {
  core::Assignment assignment;
  core::PassthroughTechnique technique = core::PassthroughTechnique::first;
  // False when the .config leaves passthrough disabled: nothing to do.
  bool enabled = true;
};

// The request the options and the files they name make, before any device
// is read.
struct AssignmentInput {
  core::AssignmentRequest request;
  // False when the .config leaves passthrough disabled: nothing to do.
  bool enabled = true;

  // The devices the request names, with their IOMMU groups: all the
  // planner looks at (an empty scope when passthrough is disabled). Every
  // device when one was chosen with serials: it may have moved.
  [[nodiscard]] DeviceScope scope() const;
};

// Reads the inputs the options name. Throws core::Failure: usage errors for
// contradictory options, bad_input for unreadable or malformed files.
AssignmentInput read_assignment_input(Context& context, const AssignmentOptions& options);

// Plans `input` on `inventory` (which holds at least input.scope()). Throws
// core::Failure with ExitCode::refused for a plan the checks reject.
PlannedAssignment plan_from_input(const AssignmentInput& input, const core::Inventory& inventory);

// The plan as the JSON of `pcipass plan --json` (docs/json.md).
nlohmann::json assignment_to_json(const PlannedAssignment& planned);

}  // namespace pcipass::cli
