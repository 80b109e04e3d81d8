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
  std::string nodes;                 // kdevops_nodes.yaml
  std::string guests;                // --guests a,b,c
  std::vector<std::string> devices;  // DEV or DEV=GUEST
  std::string technique;             // --technique, for devices on the command line
  std::string guest;                 // --guest, the guest of `specific`
  bool whole_groups = false;
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

// Reads the inputs the options name and plans on `inventory`. Throws
// core::Failure: usage errors for contradictory options, bad_input for
// unreadable or malformed files, refused for a plan the checks reject.
PlannedAssignment plan_from_options(Context& context, const AssignmentOptions& options,
                                    const core::Inventory& inventory);

// The plan as the JSON of `pcipass plan --json` (docs/json.md).
nlohmann::json assignment_to_json(const PlannedAssignment& planned);

}  // namespace pcipass::cli
