#pragma once

// The properties each fuzzer checks, as plain functions: the libFuzzer
// targets call them with generated inputs, and a normal test calls them
// with every file of the seed corpus and of tests/fuzz/regressions/ (inputs
// that once broke pcipass), so regressions are caught without clang.
// A violated property aborts (so the fuzzer records the input).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pcipass::fuzz {

// PciAddress::parse never crashes; what it accepts prints and re-parses to
// the same address, in both the sysfs and the libvirt spelling.
void check_pci_address(const std::uint8_t* data, std::size_t size);

// parse_lspci_vmm never crashes; every string it returns is valid UTF-8
// without control characters.
void check_lspci(const std::uint8_t* data, std::size_t size);

// parse_nodedev_xml never crashes; same string property as lspci.
void check_nodedev_xml(const std::uint8_t* data, std::size_t size);

// sanitize_untrusted returns valid UTF-8 without control characters, never
// longer than its cap.
void check_sanitize(const std::uint8_t* data, std::size_t size);

// A parsed domain document takes a pcipass <hostdev> and gives it back:
// the result of adding stays well-formed and holds the hostdev once; adding
// then removing restores the document exactly.
void check_domain_xml(const std::uint8_t* data, std::size_t size);

// parse_nodes_yaml never crashes and fails with one line; guests it
// accepts have names.
void check_nodes_yaml(const std::uint8_t* data, std::size_t size);

// DotConfig::parse and read_passthrough_choices never crash and fail with
// one line.
void check_dot_config(const std::uint8_t* data, std::size_t size);

// DeviceIdentity::parse never crashes and fails with one line; what it
// accepts prints (to_text) with no quote, backslash, '$', '`' or control
// character, and re-parses to the same identity. parse_vpd_serial on the
// same bytes never reads past them and returns sanitised one-line text.
void check_identity(const std::uint8_t* data, std::size_t size);

// kconfig_quote gives one double-quoted Kconfig literal no tool can read a
// macro, variable, line break or early closing quote out of.
void check_kconfig_quote(const std::uint8_t* data, std::size_t size);

// generate_passthrough_kconfig, fed an inventory whose device strings,
// ids, classes, groups and host use come from the input: every line of the
// file has one of the shapes the generator writes (so a device string can
// never start a line of its own), string literals close where they should,
// no `$`, backquote or control character appears, and the config symbols
// are exactly the ten per candidate (_VENDOR_DEVICE only for known ids)
// plus NUM_DEVICES, candidates counted
// independently of the generator, with and without host devices.
void check_kconfig_writer(const std::uint8_t* data, std::size_t size);

// parse_usage_report never crashes and fails with one line (bad_input);
// what it accepts is sanitised text, and applying it to an inventory of
// exactly its devices succeeds and gives each its reported usage, while
// applying it to one device more changes nothing.
void check_usage_report(const std::uint8_t* data, std::size_t size);

struct FuzzTarget {
  const char* name;  // folder name under tests/fuzz/corpus and regressions
  void (*check)(const std::uint8_t*, std::size_t);
};

// Every fuzz target, for the regression test and scripts/fuzz.sh.
const std::vector<FuzzTarget>& fuzz_targets();

}  // namespace pcipass::fuzz
