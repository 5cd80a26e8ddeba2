// chorus ingest (private): the read pass. Posts stream from the readers through text features
// (in parallel) into the account table, the feature counts and the post spool.
#pragma once

#include <cstdint>
#include <functional>

#include "accounts.hpp"
#include "chorus/ingest/feature_counts.hpp"
#include "chorus/ingest/reader.hpp"
#include "chorus/ingest/text_features.hpp"
#include "post_spool.hpp"

namespace chorus::ingest {

/// Where the read pass puts what it extracts. `counts` may be null (no content features).
struct read_sinks {
  account_table& accounts;
  post_spool& spool;
  feature_counts* counts = nullptr;
  std::int64_t duplicates = 0;  ///< posts left out because their id was seen before
  /// --normalize toolkit: text keys as QUT's toolkit computes them, links only from the urls
  /// field (chorus/coaction/normalise.hpp).
  bool toolkit = false;
};

/// Read every post of `reader`; threads: worker threads for the text features. A post whose id
/// was seen before (the same file twice, overlapping exports) is left out and counted.
void read_all_posts(post_reader& reader, const feature_config& cfg, int threads, read_sinks& sinks,
                    const std::function<void(const char*, std::int64_t, std::int64_t)>& progress);

}  // namespace chorus::ingest
