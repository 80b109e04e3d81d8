#pragma once

// The files under xml-templates/ that pcipass carries in its binary, so an
// installed pcipass needs nothing beside it and the repository copies stay
// the single source.

#include <string_view>

namespace pcipass::cli {

// xml-templates/hostdev-pci.xml byte for byte: the <hostdev> that attach,
// detach and bringup hand to core::DomainXml::add_hostdev() and
// core::make_hostdev_xml().
std::string_view hostdev_template();

}  // namespace pcipass::cli
