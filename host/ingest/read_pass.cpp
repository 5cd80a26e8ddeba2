// chorus ingest (private): read_pass.hpp.
#include "read_pass.hpp"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <future>
#include <string_view>

#include "chorus/coaction/normalise.hpp"
#include "chorus/ingest/ingest.hpp"

namespace chorus::ingest {

namespace {

constexpr std::size_t kBatchPosts = 32768;

/// The post ids seen so far: an open-addressing set of 64-bit ids (16 bytes per post at most).
class id_set {
 public:
  /// True when `id` was new (and is now in the set).
  bool insert(std::uint64_t id) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const std::uint64_t key = id + 1;  // 0 marks an empty slot; ids are >= 0
    for (std::size_t i = mix(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == key) return false;
      if (slots_[i] == 0) {
        slots_[i] = key;
        ++size_;
        return true;
      }
    }
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ (x >> 33);
  }
  void grow() {
    std::vector<std::uint64_t> old = std::move(slots_);
    slots_.assign(std::max<std::size_t>(1024, old.size() * 2), 0);
    size_ = 0;
    for (std::uint64_t k : old)
      if (k) insert(k - 1);
  }
  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
};

/// The links written in a raw text (case kept): http://, https:// or www. up to white space,
/// without trailing punctuation.
void links_in_text(const std::string& text, std::vector<std::string>& out) {
  for (std::size_t at = 0; at < text.size() && out.size() < 1000;) {
    std::size_t h = text.find("http", at), w = text.find("www.", at);
    std::size_t start = std::min(h, w);
    if (start == std::string::npos) break;
    const bool word_start = start == 0 ||
                            std::isspace(static_cast<unsigned char>(text[start - 1])) ||
                            text[start - 1] == '(' || text[start - 1] == '"';
    const bool scheme =
        text.compare(start, 7, "http://") == 0 || text.compare(start, 8, "https://") == 0;
    std::size_t end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    while (end > start && std::strchr(".,;:!?)\"'", text[end - 1])) --end;
    if (word_start && (scheme || start == w) && end > start + 8)
      out.push_back(text.substr(start, end - start));
    at = std::max(end, start + 1);
  }
}

/// Drop the posts of `batch` whose id was seen before; returns how many.
std::int64_t drop_duplicates(std::vector<post>& batch, id_set& seen) {
  std::size_t out = 0;
  for (std::size_t p = 0; p < batch.size(); ++p) {
    const std::int64_t id = key_id(batch[p].id);
    if (id >= 0 && !seen.insert(static_cast<std::uint64_t>(id))) continue;
    if (out != p) std::swap(batch[out], batch[p]);
    ++out;
  }
  const auto dropped = static_cast<std::int64_t>(batch.size() - out);
  batch.resize(out);
  return dropped;
}

/// What the parallel step extracts from one post.
struct post_extract {
  std::uint64_t text_hash = 0;
  std::vector<std::string> tags;      ///< hashtags then mentions, without their sigils
  std::vector<std::string> links;     ///< URLs written in the text
  std::vector<std::uint64_t> tokens;  ///< distinct word and hashtag tokens, hashed, ascending
  std::uint16_t n_hashtags = 0, n_mentions = 0;
};

/// The features and extracts of posts [begin, end) of a batch (one worker's slice).
struct slice_out {
  std::vector<std::uint32_t> feats;
  std::vector<std::int64_t> sizes;
  std::vector<post_extract> extracts;
};

void extract_slice(const std::vector<post>& batch, std::size_t begin, std::size_t end,
                   const feature_config& cfg, bool features, bool toolkit, slice_out& out) {
  std::vector<std::string_view> tokens;
  out.feats.clear();
  out.sizes.assign(end - begin, 0);
  out.extracts.assign(end - begin, post_extract{});
  for (std::size_t p = begin; p < end; ++p) {
    const std::string norm = normalise_text(batch[p].text);
    tokens.clear();
    tokenize(norm, tokens);
    post_extract& x = out.extracts[p - begin];
    if (toolkit) {
      x.text_hash = coaction::object_key(coaction::toolkit_text(batch[p].text));
    } else {
      const std::string key = coaction::text_key_normalised(norm, tokens);
      x.text_hash = key.empty() ? 0 : coaction::object_key(key);
      if (batch[p].urls.empty()) links_in_text(batch[p].text, x.links);
    }
    for (std::string_view t : tokens) {  // co_similar's token sets
      const token_kind k = kind_of(t);
      if ((k == token_kind::word || k == token_kind::hashtag) && x.tokens.size() < 65535)
        x.tokens.push_back(coaction::object_key(t));
    }
    std::sort(x.tokens.begin(), x.tokens.end());
    x.tokens.erase(std::unique(x.tokens.begin(), x.tokens.end()), x.tokens.end());
    for (int pass = 0; pass < 2; ++pass)  // hashtags first, then mentions
      for (std::string_view t : tokens) {
        const token_kind k = kind_of(t);
        if ((pass == 0 && k != token_kind::hashtag) || (pass == 1 && k != token_kind::mention))
          continue;
        if (x.tags.size() >= 60000) break;
        x.tags.emplace_back(t.substr(1));
        (pass == 0 ? x.n_hashtags : x.n_mentions)++;
      }
    if (features) {
      const std::size_t before = out.feats.size();
      post_features(norm, tokens, cfg, out.feats);
      out.sizes[p - begin] = static_cast<std::int64_t>(out.feats.size() - before);
    }
  }
}

/// One batch: accounts (in order), features and extracts (in parallel), counts and spool.
void process_batch(std::vector<post>& batch, const feature_config& cfg, int threads,
                   read_sinks& sinks, std::vector<slice_out>& slices, id_set& seen) {
  sinks.duplicates += drop_duplicates(batch, seen);
  const std::size_t n = batch.size();
  if (n == 0) return;
  std::vector<std::uint32_t> rows(n);
  for (std::size_t p = 0; p < n; ++p)
    rows[p] = sinks.accounts.add_post(batch[p].account, batch[p].handle, batch[p].time);
  const std::size_t k = slices.size(), per = (n + k - 1) / k;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::size_t s = 0; s < k; ++s)
    extract_slice(batch, std::min(n, s * per), std::min(n, (s + 1) * per), cfg,
                  sinks.counts != nullptr, sinks.toolkit, slices[s]);
  if (sinks.counts) {
    std::vector<std::int64_t> offsets{0};
    std::vector<std::uint32_t> feats;
    for (const slice_out& s : slices) {
      feats.insert(feats.end(), s.feats.begin(), s.feats.end());
      for (std::int64_t c : s.sizes) offsets.push_back(offsets.back() + c);
    }
    sinks.counts->add_batch(rows, offsets, feats);
  }
  std::vector<std::string> strings;
  for (std::size_t p = 0; p < n; ++p) {
    const post& q = batch[p];
    const post_extract& x = slices[p / per].extracts[p % per];
    spooled_post r;
    r.account = rows[p];
    r.time = q.time;
    r.id = key_id(q.id);
    r.repost = key_id(q.repost);
    r.reply = key_id(q.reply);
    r.text_hash = x.text_hash;
    strings.clear();
    for (const std::string& u : q.urls)
      if (!u.empty() && strings.size() < 20000) strings.push_back(u);
    if (q.urls.empty())  // no links column or entities: the links written in the text
      for (const std::string& u : x.links)
        if (strings.size() < 20000) strings.push_back(u);
    r.n_urls = static_cast<std::uint16_t>(strings.size());
    r.n_hashtags = x.n_hashtags;
    r.n_mentions = x.n_mentions;
    strings.insert(strings.end(), x.tags.begin(), x.tags.end());
    r.n_tokens = static_cast<std::uint16_t>(x.tokens.size());
    if (r.n_tokens > 0)
      strings.emplace_back(reinterpret_cast<const char*>(x.tokens.data()),
                           x.tokens.size() * sizeof(std::uint64_t));
    sinks.spool.append(r, strings);
  }
}

}  // namespace

void read_all_posts(post_reader& reader, const feature_config& cfg, int threads, read_sinks& sinks,
                    const std::function<void(const char*, std::int64_t, std::int64_t)>& progress) {
  std::vector<slice_out> slices(static_cast<std::size_t>(std::max(1, threads)) * 4);
  std::vector<post> cur, next;
  id_set seen;
  bool more = reader.next(cur, kBatchPosts);
  while (more) {
    // the next batch is parsed while this one is processed
    auto ahead = std::async(std::launch::async, [&] { return reader.next(next, kBatchPosts); });
    try {
      process_batch(cur, cfg, threads, sinks, slices, seen);
      if (progress)
        progress("read", static_cast<std::int64_t>(reader.fraction_done() * 1000), 1000);
    } catch (...) {
      try {
        ahead.get();
      } catch (...) {
      }
      throw;
    }
    more = ahead.get();
    std::swap(cur, next);
  }
}

}  // namespace chorus::ingest
