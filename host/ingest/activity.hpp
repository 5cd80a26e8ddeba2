// chorus ingest (private): the activity window, its bins, and the counts per account and bin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "accounts.hpp"
#include "chorus/ingest/ingest.hpp"
#include "post_spool.hpp"

namespace chorus::ingest {

/// The bins of /activity.
struct bin_plan {
  std::int64_t from = 0, to = 0;  ///< window [from, to), Unix seconds
  std::int64_t bin_seconds = 3600;
  std::string fold = "none";  ///< none | day | week
  std::int64_t bins = 0;
  std::string rule;  ///< how it was chosen, in words
  /// Bin of time t, or -1 outside the window.
  std::int64_t bin_of(std::int64_t t) const;
};

/// Choose the bins: explicit options win; otherwise the automatic rule (automatic_bins).
bin_plan plan_bins(std::int64_t data_first, std::int64_t data_last, bool has_from,
                   std::int64_t from, bool has_to, std::int64_t to, std::int64_t bin_seconds,
                   const std::string& fold);

/// The span of the bulk of the kept accounts' posts: [first, last] unless a few posts lie far
/// away (the 0.1% earliest and latest posts span more than twice the rest plus a day: a stray
/// time such as 1970-01-02 in a 2026 campaign); then the days from the 0.1th to the 99.9th
/// percentile, and `far` counts the posts left outside.
std::pair<std::int64_t, std::int64_t> bulk_of_times(const post_spool& spool,
                                                    const account_selection& sel,
                                                    std::int64_t first, std::int64_t last,
                                                    std::int64_t& far);

/// Fill rows [row0, row1) of the activity matrix (new rows; int32 counts, row-major) from the
/// spool; returns the posts of those rows outside the window.
std::int64_t count_activity(const post_spool& spool, const account_selection& sel,
                            const bin_plan& plan, std::int64_t row0, std::int64_t row1,
                            std::vector<std::int32_t>& out);

}  // namespace chorus::ingest
