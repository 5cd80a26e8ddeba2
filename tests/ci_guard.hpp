// Skips that cannot hide: under CI=true a test that would skip because a tool is missing fails
// instead (the Python checks do the same, tests/py/ci_skip.py). Skips for hardware that is absent
// (no CUDA device), for a sanitizer build, or for a CMake option deliberately set OFF stay skips.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

namespace chorus::test {

/// CI=true (any case), as CI services set it.
inline bool in_ci() {
  const char* e = std::getenv("CI");
  std::string v = e ? e : "";
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true";
}

/// True when the CMake build in `build_dir` was configured with `option`=OFF (read from its
/// CMakeCache.txt); false when the cache or the option is absent.
inline bool configured_off(const std::string& build_dir, const std::string& option) {
  std::ifstream in(build_dir + "/CMakeCache.txt");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(option + ":", 0) == 0) {
      std::string v = line.substr(line.find('=') + 1);
      for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return v == "OFF" || v == "0" || v == "FALSE" || v == "NO";
    }
  return false;
}

}  // namespace chorus::test

/// Skip for a missing tool, or fail under CI=true (returns from the test either way).
#define CHORUS_SKIP_MISSING_TOOL(why)                                                 \
  do {                                                                                \
    if (::chorus::test::in_ci())                                                      \
      FAIL() << why << " -- CI=true, so this test must run: install what is missing " \
             << "(.ci/setup.sh) instead of skipping it";                              \
    else                                                                              \
      GTEST_SKIP() << why;                                                            \
  } while (0)
