// chorus ingest: a fast UTF-8 validator that repairs invalid sequences with U+FFFD.
#include <cstring>

#include "reader_internal.hpp"

namespace chorus::ingest::detail {

namespace {

/// Length (2..4) of the valid multi-byte sequence at s, or 0 with *bad set to the length of the
/// maximal invalid subpart (Unicode's "substitution of maximal subparts" practice).
inline int sequence_length(const unsigned char* s, std::size_t n, std::size_t* bad) {
  unsigned c = s[0];
  unsigned lo = 0x80, hi = 0xBF;
  int len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;  // no overlong forms
    else if (c == 0xED)
      hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;  // no overlong forms
    else if (c == 0xF4)
      hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad = 1;
    return 0;
  }
  if (n < 2 || s[1] < lo || s[1] > hi) {
    *bad = 1;
    return 0;
  }
  for (int k = 2; k < len; ++k) {
    if (n <= static_cast<std::size_t>(k) || (s[k] & 0xC0) != 0x80) {
      *bad = static_cast<std::size_t>(k);
      return 0;
    }
  }
  return len;
}

/// Index of the first non-ASCII byte at or after i.
inline std::size_t skip_ascii(const unsigned char* s, std::size_t i, std::size_t n) {
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ULL) break;
    i += 8;
  }
  while (i < n && s[i] < 0x80) ++i;
  return i;
}

}  // namespace

std::size_t utf8_valid_prefix(const char* p, std::size_t n) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  std::size_t i = 0;
  for (;;) {
    i = skip_ascii(s, i, n);
    if (i >= n) return n;
    std::size_t bad = 0;
    int len = sequence_length(s + i, n - i, &bad);
    if (len == 0) return i;
    i += static_cast<std::size_t>(len);
  }
}

void assign_utf8(std::string& out, const char* p, std::size_t n, std::int64_t& bad) {
  std::size_t i = utf8_valid_prefix(p, n);
  out.assign(p, i);
  if (i == n) return;
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  while (i < n) {
    std::size_t j = skip_ascii(s, i, n);
    out.append(p + i, j - i);
    i = j;
    if (i >= n) break;
    std::size_t nbad = 0;
    int len = sequence_length(s + i, n - i, &nbad);
    if (len > 0) {
      out.append(p + i, static_cast<std::size_t>(len));
      i += static_cast<std::size_t>(len);
    } else {
      out.append("\xEF\xBF\xBD");
      bad += static_cast<std::int64_t>(nbad);
      i += nbad;
    }
  }
}

void split_words(std::string_view s, std::vector<std::string>& out) {
  auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  std::size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && blank(s[i])) ++i;
    std::size_t j = i;
    while (j < n && !blank(s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
}

}  // namespace chorus::ingest::detail
