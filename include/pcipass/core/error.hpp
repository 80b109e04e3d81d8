#pragma once

// Errors in two tiers (docs/architecture.md, "Errors"): low-level functions return Result<T>, a
// value or an Error with context; commands throw Failure, which the one catch
// in main turns into `pcipass: error: <what>` and the documented exit code.

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace pcipass::core {

// The exit codes pcipass documents in `--help` and the README. Numbers are
// part of the interface: scripts test them, so never renumber.
enum class ExitCode : int {
  ok = 0,
  failure = 1,       // unexpected internal error
  usage = 2,         // bad command line or argument (malformed PCI address, ...)
  bad_input = 3,     // malformed or missing input file/text (lspci, XML, YAML, .config)
  host_error = 4,    // the host cannot be read or reached (sysfs, libvirt, no IOMMU)
  refused = 5,       // a safety check refused the request (host device, id mismatch, ...)
  busy = 6,          // another pcipass run holds the state lock (--no-wait)
  doctor_warnings = 7,  // pcipass doctor: the worst check is a WARN
  doctor_failures = 8,  // pcipass doctor: at least one check FAILed
};

// What went wrong, as one line a person can act on, and which exit code it
// maps to when it ends the command.
struct Error {
  std::string message;
  ExitCode code = ExitCode::failure;

  // Returns a copy whose message is prefixed with `context: `, keeping the code.
  [[nodiscard]] Error with_context(const std::string& context) const {
    return Error{context + ": " + message, code};
  }
};

// The exception commands throw to abort; carries an Error.
class Failure : public std::runtime_error {
public:
  explicit Failure(Error error) : std::runtime_error(error.message), m_error(std::move(error)) {}
  Failure(std::string message, ExitCode code) : Failure(Error{std::move(message), code}) {}
  [[nodiscard]] const Error& error() const noexcept { return m_error; }

private:
  Error m_error;
};

// Tag used to build a failed Result: `return fail("...", ExitCode::bad_input);`.
struct Unexpected {
  Error error;
};
inline Unexpected fail(std::string message, ExitCode code) {
  return Unexpected{Error{std::move(message), code}};
}
inline Unexpected fail(Error error) { return Unexpected{std::move(error)}; }

// A value of type T or an Error, in the spirit of C++23 std::expected.
template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected unexpected) : m_state(std::in_place_index<1>, std::move(unexpected.error)) {}

  [[nodiscard]] bool has_value() const noexcept { return m_state.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { return checked(); }
  [[nodiscard]] const T& value() const& { return const_cast<Result*>(this)->checked(); }
  [[nodiscard]] T&& value() && { return std::move(checked()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const Error& error() const { return std::get<1>(m_state); }

  // The value, or throws Failure with the error prefixed by `context`.
  T value_or_throw(const std::string& context = {}) && {
    if (!has_value()) {
      throw Failure(context.empty() ? error() : error().with_context(context));
    }
    return std::move(std::get<0>(m_state));
  }

private:
  T& checked() {
    if (!has_value()) {
      throw Failure(error());
    }
    return std::get<0>(m_state);
  }
  std::variant<T, Error> m_state;
};

// Result of an operation that yields nothing but may fail.
struct Ok {};
using Status = Result<Ok>;
inline Status ok() { return Ok{}; }

}  // namespace pcipass::core
