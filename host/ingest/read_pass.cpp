// chorus ingest (private): read_pass.hpp.
#include "read_pass.hpp"

#include <omp.h>

#include <algorithm>
#include <future>
#include <string_view>

#include "chorus/ingest/ingest.hpp"

namespace chorus::ingest {

namespace {

constexpr std::size_t kBatchPosts = 32768;

/// What the parallel step extracts from one post.
struct post_extract {
  std::uint64_t text_hash = 0;
  std::vector<std::string> tags;  ///< hashtags then mentions, without their sigils
  std::uint16_t n_hashtags = 0, n_mentions = 0;
};

/// The features and extracts of posts [begin, end) of a batch (one worker's slice).
struct slice_out {
  std::vector<std::uint32_t> feats;
  std::vector<std::int64_t> sizes;
  std::vector<post_extract> extracts;
};

void extract_slice(const std::vector<post>& batch, std::size_t begin, std::size_t end,
                   const feature_config& cfg, bool features, slice_out& out) {
  std::vector<std::string_view> tokens;
  out.feats.clear();
  out.sizes.assign(end - begin, 0);
  out.extracts.assign(end - begin, post_extract{});
  for (std::size_t p = begin; p < end; ++p) {
    const std::string norm = normalise_text(batch[p].text);
    tokens.clear();
    tokenize(norm, tokens);
    post_extract& x = out.extracts[p - begin];
    x.text_hash = text_hash(norm);
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
void process_batch(const std::vector<post>& batch, const feature_config& cfg, int threads,
                   read_sinks& sinks, std::vector<slice_out>& slices) {
  const std::size_t n = batch.size();
  std::vector<std::uint32_t> rows(n);
  for (std::size_t p = 0; p < n; ++p)
    rows[p] = sinks.accounts.add_post(batch[p].account, batch[p].handle, batch[p].time);
  const std::size_t k = slices.size(), per = (n + k - 1) / k;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::size_t s = 0; s < k; ++s)
    extract_slice(batch, std::min(n, s * per), std::min(n, (s + 1) * per), cfg,
                  sinks.counts != nullptr, slices[s]);
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
    r.n_urls = static_cast<std::uint16_t>(strings.size());
    r.n_hashtags = x.n_hashtags;
    r.n_mentions = x.n_mentions;
    strings.insert(strings.end(), x.tags.begin(), x.tags.end());
    sinks.spool.append(r, strings);
  }
}

}  // namespace

void read_all_posts(post_reader& reader, const feature_config& cfg, int threads, read_sinks sinks,
                    const std::function<void(const char*, std::int64_t, std::int64_t)>& progress) {
  std::vector<slice_out> slices(static_cast<std::size_t>(std::max(1, threads)) * 4);
  std::vector<post> cur, next;
  bool more = reader.next(cur, kBatchPosts);
  while (more) {
    // the next batch is parsed while this one is processed
    auto ahead = std::async(std::launch::async, [&] { return reader.next(next, kBatchPosts); });
    try {
      process_batch(cur, cfg, threads, sinks, slices);
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
