#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pcipass::cli {

// A plain-text table for people: left-aligned columns two spaces apart, no
// colour, the last column never padded. Cells are already sanitised.
class Table {
public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

private:
  std::vector<std::vector<std::string>> m_rows;
};

// The number of terminal columns a UTF-8 string takes, counting each code
// point as one (device names are Latin text; good enough for alignment).
std::size_t display_width(const std::string& text);

}  // namespace pcipass::cli
