#include <pcipass/core/domain_xml.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace pcipass::core {
namespace {

constexpr unsigned k_parse_flags = pugi::parse_full | pugi::parse_ws_pcdata;
constexpr const char* k_alias_prefix = "ua-pcipass-";

// A number of an address attribute, read as libvirt reads it (strtoul with
// base 0): 0x-prefixed hex, a leading 0 octal ("010" is 8, as libvirt
// attaches it), else decimal.
std::optional<std::uint64_t> parse_attribute_number(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) return parse_hex(text);
  if (text.size() > 1 && text.front() == '0') {
    std::uint64_t value = 0;
    for (char c : text.substr(1)) {
      if (c < '0' || c > '7' || value > (UINT64_MAX >> 3)) return std::nullopt;
      value = value * 8 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
  }
  auto value = parse_decimal(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*value);
}

// The PCI address an <address domain= bus= slot= function=/> names.
std::optional<PciAddress> pci_address_of(const pugi::xml_node& address) {
  if (!address) return std::nullopt;
  const auto domain = parse_attribute_number(address.attribute("domain").value());
  const auto bus = parse_attribute_number(address.attribute("bus").value());
  const auto slot = parse_attribute_number(address.attribute("slot").value());
  const auto function = parse_attribute_number(address.attribute("function").value());
  if (!domain || !bus || !slot || !function || *domain > 0xffffffffu || *bus > 0xff ||
      *slot > 0x1f || *function > 7) {
    return std::nullopt;
  }
  return PciAddress{static_cast<std::uint32_t>(*domain), static_cast<std::uint8_t>(*bus),
                    static_cast<std::uint8_t>(*slot), static_cast<std::uint8_t>(*function)};
}

std::optional<PciAddress> hostdev_address(const pugi::xml_node& hostdev) {
  if (std::strcmp(hostdev.attribute("type").value(), "pci") != 0) return std::nullopt;
  return pci_address_of(hostdev.child("source").child("address"));
}

bool is_pcipass_hostdev(const pugi::xml_node& hostdev) {
  return std::string_view(hostdev.child("alias").attribute("name").value())
      .starts_with(k_alias_prefix);
}

bool is_whitespace_text(const pugi::xml_node& node) {
  if (node.type() != pugi::node_pcdata) return false;
  for (const char* c = node.value(); *c != '\0'; ++c) {
    if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') return false;
  }
  return true;
}

// The whitespace that precedes the first element child of `parent`
// ("\n    " in a libvirt document), or "" in a compact document.
std::string child_indent(const pugi::xml_node& parent) {
  for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element) {
      const pugi::xml_node before = child.previous_sibling();
      return before && is_whitespace_text(before) ? before.value() : "";
    }
  }
  return "";
}

// The line break and indentation before `node` ("\n  "), or "" when none.
std::string line_indent(const pugi::xml_node& node) {
  const pugi::xml_node before = node.previous_sibling();
  if (!before || !is_whitespace_text(before)) return "";
  const std::string text = before.value();
  const std::size_t newline = text.rfind('\n');
  return newline == std::string::npos ? "" : text.substr(newline);
}

// The indentation a first child of `node` gets: its own plus one level of
// the document's step (what separates the root's children from the root).
std::string indent_inside(const pugi::xml_node& node) {
  const std::string own = line_indent(node);
  if (own.empty()) return "";
  const pugi::xml_node top = node.root().find_child(
      [](const pugi::xml_node& n) { return n.type() == pugi::node_element; });
  const std::string root_children = child_indent(top);
  const std::size_t newline = root_children.rfind('\n');
  const std::string step = newline == std::string::npos ? "" : root_children.substr(newline + 1);
  return own + step;
}

// Shifts every line break inside `node` by `indent` (the text after the last
// newline of the whitespace that will precede it).
void reindent(pugi::xml_node node, const std::string& indent) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (is_whitespace_text(child)) {
      std::string value = child.value();
      std::string shifted;
      for (char c : value) {
        shifted += c;
        if (c == '\n') shifted += indent;
      }
      child.set_value(shifted.c_str());
    } else if (child.type() == pugi::node_element) {
      reindent(child, indent);
    }
  }
}

std::string hex_attr(unsigned value, int digits) {
  return hex(value, digits);
}

// The text before the root element's start tag of a well-formed document:
// BOM, XML declaration, comments, processing instructions, a DOCTYPE (with
// its internal subset) and the whitespace between them.
std::string_view prolog_of(std::string_view xml) {
  std::size_t at = 0;
  while (at < xml.size()) {
    const std::size_t open = xml.find('<', at);
    if (open == std::string_view::npos) return xml;
    const std::string_view rest = xml.substr(open);
    std::size_t end = std::string_view::npos;
    if (rest.starts_with("<?")) {
      end = xml.find("?>", open + 2);
      if (end != std::string_view::npos) end += 2;
    } else if (rest.starts_with("<!--")) {
      end = xml.find("-->", open + 4);
      if (end != std::string_view::npos) end += 3;
    } else if (rest.starts_with("<!")) {
      int depth = 0;
      for (std::size_t i = open + 2; i < xml.size(); ++i) {
        if (xml[i] == '[') ++depth;
        if (xml[i] == ']') --depth;
        if (xml[i] == '>' && depth <= 0) {
          end = i + 1;
          break;
        }
      }
    } else {
      return xml.substr(0, open);
    }
    if (end == std::string_view::npos) return xml;
    at = end;
  }
  return xml;
}

// The text after the root element's end tag of a well-formed document:
// comments, processing instructions and whitespace.
std::string_view epilog_of(std::string_view xml) {
  std::size_t end = xml.size();
  while (true) {
    if (end == 0) return {};  // no root: not reached for a parsed document
    const std::size_t last = xml.find_last_not_of(" \t\r\n", end - 1);
    if (last == std::string_view::npos) return {};
    const std::string_view body = xml.substr(0, last + 1);
    std::size_t start = std::string_view::npos;
    if (body.ends_with("-->"))
      start = body.rfind("<!--");
    else if (body.ends_with("?>"))
      start = body.rfind("<?");
    if (start == std::string_view::npos) return xml.substr(last + 1);
    end = start;
  }
}

struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

// Where element `node` starts in `text` (its '<'), from the offset pugixml
// gives for its name; nullopt for a node not read from `text`.
std::optional<std::size_t> element_start(std::string_view text, const pugi::xml_node& node) {
  const std::ptrdiff_t name = node.offset_debug();
  if (name <= 0 || static_cast<std::size_t>(name) > text.size() || text[name - 1] != '<')
    return std::nullopt;
  return static_cast<std::size_t>(name - 1);
}

// Just past the tag starting at `at` ('<'), quoted attribute values skipped.
std::optional<std::size_t> tag_end(std::string_view text, std::size_t at) {
  char quote = 0;
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i + 1;
    }
  }
  return std::nullopt;
}

// Just past the element starting at `start` in a well-formed `text`.
std::optional<std::size_t> element_end(std::string_view text, std::size_t start) {
  const std::optional<std::size_t> open = tag_end(text, start);
  if (!open) return std::nullopt;
  if (text[*open - 2] == '/') return open;
  int depth = 1;
  std::size_t at = *open;
  while (depth > 0) {
    const std::size_t lt = text.find('<', at);
    if (lt == std::string_view::npos) return std::nullopt;
    const std::string_view rest = text.substr(lt);
    std::size_t close = std::string_view::npos;
    if (rest.starts_with("<!--")) {
      close = text.find("-->", lt + 4);
      if (close != std::string_view::npos) close += 3;
    } else if (rest.starts_with("<![CDATA[")) {
      close = text.find("]]>", lt + 9);
      if (close != std::string_view::npos) close += 3;
    } else if (rest.starts_with("<?")) {
      close = text.find("?>", lt + 2);
      if (close != std::string_view::npos) close += 2;
    } else {
      const std::optional<std::size_t> end = tag_end(text, lt);
      if (!end) return std::nullopt;
      close = *end;
      if (rest.starts_with("</")) {
        --depth;
      } else if (text[*end - 2] != '/') {
        ++depth;
      }
    }
    if (close == std::string_view::npos) return std::nullopt;
    at = close;
  }
  return at;
}

std::size_t whitespace_run(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() &&
         (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r'))
    ++end;
  return end - at;
}

std::string print_node(const pugi::xml_node& node) {
  StringWriter writer;
  if (node.type() == pugi::node_pcdata) {
    writer.out = node.value();
  } else {
    node.print(writer, "", pugi::format_raw | pugi::format_attribute_single_quote |
                               pugi::format_no_declaration,
               pugi::encoding_utf8);
  }
  return writer.out;
}

// Parses `hostdev_template` into `snippet` and fills in `address` and
// pcipass's alias.
Status fill_hostdev_template(pugi::xml_document& snippet, const PciAddress& address,
                             std::string_view hostdev_template) {
  if (!snippet.load_buffer(hostdev_template.data(), hostdev_template.size(), k_parse_flags,
                           pugi::encoding_utf8) ||
      std::strcmp(snippet.document_element().name(), "hostdev") != 0 ||
      !snippet.document_element().child("source").child("address")) {
    return fail("the <hostdev> template is broken: it needs <hostdev><source><address/>",
                ExitCode::bad_input);
  }
  pugi::xml_node hostdev = snippet.document_element();
  pugi::xml_node source_address = hostdev.child("source").child("address");
  const auto set = [&](const char* name, unsigned value, int digits) {
    pugi::xml_attribute a = source_address.attribute(name);
    if (!a) a = source_address.append_attribute(name);
    a.set_value(hex_attr(value, digits).c_str());
  };
  set("domain", address.domain, 4);
  set("bus", address.bus, 2);
  set("slot", address.slot, 2);
  set("function", address.function, 1);
  pugi::xml_node alias = hostdev.child("alias");
  if (!alias) alias = hostdev.append_child("alias");
  if (!alias.attribute("name")) alias.append_attribute("name");
  alias.attribute("name").set_value(pcipass_alias(address).c_str());
  return ok();
}

}  // namespace

Result<std::string> make_hostdev_xml(const PciAddress& address, std::string_view hostdev_template) {
  pugi::xml_document snippet;
  if (auto filled = fill_hostdev_template(snippet, address, hostdev_template); !filled) {
    return fail(filled.error());
  }
  StringWriter writer;
  snippet.save(writer, "",
               pugi::format_raw | pugi::format_attribute_single_quote | pugi::format_no_declaration,
               pugi::encoding_utf8);
  return writer.out;
}

std::string pcipass_alias(const PciAddress& a) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%04x-%02x-%02x-%x", k_alias_prefix, a.domain, a.bus, a.slot,
                a.function);
  return buf;
}

DomainXml::DomainXml() : m_document(std::make_unique<pugi::xml_document>()) {}

Result<PciAddress> parse_hostdev_file(std::string_view xml, std::string_view source_name) {
  pugi::xml_document doc;
  const pugi::xml_parse_result result =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  const std::string where = std::string(source_name) + ": ";
  if (!result) {
    return fail(where + "not well-formed XML: " + std::string(result.description()) +
                    " at offset " + std::to_string(result.offset),
                ExitCode::bad_input);
  }
  const pugi::xml_node root = doc.document_element();
  std::size_t elements = 0;
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling())
    elements += n.type() == pugi::node_element ? 1 : 0;
  if (elements > 1) {
    return fail(where + "holds " + std::to_string(elements) + " elements, expected one <hostdev>",
                ExitCode::bad_input);
  }
  if (std::strcmp(root.name(), "hostdev") != 0) {
    return fail(where + "expected one <hostdev>, found " +
                    quote_for_message(std::string("<") + root.name() + ">"),
                ExitCode::bad_input);
  }
  const std::optional<PciAddress> address = hostdev_address(root);
  if (!address) {
    return fail(where + "the <hostdev> names no PCI device (type='pci' with <source><address "
                        "domain= bus= slot= function=/>)",
                ExitCode::bad_input);
  }
  return *address;
}

Result<DomainXml> DomainXml::parse(std::string_view xml) {
  DomainXml domain;
  const pugi::xml_parse_result result =
      domain.m_document->load_buffer(xml.data(), xml.size(), k_parse_flags, pugi::encoding_utf8);
  if (!result) {
    return fail("domain XML is not well-formed: " + std::string(result.description()) +
                    " at offset " + std::to_string(result.offset),
                ExitCode::bad_input);
  }
  const pugi::xml_node root = domain.m_document->document_element();
  domain.m_original = std::string(xml);
  domain.keep_surroundings(xml);
  if (std::strcmp(root.name(), "domain") != 0) {
    return fail("not a libvirt domain: the root element is " +
                    quote_for_message(std::string("<") + root.name() + ">") + ", expected <domain>",
                ExitCode::bad_input);
  }
  if (!root.child("devices")) {
    return fail("domain " + quote_for_message(root.child_value("name")) +
                    " has no <devices> element to put a <hostdev> into",
                ExitCode::bad_input);
  }
  return domain;
}

std::string DomainXml::name() const {
  return m_document->document_element().child_value("name");
}

std::string DomainXml::machine() const {
  return m_document->document_element().child("os").child("type").attribute("machine").value();
}

bool DomainXml::is_q35() const {
  return machine().find("q35") != std::string::npos;
}

namespace {

// A libvirt size element (<memory unit='GiB'>4</memory>) in KiB; nullopt
// when absent, invalid, or beyond 2^50 KiB (an exbibyte: no real guest).
std::optional<std::uint64_t> size_kib(const pugi::xml_node element) {
  if (!element) return std::nullopt;
  const auto value = parse_decimal(trim(element.child_value()));
  if (!value || *value < 0) return std::nullopt;
  // libvirt's units, compared without case as libvirt does (virScaleInteger).
  std::string unit = element.attribute("unit") ? element.attribute("unit").value() : "KiB";
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  struct Unit {
    const char* name;
    double to_kib;
  };
  static constexpr Unit k_units[] = {
      {"b", 1.0 / 1024},     {"byte", 1.0 / 1024},   {"bytes", 1.0 / 1024},
      {"kb", 1000.0 / 1024}, {"k", 1},               {"kib", 1},
      {"mb", 1e6 / 1024},    {"m", 1024},            {"mib", 1024},
      {"gb", 1e9 / 1024},    {"g", 1024.0 * 1024},   {"gib", 1024.0 * 1024},
      {"tb", 1e12 / 1024},   {"t", 1024.0 * 1024 * 1024}, {"tib", 1024.0 * 1024 * 1024},
      {"pb", 1e15 / 1024},   {"p", 1024.0 * 1024 * 1024 * 1024},
      {"pib", 1024.0 * 1024 * 1024 * 1024},
      {"eb", 1e18 / 1024},   {"e", 1024.0 * 1024 * 1024 * 1024 * 1024},
      {"eib", 1024.0 * 1024 * 1024 * 1024 * 1024},
  };
  constexpr double k_largest = static_cast<double>(1ull << 50);
  for (const Unit& u : k_units) {
    if (unit != u.name) continue;
    const double kib = static_cast<double>(*value) * u.to_kib;
    if (kib > k_largest) return std::nullopt;
    return static_cast<std::uint64_t>(kib);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> DomainXml::memory_kib() const {
  return size_kib(m_document->document_element().child("memory"));
}

std::optional<LockableMemory> DomainXml::lockable_memory() const {
  const pugi::xml_node domain = m_document->document_element();
  if (domain.child("memoryBacking").child("locked"))
    return LockableMemory{0, LockableMemory::Basis::locked};
  if (const pugi::xml_node hard = domain.child("memtune").child("hard_limit")) {
    const auto kib = size_kib(hard);
    if (!kib) return std::nullopt;
    return LockableMemory{*kib, LockableMemory::Basis::hard_limit};
  }
  if (auto memory = memory_kib()) return LockableMemory{*memory, LockableMemory::Basis::memory};
  return std::nullopt;
}

std::vector<PciHostdev> DomainXml::pci_hostdevs() const {
  std::vector<PciHostdev> out;
  const pugi::xml_node devices = m_document->document_element().child("devices");
  for (pugi::xml_node h = devices.child("hostdev"); h; h = h.next_sibling("hostdev")) {
    if (auto address = hostdev_address(h)) {
      out.push_back({*address, is_pcipass_hostdev(h) ? HostdevOwner::pcipass : HostdevOwner::user});
    }
  }
  return out;
}

std::vector<PciAddress> DomainXml::held_pci_devices() const {
  std::vector<PciAddress> out;
  for (const PciHostdev& h : pci_hostdevs()) out.push_back(h.address);
  const pugi::xml_node devices = m_document->document_element().child("devices");
  for (pugi::xml_node i = devices.child("interface"); i; i = i.next_sibling("interface")) {
    if (std::strcmp(i.attribute("type").value(), "hostdev") != 0) continue;
    const pugi::xml_node address = i.child("source").child("address");
    if (std::strcmp(address.attribute("type").value(), "pci") != 0) continue;
    if (auto held = pci_address_of(address)) out.push_back(*held);
  }
  return out;
}

Result<HostdevChange> DomainXml::add_hostdev(const PciAddress& address,
                                             std::string_view hostdev_template) {
  for (const PciHostdev& existing : pci_hostdevs()) {
    if (existing.address == address) return HostdevChange::already_present;
  }
  pugi::xml_document snippet;
  if (auto filled = fill_hostdev_template(snippet, address, hostdev_template); !filled) {
    return fail(filled.error());
  }
  pugi::xml_node hostdev = snippet.document_element();

  pugi::xml_node devices = m_document->document_element().child("devices");
  std::string indent = child_indent(devices);
  const bool no_elements = !devices.find_child([](const pugi::xml_node& n) {
    return n.type() == pugi::node_element;
  });
  // Only a <devices> holding nothing but whitespace (`<devices>\n  </devices>`)
  // gets the indented layout, its whitespace closing it after the hostdev.
  // An empty one, or one with text or comments in it, gets the hostdev
  // appended as it is: removing it must give the document back byte for
  // byte, and whitespace added there could not be told from the user's.
  const bool blank = devices.first_child() && !devices.find_child([](const pugi::xml_node& n) {
    return !is_whitespace_text(n);
  });
  if (no_elements) indent = blank ? indent_inside(devices) : std::string();
  const std::size_t newline = indent.rfind('\n');
  reindent(hostdev, newline == std::string::npos ? indent : indent.substr(newline + 1));

  pugi::xml_node anchor;
  for (pugi::xml_node h = devices.child("hostdev"); h; h = h.next_sibling("hostdev")) anchor = h;
  if (!anchor) {
    // After the last element child, so the closing tag keeps its indentation.
    for (pugi::xml_node c = devices.last_child(); c; c = c.previous_sibling()) {
      if (c.type() == pugi::node_element) {
        anchor = c;
        break;
      }
    }
  }
  pugi::xml_node inserted;
  pugi::xml_node indent_node;
  if (anchor) {
    inserted = devices.insert_copy_after(hostdev, anchor);
    if (!indent.empty()) {
      indent_node = devices.insert_child_before(pugi::node_pcdata, inserted);
      indent_node.set_value(indent.c_str());
    }
  } else if (indent.empty()) {
    inserted = devices.append_copy(hostdev);
  } else {
    // `<devices>\n  </devices>`: the hostdev on a line of its own, before the
    // whitespace that puts the closing tag where it was.
    const pugi::xml_node closing = devices.last_child();
    inserted = devices.insert_copy_before(hostdev, closing);
    indent_node = devices.insert_child_before(pugi::node_pcdata, inserted);
    indent_node.set_value(indent.c_str());
  }
  if (!inserted) return fail("adding a <hostdev> to the domain failed", ExitCode::failure);
  record_insertion(devices, indent_node, inserted);
  return HostdevChange::added;
}

HostdevChange DomainXml::remove_hostdev(const PciAddress& address) {
  pugi::xml_node devices = m_document->document_element().child("devices");
  bool user_owned = false;
  for (pugi::xml_node h = devices.child("hostdev"); h; h = h.next_sibling("hostdev")) {
    if (hostdev_address(h) != address) continue;
    if (!is_pcipass_hostdev(h)) {
      user_owned = true;
      continue;
    }
    // add_hostdev() puts its indentation between an element and the
    // hostdev; whitespace that opens <devices> belongs to the document.
    // When it is the only element with whitespace on both sides, add_hostdev()
    // put the whitespace before it into a <devices> that held no element
    // (the whitespace after it closes <devices>). Whitespace alone before it
    // belongs to the document.
    const pugi::xml_node before = h.previous_sibling();
    const bool only_element = !devices.find_child([&](const pugi::xml_node& n) {
      return n.type() == pugi::node_element && n != h;
    });
    const bool closed_after = h.next_sibling() && is_whitespace_text(h.next_sibling());
    const bool drop_before = before && is_whitespace_text(before) &&
                             (before.previous_sibling().type() == pugi::node_element ||
                              (only_element && closed_after));
    record_removal(drop_before ? before : pugi::xml_node(), h);
    if (drop_before) devices.remove_child(before);
    devices.remove_child(h);
    return HostdevChange::removed;
  }
  return user_owned ? HostdevChange::owned_by_user : HostdevChange::not_present;
}

namespace {

constexpr unsigned k_format_flags =
    pugi::format_raw | pugi::format_attribute_single_quote | pugi::format_no_declaration;

std::string saved(const pugi::xml_document& document) {
  StringWriter writer;
  document.save(writer, "", k_format_flags, pugi::encoding_utf8);
  return writer.out;
}

}  // namespace

void DomainXml::keep_surroundings(std::string_view xml) {
  // The text scan assumes a well-formed document, but pugixml also accepts
  // text outside the root (and a `-->` there can pair with a comment inside
  // it). The verbatim text is kept only when the document it rebuilds is
  // the one pugixml read; otherwise everything is written the plain way.
  std::string prolog(prolog_of(xml));
  std::string epilog(epilog_of(xml));
  StringWriter root;
  m_document->document_element().print(root, "", k_format_flags, pugi::encoding_utf8);
  const std::string rebuilt = prolog + root.out + epilog;
  pugi::xml_document check;
  if (check.load_buffer(rebuilt.data(), rebuilt.size(), k_parse_flags, pugi::encoding_utf8) &&
      saved(check) == saved(*m_document)) {
    m_prolog = std::move(prolog);
    m_epilog = std::move(epilog);
    m_verbatim = true;
    return;
  }
  const std::size_t last = xml.find_last_not_of(" \t\r\n");
  if (last != std::string_view::npos) m_epilog = std::string(xml.substr(last + 1));
}

void DomainXml::record_insertion(const pugi::xml_node& devices, const pugi::xml_node& indent,
                                 const pugi::xml_node& inserted) {
  if (!m_spliceable) return;
  const std::string_view text = m_original;
  std::string added = (indent ? print_node(indent) : std::string()) + print_node(inserted);
  const pugi::xml_node first = indent ? indent : inserted;
  const pugi::xml_node prev = first.previous_sibling();
  const pugi::xml_node next = inserted.next_sibling();
  std::optional<std::size_t> at;
  if (prev && prev.type() == pugi::node_element) {
    // Right after the element before it: one this edit added, or the user's.
    for (const Splice& splice : m_splices) {
      if (splice.node == prev.internal_object()) at = splice.at;
    }
    if (!at) {
      if (const auto start = element_start(text, prev)) at = element_end(text, *start);
    }
  } else if (!next) {
    // The last child: before </devices>. A <devices/> has no closing tag
    // to put it before; that document is written the plain way.
    if (const auto start = element_start(text, devices)) {
      if (const auto end = element_end(text, *start); end && text[*end - 2] != '/')
        at = text.rfind("</", *end);
    }
  } else if (next.type() == pugi::node_pcdata && next.offset_debug() >= 0) {
    at = static_cast<std::size_t>(next.offset_debug());
  }
  if (!at) {
    m_spliceable = false;
    return;
  }
  // In the file's own line ends.
  if (m_original.find("\r\n") != std::string::npos) {
    std::string crlf;
    for (char c : added) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    added = std::move(crlf);
  }
  m_splices.push_back({*at, 0, std::move(added), inserted.internal_object(),
                       indent ? indent.internal_object() : nullptr});
}

void DomainXml::record_removal(const pugi::xml_node& before, const pugi::xml_node& hostdev) {
  if (!m_spliceable) return;
  for (auto it = m_splices.begin(); it != m_splices.end(); ++it) {
    if (it->node != hostdev.internal_object()) continue;
    // Added by this edit: the insertion goes, with its own indentation.
    if (before && before.internal_object() != it->indent) m_spliceable = false;
    m_splices.erase(it);
    return;
  }
  const std::string_view text = m_original;
  const auto start = element_start(text, hostdev);
  const auto end = start ? element_end(text, *start) : std::nullopt;
  if (!start || !end) {
    m_spliceable = false;
    return;
  }
  std::size_t from = *start;
  if (before) {
    // The whitespace before it goes too: exactly the run that ends at it.
    const std::ptrdiff_t ws = before.offset_debug();
    const auto ws_at = static_cast<std::size_t>(ws);
    if (ws < 0 || ws_at + whitespace_run(text, ws_at) != *start) {
      m_spliceable = false;
      return;
    }
    from = ws_at;
  }
  m_splices.push_back({from, *end - from, {}, nullptr, nullptr});
}

std::optional<std::string> DomainXml::spliced() const {
  if (!m_spliceable) return std::nullopt;
  std::vector<Splice> order = m_splices;
  // By place; at one place insertions before a removal that starts there.
  std::stable_sort(order.begin(), order.end(), [](const Splice& a, const Splice& b) {
    return a.at != b.at ? a.at < b.at : (a.erase == 0 && b.erase != 0);
  });
  std::string out;
  std::size_t cursor = 0;
  for (const Splice& splice : order) {
    if (splice.at < cursor) return std::nullopt;
    out.append(m_original, cursor, splice.at - cursor);
    out += splice.text;
    cursor = splice.at + splice.erase;
  }
  out.append(m_original, cursor, std::string::npos);
  // The text must be the document held in memory, or it is not used.
  pugi::xml_document check;
  if (!check.load_buffer(out.data(), out.size(), k_parse_flags, pugi::encoding_utf8) ||
      saved(check) != saved(*m_document))
    return std::nullopt;
  return out;
}

std::string DomainXml::to_string() const {
  if (auto text = spliced()) return *std::move(text);
  if (!m_verbatim) return saved(*m_document) + m_epilog;
  StringWriter writer;
  writer.out = m_prolog;
  m_document->document_element().print(writer, "", k_format_flags, pugi::encoding_utf8);
  return writer.out + m_epilog;
}

}  // namespace pcipass::core
