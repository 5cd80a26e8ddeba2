// chorus ingest: posts files (CSV, JSON lines; plain, gzip, zstd) -> a chorus input file with an
// activity view (posts per time bin), a content view (hashed n-grams, sublinear TF-IDF, LSA) and
// the posts themselves (datasets/SCHEMA.md, "Inputs written by chorus ingest").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chorus/ingest/reader.hpp"

namespace chorus::ingest {

/// Everything `chorus ingest` takes.
struct ingest_options {
  std::vector<std::string> inputs;  ///< files or glob patterns, read in this order
  std::string out;                  ///< input file to write
  bool force = false;               ///< overwrite an existing `out`
  reader_options reader;            ///< format, preset, field map, strict
  std::int64_t min_posts = 5;       ///< accounts with fewer posts are left out (counted)
  std::int64_t bin_seconds = 0;     ///< activity bin width; 0: the automatic rule
  std::string fold = "none";        ///< none | day | week (time of day / of week)
  bool has_from = false, has_to = false;
  std::int64_t from = 0, to = 0;  ///< activity window [from, to) in Unix seconds
  int dim = 256;                  ///< content vector size (LSA); 0: no /embedding
  int hash_bits = 18;             ///< hashed feature space 2^hash_bits
  std::uint64_t seed = 1;         ///< LSA's random projection
  std::string post_embeddings;    ///< per-post vectors to mean-pool instead of LSA (HDF5)
  std::string truth;              ///< truth CSV (chorus generate --posts) -> /truth
  /// Text keys and links for the co-action views: "chorus" (default) or "toolkit" (QUT
  /// coordination-network-toolkit's, for parity checks; chorus/coaction/normalise.hpp).
  std::string normalize = "chorus";
  int threads = 0;                  ///< 0: all cores
  std::int64_t max_memory_mib = 0;  ///< cap for the feature counts held in memory (0: 2048)
  /// progress(stage, done, total); may throw to cancel.
  std::function<void(const char*, std::int64_t, std::int64_t)> progress;
};

/// What was read, kept, chosen and written.
struct ingest_summary {
  std::string out;
  std::vector<std::string> files;  ///< one line per input file: compression, format, preset
  std::vector<std::string> paths;  ///< the input files read (globs expanded), in order
  /// "FILE:LINE: reason" for the first rows skipped (at most 5)
  std::vector<std::string> skipped_examples;
  reader_stats read;
  std::int64_t accounts_seen = 0, accounts = 0, accounts_below_min_posts = 0;
  std::int64_t posts = 0;                 ///< posts written (of kept accounts)
  std::int64_t duplicate_posts = 0;       ///< posts whose id was seen before: left out
  std::int64_t posts_outside_data = 0;    ///< posts far outside the bulk of the times (see bins)
  std::int64_t posts_of_dropped = 0;      ///< posts of the accounts below --min-posts
  std::int64_t posts_outside_window = 0;  ///< kept posts outside [from, to): not in /activity
  bool string_ids = false;                ///< account keys were strings (ids derived by FNV-1a 64)
  std::int64_t bins = 0, bin_seconds = 0, from = 0, to = 0;
  std::string fold, bin_rule;  ///< the fold, and how the bins were chosen, in words
  int dim = 0;                 ///< content dimension written (0: none)
  std::string content;         ///< "lsa" or "post-embeddings"
  std::int64_t empty_content_rows = 0;
  std::int64_t pooled_posts = 0, unmatched_post_embeddings = 0;  ///< --post-embeddings
  std::int64_t truth_accounts = 0;
  std::int64_t bytes_spilled = 0;
  std::int64_t feature_entries = 0;  ///< nonzeros of the kept accounts' feature counts
  double seconds_read = 0, seconds_content = 0, seconds_write = 0, seconds_total = 0;
  std::vector<std::string> warnings;
};

/// A duration such as 5m, 1h, 2d or 3600 (seconds); input_error naming `option` otherwise.
std::int64_t parse_duration(const std::string& s, const char* option);
/// A time: Unix seconds, or ISO 8601 with a zone; input_error naming `option` otherwise.
std::int64_t parse_when(const std::string& s, const char* option);
/// --format: auto, csv, jsonl (or ndjson).
format parse_format(const std::string& f);
/// --preset: auto, qut, twitter-v1, twitter-v2, generic, none.
preset parse_preset(const std::string& p);

/// Run `chorus ingest`. The output is written to a temporary file next to `out` and renamed at
/// the end: on any error nothing is left and an existing `out` is untouched. Throws input_error
/// (exit code 2) for bad input or options, runtime_failure for I/O failures.
ingest_summary run_ingest(const ingest_options& opt);

/// JSON object of a summary (chorus ingest --json).
std::string to_json(const ingest_summary& s);

/// The int64 id chorus gives a post id or a numeric account key: the number itself when the
/// key is a decimal integer in [0, 2^63 - 1] without a sign or leading zeros, else FNV-1a 64 of
/// its bytes with the top bit cleared; -1 for an empty key.
std::int64_t key_id(const std::string& key);

/// True when `key` is a decimal integer in [0, 2^63 - 1] (no sign, no leading zeros).
bool is_numeric_key(const std::string& key);

/// The activity bin width the automatic rule picks for a span of `span_seconds` (README): the
/// finest of 1 h, 3 h, 6 h, 12 h, 1 d, 7 d that gives at most 2,400 bins (7 d beyond), with the
/// rule in words.
std::pair<std::int64_t, std::string> automatic_bins(std::int64_t span_seconds);

/// ISO 8601 UTC form of a Unix time, e.g. "2026-03-01T00:00:00Z".
std::string iso_utc(std::int64_t t);

}  // namespace chorus::ingest
