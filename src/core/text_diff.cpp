#include <pcipass/core/text_diff.hpp>

#include <algorithm>
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

// Longest-common-subsequence edit script over the lines between the common
// prefix and suffix. Domain XML files are small (hundreds of lines), so the
// quadratic table is fine.
std::vector<Edit> edit_script(const std::vector<std::string_view>& a,
                              const std::vector<std::string_view>& b) {
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const std::size_t n = a.size() - prefix - suffix;
  const std::size_t m = b.size() - prefix - suffix;
  std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] = a[prefix + i] == b[prefix + j] ? lcs[i + 1][j + 1] + 1
                                                 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<Edit> edits;
  for (std::size_t k = 0; k < prefix; ++k) edits.push_back({Op::keep, a[k]});
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[prefix + i] == b[prefix + j]) {
      edits.push_back({Op::keep, a[prefix + i]});
      ++i;
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      edits.push_back({Op::remove, a[prefix + i++]});  // removals first, as diff -u prints them
    } else {
      edits.push_back({Op::add, b[prefix + j++]});
    }
  }
  for (std::size_t k = a.size() - suffix; k < a.size(); ++k) edits.push_back({Op::keep, a[k]});
  return edits;
}

void append_line(std::string& out, char mark, std::string_view line) {
  out += mark;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& label) {
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
        case Op::keep: append_line(body, ' ', edits[k].line); ++old_count; ++new_count; break;
        case Op::remove: append_line(body, '-', edits[k].line); ++old_count; break;
        case Op::add: append_line(body, '+', edits[k].line); ++new_count; break;
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
