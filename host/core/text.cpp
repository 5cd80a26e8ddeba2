// chorus: small text helpers (chorus/core/text.hpp).
#include "chorus/core/text.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace chorus {

std::size_t edit_distance(const std::string& a, const std::string& b, bool ignore_case) {
  const auto fold = [ignore_case](char c) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(c)) : c;
  };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (fold(a[i - 1]) != fold(b[j - 1]))});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace chorus
