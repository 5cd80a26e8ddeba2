// chorus: small text helpers shared by the CLI and the input checks.
#pragma once

#include <cstddef>
#include <string>

namespace chorus {

/// Levenshtein distance of two short names, for "did you mean" suggestions (options, commands,
/// dataset names). With `ignore_case`, ASCII letters compare without case.
std::size_t edit_distance(const std::string& a, const std::string& b, bool ignore_case = false);

}  // namespace chorus
