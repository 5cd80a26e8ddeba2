// chorus ingest (private): posts spooled to temporary files during the read pass, read back in
// blocks by the later passes (activity bins, the /posts datasets).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace chorus::ingest {

/// The fixed part of one spooled post (its strings follow in the strings file).
struct spooled_post {
  std::uint32_t account = 0;  ///< row in first-appearance order
  std::uint16_t n_urls = 0, n_hashtags = 0;
  std::uint16_t n_mentions = 0;
  std::uint16_t n_tokens = 0;  ///< word tokens; their hashes follow the mentions as one blob
  std::int64_t time = 0, id = -1, repost = -1, reply = -1;
  std::uint64_t text_hash = 0;
};

/// Its strings: urls, then hashtags, then mentions, then (when n_tokens > 0) one string holding
/// the n_tokens uint64 token hashes (native byte order).
struct spooled_strings {
  std::vector<std::string> items;
};

/// Two temporary files (records, strings), removed by the destructor.
class post_spool {
 public:
  explicit post_spool(const std::string& dir);
  ~post_spool();
  post_spool(const post_spool&) = delete;
  post_spool& operator=(const post_spool&) = delete;
  /// Append one post (strings in the order urls, hashtags, mentions).
  void append(const spooled_post& p, const std::vector<std::string>& strings);
  /// Ends writing; readers may start.
  void seal();
  std::int64_t size() const { return count_; }
  /// Visit every post in order, in blocks of up to `block` posts. With strings=false the
  /// strings file is not read and `strs` is empty.
  void for_each_block(std::size_t block, bool strings,
                      const std::function<void(const std::vector<spooled_post>&,
                                               const std::vector<spooled_strings>&)>& fn) const;

 private:
  std::string rec_path_, str_path_;
  std::FILE* rec_ = nullptr;
  std::FILE* str_ = nullptr;
  std::int64_t count_ = 0;
};

}  // namespace chorus::ingest
