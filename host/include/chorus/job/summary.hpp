// chorus: the JSON summary of a detection run (--json).
#pragma once

#include <string>

#include "chorus/job/detect.hpp"

namespace chorus {

/// `v` as a JSON string literal (quotes, backslashes and control characters escaped).
std::string json_quote(const std::string& v);

/// One JSON object describing a summary (for --json).
std::string to_json(const detect_summary& s);

}  // namespace chorus
