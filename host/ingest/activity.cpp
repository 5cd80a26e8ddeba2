// chorus ingest (private): activity.hpp.
#include "activity.hpp"

#include <algorithm>
#include <cstdio>

#include "chorus/core/error.hpp"
#include "chorus/ingest/ingest.hpp"

namespace chorus::ingest {

namespace {

constexpr std::int64_t kDay = 86400, kWeek = 7 * kDay;
constexpr std::int64_t kMaxAutoBins = 2400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string duration(std::int64_t s) {
  if (s % kDay == 0) return std::to_string(s / kDay) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

std::pair<std::int64_t, std::string> automatic_bins(std::int64_t span) {
  const std::int64_t widths[] = {3600, 3 * 3600, 6 * 3600, 12 * 3600, kDay, kWeek};
  for (std::int64_t b : widths) {
    if ((span + b - 1) / b <= kMaxAutoBins || b == kWeek)
      return {b,
              "automatic: the finest of 1h, 3h, 6h, 12h, 1d, 7d giving at most 2400 bins "
              "over the data's span of " +
                  std::to_string((span + kDay - 1) / kDay) + " days: " + duration(b)};
  }
  return {kWeek, ""};
}

std::int64_t bin_plan::bin_of(std::int64_t t) const {
  if (t < from || t >= to) return -1;
  if (fold == "day") return floor_div(t, bin_seconds) % (kDay / bin_seconds);
  if (fold == "week") {
    // weeks start on Monday 00:00 UTC (1970-01-01 was a Thursday)
    const std::int64_t in_week = ((t - 4 * kDay) % kWeek + kWeek) % kWeek;
    return in_week / bin_seconds;
  }
  return (t - from) / bin_seconds;
}

bin_plan plan_bins(std::int64_t first, std::int64_t last, bool has_from, std::int64_t from,
                   bool has_to, std::int64_t to, std::int64_t bin_seconds,
                   const std::string& fold) {
  bin_plan p;
  p.fold = fold;
  if (fold != "none" && fold != "day" && fold != "week")
    CHORUS_THROW(input_error, "ingest: --fold must be none, day or week, not '", fold, "'");
  const std::int64_t span = std::max<std::int64_t>(1, last + 1 - first);
  if (bin_seconds > 0) {
    if (bin_seconds < 300 || bin_seconds > kDay)
      CHORUS_THROW(input_error, "ingest: --bin must be from 5m to 1d (", bin_seconds, " s given)");
    p.bin_seconds = bin_seconds;
    p.rule = "--bin " + duration(bin_seconds);
  } else if (fold != "none") {
    p.bin_seconds = 3600;
    p.rule = "1h (the default with --fold)";
  } else {
    std::tie(p.bin_seconds, p.rule) = automatic_bins(span);
  }
  const std::int64_t period = fold == "day" ? kDay : fold == "week" ? kWeek : 0;
  if (period && period % p.bin_seconds != 0)
    CHORUS_THROW(input_error, "ingest: --bin ", duration(p.bin_seconds), " does not divide a ",
                 fold, " (use a bin such as 15m, 30m, 1h, 2h, 3h, 4h, 6h, 12h)");
  // without --from, the window starts at the bin boundary at or before the first post
  p.from = has_from ? from : floor_div(first, p.bin_seconds) * p.bin_seconds;
  p.to = has_to ? to : last + 1;
  if (p.to <= p.from)
    CHORUS_THROW(input_error, "ingest: the activity window is empty (--from ", iso_utc(p.from),
                 " is not before --to ", iso_utc(p.to), ")");
  p.bins = period ? period / p.bin_seconds : (p.to - p.from + p.bin_seconds - 1) / p.bin_seconds;
  if (p.bins > (1 << 20))
    CHORUS_THROW(input_error, "ingest: ", p.bins, " activity bins of ", duration(p.bin_seconds),
                 " (more than 2^20): use a coarser --bin, --fold week, or --from/--to");
  return p;
}

std::pair<std::int64_t, std::int64_t> bulk_of_times(const post_spool& spool,
                                                    const account_selection& sel,
                                                    std::int64_t first, std::int64_t last,
                                                    std::int64_t& far) {
  far = 0;
  const std::int64_t d0 = floor_div(first, kDay), days = floor_div(last, kDay) - d0 + 1;
  std::vector<std::int64_t> per_day(static_cast<std::size_t>(days), 0);
  std::int64_t total = 0;
  spool.for_each_block(
      1 << 16, false,
      [&](const std::vector<spooled_post>& recs, const std::vector<spooled_strings>&) {
        for (const spooled_post& r : recs)
          if (sel.new_row[r.account] >= 0)
            ++per_day[static_cast<std::size_t>(floor_div(r.time, kDay) - d0)], ++total;
      });
  const std::int64_t cut = total / 1000;  // 0.1% at each end
  std::int64_t lo = 0, hi = days - 1, seen = 0;
  while (lo < hi && seen + per_day[static_cast<std::size_t>(lo)] <= cut)
    seen += per_day[static_cast<std::size_t>(lo++)];
  seen = 0;
  while (hi > lo && seen + per_day[static_cast<std::size_t>(hi)] <= cut)
    seen += per_day[static_cast<std::size_t>(hi--)];
  const std::int64_t bulk = (hi - lo + 1) * kDay;
  if (last - first + 1 <= 2 * bulk + kDay) return {first, last};
  for (std::int64_t d = 0; d < days; ++d)
    if (d < lo || d > hi) far += per_day[static_cast<std::size_t>(d)];
  return {(d0 + lo) * kDay, (d0 + hi + 1) * kDay - 1};
}

std::int64_t count_activity(const post_spool& spool, const account_selection& sel,
                            const bin_plan& plan, std::int64_t row0, std::int64_t row1,
                            std::vector<std::int32_t>& out) {
  out.assign(static_cast<std::size_t>((row1 - row0) * plan.bins), 0);
  std::int64_t outside = 0;
  spool.for_each_block(
      1 << 16, false,
      [&](const std::vector<spooled_post>& recs, const std::vector<spooled_strings>&) {
        for (const spooled_post& r : recs) {
          const std::int64_t row = sel.new_row[r.account];
          if (row < row0 || row >= row1) continue;
          const std::int64_t b = plan.bin_of(r.time);
          if (b < 0) {
            ++outside;
            continue;
          }
          ++out[static_cast<std::size_t>((row - row0) * plan.bins + b)];
        }
      });
  return outside;
}

std::string iso_utc(std::int64_t t) {
  // civil-from-days (Howard Hinnant's algorithm, proleptic Gregorian)
  const std::int64_t days = floor_div(t, kDay), secs = t - days * kDay;
  const std::int64_t z = days + 719468, era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

}  // namespace chorus::ingest
