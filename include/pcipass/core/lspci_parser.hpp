#pragma once

#include <pcipass/core/error.hpp>
#include <pcipass/core/inventory.hpp>

#include <string_view>

namespace pcipass::core {

// Builds an inventory from `lspci -Dvmmm` text, the form kdevops feeds its
// generator, with or without `-nn` (names end in ` [8086]` ids) and `-k`
// (`Driver:` lines). Records are separated by blank lines; unknown keys are
// ignored. Without `-nn` the devices have names but no ids, except that
// pci.ids' bridge class names ("Host bridge", "ISA bridge", ...) give their
// class ids, so bridges stay with the platform from any text; a missing `Rev:`
// or `ProgIf:` means 0, because lspci leaves zero values out. Empty text gives
// an empty inventory. Fails with ExitCode::bad_input and the line number on a
// record without `Slot:`, a malformed slot or line, a slot seen twice, or a
// non-numeric `Rev:`, `ProgIf:`, `IOMMUGroup:` or `NUMANode:`.
Result<Inventory> parse_lspci_vmm(std::string_view text);

}  // namespace pcipass::core
