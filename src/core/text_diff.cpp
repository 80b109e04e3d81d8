#include <pcipass/core/text_diff.hpp>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace pcipass::core {
namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

enum class Op { keep, remove, add };
struct Edit {
  Op op;
  std::string_view line;
};

using Lines = std::vector<std::string_view>;

// Regions whose LCS table has at most this many cells get an exact diff
// (4 MiB of table); larger ones are split at lines unique to both sides
// first, so memory stays linear in the file size whatever changed.
constexpr std::size_t k_table_cells = 1u << 20;

// The edit script of a[alo, ahi) against b[blo, bhi), appended to `edits`.
class Differ {
 public:
  Differ(const Lines& a, const Lines& b, std::vector<Edit>& edits)
      : m_a(a), m_b(b), m_edits(edits) {}

  void region(std::size_t alo, std::size_t ahi, std::size_t blo, std::size_t bhi) {
    std::size_t suffix = 0;
    while (alo < ahi && blo < bhi && m_a[alo] == m_b[blo]) {
      m_edits.push_back({Op::keep, m_a[alo]});
      ++alo;
      ++blo;
    }
    while (alo < ahi - suffix && blo < bhi - suffix &&
           m_a[ahi - 1 - suffix] == m_b[bhi - 1 - suffix]) {
      ++suffix;
    }
    ahi -= suffix;
    bhi -= suffix;
    const std::size_t n = ahi - alo;
    const std::size_t m = bhi - blo;
    if (n == 0 || m == 0 || n * m <= k_table_cells) {
      exact(alo, ahi, blo, bhi);
    } else {
      split(alo, ahi, blo, bhi);
    }
    for (std::size_t k = 0; k < suffix; ++k) m_edits.push_back({Op::keep, m_a[ahi + k]});
  }

 private:
  // Longest common subsequence, removals before additions as diff -u prints them.
  void exact(std::size_t alo, std::size_t ahi, std::size_t blo, std::size_t bhi) {
    const std::size_t n = ahi - alo;
    const std::size_t m = bhi - blo;
    std::vector<unsigned> lcs((n + 1) * (m + 1), 0);
    auto at = [&](std::size_t i, std::size_t j) -> unsigned& { return lcs[i * (m + 1) + j]; };
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = m; j-- > 0;) {
        at(i, j) = m_a[alo + i] == m_b[blo + j] ? at(i + 1, j + 1) + 1
                                                : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && m_a[alo + i] == m_b[blo + j]) {
        m_edits.push_back({Op::keep, m_a[alo + i]});
        ++i;
        ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        m_edits.push_back({Op::remove, m_a[alo + i++]});
      } else {
        m_edits.push_back({Op::add, m_b[blo + j++]});
      }
    }
  }

  // Patience-style: lines that occur once on each side, kept in an order
  // both sides agree on (longest increasing run), anchor the regions
  // between them. Without such lines the region is replaced whole: a
  // correct diff, if not the shortest.
  void split(std::size_t alo, std::size_t ahi, std::size_t blo, std::size_t bhi) {
    struct Count {
      unsigned in_a = 0, in_b = 0;
      std::size_t at_a = 0, at_b = 0;
    };
    std::unordered_map<std::string_view, Count> counts;
    counts.reserve(ahi - alo + bhi - blo);
    for (std::size_t i = alo; i < ahi; ++i) {
      Count& c = counts[m_a[i]];
      ++c.in_a;
      c.at_a = i;
    }
    for (std::size_t j = blo; j < bhi; ++j) {
      Count& c = counts[m_b[j]];
      ++c.in_b;
      c.at_b = j;
    }
    std::vector<std::pair<std::size_t, std::size_t>> unique;  // (a, b), by a
    for (std::size_t i = alo; i < ahi; ++i) {
      const Count& c = counts[m_a[i]];
      if (c.in_a == 1 && c.in_b == 1) unique.emplace_back(i, c.at_b);
    }
    // Longest increasing run of b positions (patience sorting).
    std::vector<std::size_t> tails, previous(unique.size());
    for (std::size_t k = 0; k < unique.size(); ++k) {
      const auto pos =
          std::lower_bound(tails.begin(), tails.end(), unique[k].second,
                           [&](std::size_t t, std::size_t b) { return unique[t].second < b; });
      previous[k] = pos == tails.begin() ? k : *(pos - 1);
      if (pos == tails.end()) {
        tails.push_back(k);
      } else {
        *pos = k;
      }
    }
    if (tails.empty()) {
      for (std::size_t i = alo; i < ahi; ++i) m_edits.push_back({Op::remove, m_a[i]});
      for (std::size_t j = blo; j < bhi; ++j) m_edits.push_back({Op::add, m_b[j]});
      return;
    }
    std::vector<std::pair<std::size_t, std::size_t>> anchors;
    for (std::size_t k = tails.back();; k = previous[k]) {
      anchors.push_back(unique[k]);
      if (previous[k] == k) break;
    }
    std::reverse(anchors.begin(), anchors.end());
    std::size_t a_from = alo, b_from = blo;
    for (const auto& [i, j] : anchors) {
      region(a_from, i, b_from, j);
      m_edits.push_back({Op::keep, m_a[i]});
      a_from = i + 1;
      b_from = j + 1;
    }
    region(a_from, ahi, b_from, bhi);
  }

  const Lines& m_a;
  const Lines& m_b;
  std::vector<Edit>& m_edits;
};

std::vector<Edit> edit_script(const Lines& a, const Lines& b) {
  std::vector<Edit> edits;
  edits.reserve(a.size() + b.size());
  Differ(a, b, edits).region(0, a.size(), 0, b.size());
  return edits;
}

void append_line(std::string& out, char mark, std::string_view line) {
  out += mark;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after,
                         const std::string& label) {
  if (before == after) return {};
  const auto a = lines_of(before);
  const auto b = lines_of(after);
  const std::vector<Edit> edits = edit_script(a, b);
  constexpr std::size_t k_context = 3;

  std::string out = "--- a/" + label + "\n+++ b/" + label + "\n";
  std::size_t e = 0;
  while (e < edits.size()) {
    // Find the next change and the hunk around it.
    while (e < edits.size() && edits[e].op == Op::keep) ++e;
    if (e == edits.size()) break;
    const std::size_t start = e >= k_context ? e - k_context : 0;
    // Extend over changes separated by at most 2 * k_context unchanged lines.
    std::size_t last_change = e;
    for (std::size_t k = e + 1; k < edits.size(); ++k) {
      if (edits[k].op == Op::keep) {
        if (k - last_change > 2 * k_context) break;
      } else {
        last_change = k;
      }
    }
    const std::size_t end = std::min(last_change + 1 + k_context, edits.size());
    // Line numbers of the hunk start in each file.
    std::size_t old_line = 1, new_line = 1;
    for (std::size_t k = 0; k < start; ++k) {
      if (edits[k].op != Op::add) ++old_line;
      if (edits[k].op != Op::remove) ++new_line;
    }
    std::size_t old_count = 0, new_count = 0;
    std::string body;
    for (std::size_t k = start; k < end; ++k) {
      switch (edits[k].op) {
        case Op::keep:
          append_line(body, ' ', edits[k].line);
          ++old_count;
          ++new_count;
          break;
        case Op::remove:
          append_line(body, '-', edits[k].line);
          ++old_count;
          break;
        case Op::add:
          append_line(body, '+', edits[k].line);
          ++new_count;
          break;
      }
    }
    out += "@@ -" + std::to_string(old_count ? old_line : old_line - 1) + "," +
           std::to_string(old_count) + " +" + std::to_string(new_count ? new_line : new_line - 1) +
           "," + std::to_string(new_count) + " @@\n" + body;
    e = end;
  }
  return out;
}

}  // namespace pcipass::core
