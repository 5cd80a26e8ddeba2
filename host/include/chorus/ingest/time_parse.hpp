// chorus ingest: timestamps as they appear in posts files, to Unix seconds (UTC).
#pragma once

#include <cstdint>
#include <string_view>

namespace chorus::ingest {

/// Parses a timestamp into Unix seconds. Accepted (surrounding blanks ignored):
///  - Unix seconds: "1577886276", "-5", "1577886276.75" (a fraction is truncated toward -inf);
///  - ISO 8601 date-time with a zone: "2024-02-29T23:59:59+01:00", 'T', 't' or a space between
///    date and time, seconds optional, fractional seconds, zone Z, +hh:mm, +hhmm or -hh;
///  - X/Twitter v1.1 created_at: "Wed Oct 10 20:19:24 +0000 2018".
/// Returns false (and leaves unix_seconds alone) if s is none of these or a field is out of range.
/// Locale- and time-zone-database-free.
bool parse_time(std::string_view s, std::int64_t& unix_seconds);

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
std::int64_t days_from_civil(std::int64_t year, int month, int day);

}  // namespace chorus::ingest
