// chorus ingest (private): the accounts seen while reading, in first-appearance order.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace chorus::ingest {

/// One account as the read pass sees it.
struct account_entry {
  std::string key, handle;
  std::int64_t posts = 0, first = 0, last = 0;
};

/// Account keys -> rows in order of first appearance (deterministic for a given input).
class account_table {
 public:
  /// Row of `key` (added when new); counts the post at `time` and keeps the first handle.
  std::uint32_t add_post(const std::string& key, const std::string& handle, std::int64_t time);
  std::int64_t size() const { return static_cast<std::int64_t>(entries_.size()); }
  const std::vector<account_entry>& entries() const { return entries_; }

 private:
  std::unordered_map<std::string, std::uint32_t> rows_;
  std::vector<account_entry> entries_;
};

/// The accounts kept (>= min_posts posts), as ascending old rows, and old row -> new row (-1 for
/// dropped ones).
struct account_selection {
  std::vector<std::int64_t> keep;
  std::vector<std::int64_t> new_row;
};
account_selection select_accounts(const account_table& t, std::int64_t min_posts);

/// Ids of the kept accounts: numeric keys as numbers when every kept key is numeric, else
/// FNV-1a 64 of every key (string_ids true). Two keys with the same id are an input_error.
std::vector<std::int64_t> account_ids(const account_table& t, const account_selection& s,
                                      bool& string_ids);

}  // namespace chorus::ingest
