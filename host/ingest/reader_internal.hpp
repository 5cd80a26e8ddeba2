// chorus ingest: internals shared by the post readers (byte sources, text buffer, UTF-8 repair,
// per-file record readers). Not a public header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/ingest/reader.hpp"

namespace chorus::ingest::detail {

/// Compression of a file, detected from its first bytes.
enum class compression { none, gzip, zstd };

const char* compression_name(compression c);

/// A file's bytes after decompression, read in pieces.
class byte_source {
 public:
  /// Opens path; a missing or unreadable file is an input_error naming it.
  explicit byte_source(const std::string& path);
  ~byte_source();
  byte_source(const byte_source&) = delete;
  byte_source& operator=(const byte_source&) = delete;

  /// Reads up to cap decompressed bytes into dst; 0 only at the end of the data. Truncated or
  /// corrupt compressed data is an input_error naming the file.
  std::size_t read(char* dst, std::size_t cap);
  compression kind() const;
  std::int64_t file_size() const;  ///< on-disk size
  std::int64_t file_pos() const;   ///< on-disk bytes consumed so far

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

/// A sliding window over a byte_source with zeroed padding after the data (for simdjson).
class text_buffer {
 public:
  text_buffer(byte_source& src, std::size_t chunk);
  const char* begin() const { return data_.data(); }
  const char* end() const { return data_.data() + size_; }
  bool eof() const { return eof_; }
  /// Drops the bytes before keep, then reads until the buffer is full or the data ends (growing
  /// the buffer when keep..end fills most of it). Returns the number of new bytes; the caller
  /// re-derives pointers from begin() (data from keep now starts at begin()).
  std::size_t refill(const char* keep);

 private:
  byte_source& src_;
  std::vector<char> data_;
  std::size_t size_ = 0;
  bool eof_ = false;
};

/// Length of the longest valid UTF-8 prefix of [p, p+n).
std::size_t utf8_valid_prefix(const char* p, std::size_t n);

/// Sets out to [p, p+n) with each maximal invalid UTF-8 subpart replaced by U+FFFD; adds the
/// number of replaced bytes to bad.
void assign_utf8(std::string& out, const char* p, std::size_t n, std::int64_t& bad);

/// Appends the whitespace-separated words of s to out.
void split_words(std::string_view s, std::vector<std::string>& out);

/// Per-file state shared by the record readers: name, options, counters and error helpers.
struct file_context {
  std::string path;
  int index = 0;
  const reader_options* opt = nullptr;
  reader_stats* stats = nullptr;

  /// Counts a skipped record (or throws input_error "FILE:LINE: reason" when strict).
  void skip(std::int64_t line, const std::string& reason) const;
  /// Throws unless t lies in [1970-01-01, 2100-01-01).
  void check_range(std::int64_t line, std::int64_t t, std::string_view raw) const;
  [[noreturn]] void fail(std::int64_t line, const std::string& what) const;
};

/// Hands out post slots of a batch, reusing the strings of earlier batches.
class post_sink {
 public:
  explicit post_sink(std::vector<post>& batch) : batch_(batch) {}
  /// A cleared post to fill; it becomes part of the batch only after commit().
  post& slot();
  void commit() { ++n_; }
  std::size_t count() const { return n_; }
  void finish() { batch_.resize(n_); }

 private:
  std::vector<post>& batch_;
  std::size_t n_ = 0;
};

/// Reads the records of one file.
class record_reader {
 public:
  virtual ~record_reader() = default;
  /// Adds posts to sink until it holds max or the file ends; false when the file is done.
  virtual bool fill(post_sink& sink, std::size_t max) = 0;
  /// "gzip, CSV, preset qut (detected from the header)"
  virtual std::string describe() const = 0;
  virtual std::int64_t file_pos() const = 0;
  virtual std::int64_t file_size() const = 0;
};

/// Opens a file, detects compression, format and preset, and reads its header or first record
/// (so that bad input is reported at once). The reader keeps a copy of ctx. chunk: the text
/// buffer's initial size (it grows for longer records).
std::unique_ptr<record_reader> open_records(const file_context& ctx, std::size_t chunk);

/// Chunk size of the text buffer while reading.
constexpr std::size_t kChunkBytes = std::size_t(4) << 20;
/// Initial buffer size when a file is only opened to detect its layout.
constexpr std::size_t kProbeBytes = std::size_t(256) << 10;
/// No record (CSV row, JSON line) may be longer; protects memory against an unterminated quote.
constexpr std::size_t kMaxRecordBytes = std::size_t(256) << 20;

/// The opened file with its first bytes buffered, handed to the format-specific reader.
struct opened_file {
  std::unique_ptr<byte_source> src;
  std::unique_ptr<text_buffer> buf;
  const char* start = nullptr;  ///< first byte after a UTF-8 BOM
};

std::unique_ptr<record_reader> make_csv_reader(const file_context& ctx, opened_file f);
std::unique_ptr<record_reader> make_json_reader(const file_context& ctx, opened_file f);

/// Checks the new bytes [from, buf.end()) for a NUL byte; throws "FILE:LINE: NUL byte ..." where
/// the line is counted from `line_at` (the line of the byte at `base`, base <= from).
/// A hint for a time that does not parse: a date-time without a zone is the usual mistake.
std::string time_hint(const std::string& text);

void check_binary(const file_context& ctx, const char* base, std::int64_t line_at, const char* from,
                  const char* end);

}  // namespace chorus::ingest::detail
