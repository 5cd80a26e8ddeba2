// chorus ingest: its options as people type them (durations, times, formats, presets).
#include <string>

#include "chorus/core/error.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/ingest/time_parse.hpp"

namespace chorus::ingest {

std::int64_t parse_duration(const std::string& s, const char* option) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = used ? s.substr(used) : "";
  const long long mult = unit.empty() || unit == "s" ? 1
                         : unit == "m"               ? 60
                         : unit == "h"               ? 3600
                         : unit == "d"               ? 86400
                                                     : 0;
  if (!used || !mult || v <= 0 || v > 86400LL * 366)
    CHORUS_THROW(input_error, option, " '", s,
                 "' is not a duration (examples: 300, 5m, 1h, 6h, 1d)");
  return v * mult;
}

preset parse_preset(const std::string& p) {
  if (p == "auto") return preset::automatic;
  if (p == "qut") return preset::qut;
  if (p == "twitter-v1") return preset::twitter_v1;
  if (p == "twitter-v2") return preset::twitter_v2;
  if (p == "generic") return preset::generic;
  if (p == "none") return preset::none;
  CHORUS_THROW(input_error,
               "--preset must be auto, qut, twitter-v1, twitter-v2, generic or none, not '", p,
               "'");
}

format parse_format(const std::string& f) {
  if (f == "auto") return format::automatic;
  if (f == "csv") return format::csv;
  if (f == "jsonl" || f == "ndjson") return format::jsonl;
  CHORUS_THROW(input_error, "--format must be auto, csv or jsonl, not '", f, "'");
}

std::int64_t parse_when(const std::string& s, const char* option) {
  std::int64_t t = 0;
  if (!parse_time(s, t))
    CHORUS_THROW(input_error, option, " '", s,
                 "' is not a time (Unix seconds, or ISO 8601 with a zone such as "
                 "2026-03-01T00:00:00Z)");
  return t;
}

}  // namespace chorus::ingest
