// chorus ingest: streaming readers that turn posts files (CSV or JSON lines, plain, gzip or zstd)
// into chorus::ingest::post records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chorus/ingest/post.hpp"

namespace chorus::ingest {

/// Text format of a posts file; `automatic` looks at the first non-blank byte ('{' = JSON lines).
enum class format { automatic, csv, jsonl };

/// Which field layout a file follows. `automatic` detects it per file from the CSV header or the
/// first JSON record; `none` uses only the explicit field_map (account and time then required).
///  - qut: QUT coordination-network-toolkit CSV,
///    header `message_id,user_id,username,repost_id,reply_id,message,timestamp,urls`
///  - twitter_v1: X/Twitter API v1.1 tweet objects, one per line
///  - twitter_v2: API v2 tweet objects, or twarc2 response pages (`data` + `includes.users`)
///  - generic: CSV (or JSON objects) with fields account, time, text and optionally id, handle,
///    repost, reply, urls
enum class preset { automatic, qut, twitter_v1, twitter_v2, generic, none };

/// Column names (CSV) or dot-separated JSON paths ("user.id_str"; a numeric part indexes an
/// array); an empty entry means "the preset's field".
struct field_map {
  std::string account, handle, time, text, id, repost, reply, urls;
};

/// How post_reader reads its files.
struct reader_options {
  format fmt = format::automatic;
  preset pre = preset::automatic;
  field_map map;
  bool strict = false;  ///< a record that would be skipped is an input_error instead
};

/// A record that was skipped, for the report.
struct skipped_row {
  int file = 0;           ///< index in the reader's file list
  std::int64_t line = 0;  ///< 1-based line where the record starts
  std::string reason;
};

/// Counters over everything read so far. records == posts + skipped.
struct reader_stats {
  std::int64_t records = 0;             ///< data records seen (CSV rows, JSON tweet objects)
  std::int64_t posts = 0;               ///< records returned as posts
  std::int64_t skipped = 0;             ///< records dropped (no account, time does not parse, ...)
  std::int64_t invalid_utf8_bytes = 0;  ///< bytes replaced by U+FFFD
  std::int64_t bytes_read = 0;          ///< text bytes read, after decompression
  std::vector<skipped_row> first_skipped;  ///< the first 5 skipped records
};

/// Expands shell-style globs with glob(3) (matches of one pattern sorted, patterns kept in order).
/// A pattern that matches nothing, a missing file or a directory is an input_error naming it.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args);

namespace detail {
class record_reader;
}

/// Reads posts from several files in the order given, streaming with bounded memory.
/// Compression (gzip, also multi-member, or zstd) is detected from the magic bytes, never the
/// file name. Bad input is a chorus::input_error whose one-line message names the file and line.
class post_reader {
 public:
  /// Opens every file once to detect compression, format and preset (and to check that it is
  /// readable and not empty); throws input_error on the first problem.
  post_reader(std::vector<std::string> files, reader_options opt);
  ~post_reader();
  post_reader(const post_reader&) = delete;
  post_reader& operator=(const post_reader&) = delete;

  /// Clears batch and fills it with up to max_posts posts, in file order; false when nothing is
  /// left. The vector's elements are reused between calls to spare allocations.
  bool next(std::vector<post>& batch, std::size_t max_posts);

  /// Counters so far.
  const reader_stats& stats() const { return stats_; }

  /// One line per file, e.g. "posts.csv.gz: gzip, CSV, preset qut (detected from the header)".
  std::vector<std::string> describe() const { return descriptions_; }

  /// Fraction of the total input bytes (compressed sizes) consumed so far, in [0, 1].
  double fraction_done() const;

 private:
  std::vector<std::string> files_;
  reader_options opt_;
  reader_stats stats_;
  std::vector<std::string> descriptions_;
  std::vector<std::int64_t> sizes_;  // on-disk sizes
  std::int64_t total_size_ = 0;
  std::int64_t done_size_ = 0;  // sizes of the files already finished
  std::size_t current_ = 0;     // index of the file being read
  std::unique_ptr<detail::record_reader> reader_;
};

}  // namespace chorus::ingest
