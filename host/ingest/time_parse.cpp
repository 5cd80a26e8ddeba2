// chorus ingest: timestamp parsing (Unix seconds, ISO 8601 with a zone, X/Twitter v1.1 form).
#include "chorus/ingest/time_parse.hpp"

#include <cstring>

namespace chorus::ingest {

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// Reads exactly n digits at s[pos...] into v and advances pos.
bool digits(std::string_view s, std::size_t& pos, int n, int& v) {
  if (pos + n > s.size()) return false;
  int x = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!is_digit(c)) return false;
    x = x * 10 + (c - '0');
  }
  v = x;
  pos += n;
  return true;
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, int m) {
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

/// Combines validated calendar fields and a zone offset (seconds east of UTC).
bool combine(int y, int mo, int d, int h, int mi, int sec, int offset, std::int64_t& out) {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
  if (h > 23 || mi > 59 || sec > 60) return false;  // 60: a leap second, counted as :59 + 1
  out = days_from_civil(y, mo, d) * kSecondsPerDay + h * 3600 + mi * 60 + sec - offset;
  return true;
}

/// Integer Unix seconds with an optional sign and fraction (truncated toward -inf).
bool parse_unix(std::string_view s, std::int64_t& out) {
  std::size_t pos = 0;
  bool neg = false;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) neg = s[pos++] == '-';
  std::size_t start = pos;
  std::int64_t v = 0;
  while (pos < s.size() && is_digit(s[pos])) {
    if (pos - start >= 18) return false;  // beyond any sensible time; avoids overflow
    v = v * 10 + (s[pos++] - '0');
  }
  bool int_digits = pos > start;
  bool frac_nonzero = false;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t fstart = pos;
    while (pos < s.size() && is_digit(s[pos])) frac_nonzero |= s[pos++] != '0';
    if (!int_digits && pos == fstart) return false;
  } else if (!int_digits) {
    return false;
  }
  if (pos != s.size()) return false;
  out = neg ? -v - (frac_nonzero ? 1 : 0) : v;
  return true;
}

/// Zone: Z, +hh:mm, +hhmm or +hh (or '-'); the whole rest of s.
bool parse_zone(std::string_view s, std::size_t pos, int& offset) {
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    offset = 0;
    return pos + 1 == s.size();
  }
  if (s[pos] != '+' && s[pos] != '-') return false;
  int sign = s[pos++] == '-' ? -1 : 1;
  int hh = 0, mm = 0;
  if (!digits(s, pos, 2, hh)) return false;
  if (pos < s.size()) {
    if (s[pos] == ':') ++pos;
    if (!digits(s, pos, 2, mm)) return false;
  }
  if (pos != s.size() || hh > 23 || mm > 59) return false;
  offset = sign * (hh * 3600 + mm * 60);
  return true;
}

/// YYYY-MM-DD(T| )hh:mm[:ss[.fff]]zone
bool parse_iso(std::string_view s, std::int64_t& out) {
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-') return false;
  if (!digits(s, pos, 2, mo) || pos >= s.size() || s[pos++] != '-') return false;
  if (!digits(s, pos, 2, d) || pos >= s.size()) return false;
  char sep = s[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  if (!digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':') return false;
  if (!digits(s, pos, 2, mi)) return false;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, sec)) return false;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      std::size_t fstart = pos;
      while (pos < s.size() && is_digit(s[pos])) ++pos;  // fraction of a non-negative second
      if (pos == fstart) return false;
    }
  }
  int offset = 0;
  if (!parse_zone(s, pos, offset)) return false;
  return combine(y, mo, d, h, mi, sec, offset, out);
}

int name_index(std::string_view s, std::size_t pos, const char* const* names, int n) {
  if (pos + 3 > s.size()) return -1;
  for (int i = 0; i < n; ++i)
    if (std::memcmp(s.data() + pos, names[i], 3) == 0) return i;
  return -1;
}

/// "Wed Oct 10 20:19:24 +0000 2018"
bool parse_twitter(std::string_view s, std::int64_t& out) {
  static const char* const kDays[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static const char* const kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 30 || name_index(s, 0, kDays, 7) < 0 || s[3] != ' ') return false;
  int mo = name_index(s, 4, kMonths, 12) + 1;
  if (mo == 0 || s[7] != ' ') return false;
  std::size_t pos = 8;
  int d = 0, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, y = 0;
  if (!digits(s, pos, 2, d) || s[pos++] != ' ') return false;
  if (!digits(s, pos, 2, h) || s[pos++] != ':') return false;
  if (!digits(s, pos, 2, mi) || s[pos++] != ':') return false;
  if (!digits(s, pos, 2, sec) || s[pos++] != ' ') return false;
  char sign = s[pos++];
  if (sign != '+' && sign != '-') return false;
  if (!digits(s, pos, 2, zh) || !digits(s, pos, 2, zm) || s[pos++] != ' ') return false;
  if (!digits(s, pos, 4, y) || zh > 23 || zm > 59) return false;
  int offset = (sign == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  return combine(y, mo, d, h, mi, sec, offset, out);
}

}  // namespace

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  // Shift the year to start in March so that the leap day is the last day of the year.
  std::int64_t y = year - (month <= 2 ? 1 : 0);
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;           // 400-year cycles of 146097 days
  std::int64_t yoe = y - era * 400;                          // [0, 399]
  std::int64_t mp = (month + 9) % 12;                        // March = 0 ... February = 11
  std::int64_t doy = (153 * mp + 2) / 5 + day - 1;           // day of the March-based year
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // day of the era
  return era * 146097 + doe - 719468;                        // 719468: 0000-03-01 .. 1970-01-01
}

bool parse_time(std::string_view s, std::int64_t& unix_seconds) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  if (s.empty()) return false;
  std::int64_t v = 0;
  bool ok = false;
  if (s.size() >= 10 && is_digit(s[0]) && s[4] == '-') {
    ok = parse_iso(s, v);
  } else if (is_digit(s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.') {
    ok = parse_unix(s, v);
  } else {
    ok = parse_twitter(s, v);
  }
  if (ok) unix_seconds = v;
  return ok;
}

}  // namespace chorus::ingest
