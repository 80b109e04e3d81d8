#include "table.hpp"

#include <algorithm>

namespace pcipass::cli {

std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += ((c & 0xc0) != 0x80) ? 1 : 0;
  return width;
}

Table::Table(std::vector<std::string> headers) { m_rows.push_back(std::move(headers)); }

void Table::add_row(std::vector<std::string> cells) { m_rows.push_back(std::move(cells)); }

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : m_rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  for (const auto& row : m_rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

}  // namespace pcipass::cli
