// chorus: a synthetic social-media posts corpus with planted coordinated campaigns and decoys.
//
// `generate_posts` writes a posts CSV in the layout of QUT's coordination-network-toolkit
// (message_id,user_id,username,repost_id,reply_id,message,timestamp,urls) and a truth CSV
// (user_id,username,cluster,kind). The model is described in datasets/GENERATOR.md ("Posts
// corpus"). Every account's posts are a pure function of (seed, account), so the output is
// byte-identical for a seed whatever the thread count, and memory stays bounded: accounts are
// generated and written block by block, the corpus is never held in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chorus/generate/generate.hpp"  // account_kind

namespace chorus {

/// Parameters of one synthetic posts corpus.
struct posts_options {
  std::int64_t accounts = 20000;         ///< all accounts (organic + campaigns + decoys), >= 100
  double posts_per_account = 20;         ///< mean posts per organic account over the whole period
  int days = 14;                         ///< period length in days, starting at start_time
  std::int64_t start_time = 1772323200;  ///< Unix seconds; 2026-03-01T00:00:00Z
  int campaigns = 10;                    ///< planted coordinated campaigns (10-80 accounts each)
  std::uint64_t seed = 1;
  std::string out;        ///< posts CSV; .gz = gzip (zlib), .zst = zstd, else plain
  std::string truth_out;  ///< truth CSV; empty = posts_truth_path(out); compressed likewise
  bool force = false;     ///< overwrite existing outputs
  int threads = 0;        ///< 0 = all cores; the output does not depend on it
};

/// What was written.
struct posts_summary {
  std::int64_t accounts = 0, posts = 0;
  std::int64_t coordinated = 0;              ///< campaign members (kind 1)
  std::int64_t fans = 0;                     ///< topic decoys (kind 2)
  std::int64_t news_bots = 0;                ///< timing decoys (kind 3)
  std::vector<std::int64_t> campaign_sizes;  ///< campaign c has campaign_sizes[c] members
  std::int64_t bytes = 0;  ///< size of the posts file as written (after compression)
};

/// One row of a truth file.
struct posts_truth_row {
  std::int64_t user_id = 0;
  std::string username;
  std::int64_t cluster = -1;  ///< campaign index for coordinated accounts, else -1
  account_kind kind = account_kind::organic;
};

/// The default truth path for a posts path: the known extensions (.gz/.zst, then
/// .csv/.tsv/.txt) replaced by ".truth.csv", e.g. "d/posts.csv.gz" -> "d/posts.truth.csv".
std::string posts_truth_path(const std::string& out);

/// Generate a posts corpus and its truth. Both files are written under "<path>.tmp.<pid>" in
/// their directories and renamed at the end; on failure no partial file is left behind.
/// progress(fraction in [0,1]) is called from the calling thread after each block of accounts,
/// if set; it may throw to cancel (the temporary files are removed, the exception propagates).
/// Throws input_error for bad options or an existing output without force (nothing is written
/// then), runtime_failure for I/O and compression failures.
posts_summary generate_posts(const posts_options& opt,
                             const std::function<void(double)>& progress = {});

/// Read a truth file written by generate_posts (plain or gzip). Throws input_error when the
/// file is missing or malformed.
std::vector<posts_truth_row> read_posts_truth(const std::string& path);

}  // namespace chorus
