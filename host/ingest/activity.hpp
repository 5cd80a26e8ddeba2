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

/// Fill rows [row0, row1) of the activity matrix (new rows; int32 counts, row-major) from the
/// spool; returns the posts of those rows outside the window.
std::int64_t count_activity(const post_spool& spool, const account_selection& sel,
                            const bin_plan& plan, std::int64_t row0, std::int64_t row1,
                            std::vector<std::int32_t>& out);


}  // namespace chorus::ingest
