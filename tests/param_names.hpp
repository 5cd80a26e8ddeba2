// Names for parameterised test cases (the 4th argument of INSTANTIATE_TEST_SUITE_P): built from
// the case's fields, made unique, and limited to [A-Za-z0-9_] as GoogleTest requires.
#pragma once

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace chorus::test {

/// A number as a name token: 0.8 -> "0p8", -0.2 -> "m0p2", 1 -> "1" (3 decimals at most).
inline std::string name_number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", std::fabs(x));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  for (char& c : s)
    if (c == '.') c = 'p';
  return (x < 0 && s != "0" ? "m" : "") + s;
}

/// `s` with every character outside [A-Za-z0-9_] replaced by '_'.
inline std::string name_token(std::string s) {
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return s;
}

/// One name per case, in order: name_of(case), with "_2", "_3", ... added to a name's repeats.
template <typename Case, typename NameOf>
std::vector<std::string> unique_case_names(const std::vector<Case>& cases, NameOf name_of) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const Case& c : cases) {
    const std::string base = name_token(name_of(c));
    std::string name = base;
    for (int k = 2; used.count(name); ++k) name = base + "_" + std::to_string(k);
    used.insert(name);
    names.push_back(name);
  }
  return names;
}

}  // namespace chorus::test
