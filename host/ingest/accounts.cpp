// chorus ingest (private): accounts.hpp.
#include "accounts.hpp"

#include <algorithm>
#include <limits>

#include "chorus/core/error.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/input.hpp"

namespace chorus::ingest {

std::uint32_t account_table::add_post(const std::string& key, const std::string& handle,
                                      std::int64_t time) {
  auto it = rows_.find(key);
  if (it == rows_.end()) {
    if (entries_.size() >= std::numeric_limits<std::uint32_t>::max())
      CHORUS_THROW(input_error, "ingest: more than 2^32 - 1 accounts");
    it = rows_.emplace(key, static_cast<std::uint32_t>(entries_.size())).first;
    entries_.push_back(account_entry{key, handle, 0, time, time});
  }
  account_entry& e = entries_[it->second];
  ++e.posts;
  e.first = std::min(e.first, time);
  e.last = std::max(e.last, time);
  if (e.handle.empty()) e.handle = handle;
  return it->second;
}

account_selection select_accounts(const account_table& t, std::int64_t min_posts) {
  account_selection s;
  s.new_row.assign(static_cast<std::size_t>(t.size()), -1);
  for (std::int64_t r = 0; r < t.size(); ++r)
    if (t.entries()[static_cast<std::size_t>(r)].posts >= min_posts) {
      s.new_row[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(s.keep.size());
      s.keep.push_back(r);
    }
  return s;
}

std::vector<std::int64_t> account_ids(const account_table& t, const account_selection& s,
                                      bool& string_ids) {
  string_ids = false;
  for (std::int64_t r : s.keep)
    if (!is_numeric_key(t.entries()[static_cast<std::size_t>(r)].key)) string_ids = true;
  std::vector<std::int64_t> ids;
  ids.reserve(s.keep.size());
  for (std::int64_t r : s.keep) {
    const std::string& k = t.entries()[static_cast<std::size_t>(r)].key;
    ids.push_back(string_ids ? account_id_of_string(k) : key_id(k));
  }
  // distinct keys map to distinct ids (numbers trivially; FNV-1a 64 almost surely): check
  std::vector<std::size_t> order(ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return ids[a] != ids[b] ? ids[a] < ids[b] : a < b;
  });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (ids[order[i]] == ids[order[i - 1]]) {
      const auto& a = t.entries()[static_cast<std::size_t>(s.keep[order[i - 1]])].key;
      const auto& b = t.entries()[static_cast<std::size_t>(s.keep[order[i]])].key;
      CHORUS_THROW(input_error, "ingest: account keys '", a, "' and '", b,
                   "' get the same derived id ", ids[order[i]],
                   " (FNV-1a 64 collision; rename one)");
    }
  return ids;
}

}  // namespace chorus::ingest
