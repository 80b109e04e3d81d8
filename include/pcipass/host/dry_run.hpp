#pragma once

namespace pcipass::host {

// Whether a host operation makes its changes or only reports what they would
// be (--dry-run). One type for every such operation, so a command can use
// the executor and the domain-file editor together.
enum class DryRun { no, yes };

}  // namespace pcipass::host
