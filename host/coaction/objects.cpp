// chorus co-action: the objects of each view, read from /posts and indexed by (object, time).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"

namespace chorus::coaction {

namespace {

struct view_name {
  view_kind kind;
  const char* name;
};
constexpr view_name kViews[] = {
    {view_kind::repost, "co_repost"},   {view_kind::text, "co_text"},
    {view_kind::link, "co_link"},       {view_kind::reply, "co_reply"},
    {view_kind::hashtag, "co_hashtag"}, {view_kind::post, "co_post"},
    {view_kind::similar, "co_similar"},
};

}  // namespace

bool is_view_name(const std::string& name) {
  return std::any_of(std::begin(kViews), std::end(kViews),
                     [&](const view_name& v) { return name == v.name; });
}

view_kind parse_view(const std::string& name) {
  for (const view_name& v : kViews)
    if (name == v.name) return v.kind;
  // QUT's toolkit names its networks differently: point its users to chorus's names
  const std::pair<const char*, const char*> toolkit[] = {
      {"co_retweet", "co_repost"}, {"co_tweet", "co_text"}, {"co_similar_tweet", "co_similar"}};
  for (const auto& [theirs, ours] : toolkit)
    if (name == theirs)
      CHORUS_THROW(input_error, "unknown co-action view '", name, "': QUT's toolkit's ", theirs,
                   " is chorus's ", ours);
  CHORUS_THROW(input_error, "unknown co-action view '", name,
               "'; the co-action views are co_repost, co_text, co_link, co_reply, co_hashtag, "
               "co_post and co_similar");
}

const char* to_string(view_kind v) {
  for (const view_name& x : kViews)
    if (x.kind == v) return x.name;
  return "?";
}

std::string left_out_warning(const std::string& input) {
  h5::handle f = h5::open_read(input);
  std::int64_t below = 0, min_posts = 0;
  if (!h5::get_attr(f, "ingest_accounts_below_min_posts", below) || below <= 0) return {};
  h5::get_attr(f, "ingest_min_posts", min_posts);
  return std::to_string(below) + " accounts with fewer than " + std::to_string(min_posts) +
         " posts were left out when '" + input + "' was ingested (--min-posts " +
         std::to_string(min_posts) +
         "): their posts take part in no co-action view; ingest with "
         "--min-posts 1 to compare every account, as QUT's toolkit does";
}

post_columns read_post_columns(const std::string& input, view_kind v) {
  h5::handle f = h5::open_read(input);
  CHORUS_EXPECTS(h5::exists(f, "/posts/account"), "--view ", to_string(v), " needs the posts of '",
                 input, "' (/posts), which only inputs written by `chorus ingest` have");
  post_columns c;
  c.accounts =
      static_cast<std::int64_t>(h5::describe(h5::open_dataset(f, "/accounts/id")).dims.at(0));
  std::string norm;
  if (h5::get_attr(f, "ingest_normalize", norm)) c.norm = parse_normalisation(norm);
  auto ints = [&](const char* name) {
    return h5::read_all<std::int64_t>(h5::open_dataset(f, std::string("/posts/") + name));
  };
  c.account = ints("account");
  c.time = ints("time");
  c.id = ints("id");
  c.repost = ints("repost");
  if (v == view_kind::reply) c.reply = ints("reply");
  if (v == view_kind::text)
    c.text_hash = h5::read_all<std::uint64_t>(h5::open_dataset(f, "/posts/text_hash"));
  if (v == view_kind::link) {
    c.url_offsets = ints("urls_offsets");
    c.urls = h5::read_strings(h5::open_dataset(f, "/posts/urls"));
  }
  if (v == view_kind::hashtag) {
    c.tag_offsets = ints("hashtags_offsets");
    c.tags = h5::read_strings(h5::open_dataset(f, "/posts/hashtags"));
  }
  if (v == view_kind::similar) {
    CHORUS_EXPECTS(h5::exists(f, "/posts/tokens"),
                   "--view co_similar needs the posts' tokens "
                   "(/posts/tokens), which '",
                   input,
                   "' does not have: ingest it again with "
                   "this version of chorus");
    c.token_offsets = ints("tokens_offsets");
    c.tokens = h5::read_all<std::uint64_t>(h5::open_dataset(f, "/posts/tokens"));
  }
  const std::size_t p = c.account.size();
  CHORUS_EXPECTS(c.time.size() == p && c.id.size() == p && c.repost.size() == p &&
                     (c.reply.empty() || c.reply.size() == p) &&
                     (c.text_hash.empty() || c.text_hash.size() == p) &&
                     (c.url_offsets.empty() || c.url_offsets.size() == p + 1) &&
                     (c.tag_offsets.empty() || c.tag_offsets.size() == p + 1) &&
                     (c.token_offsets.empty() || c.token_offsets.size() == p + 1),
                 "'", input, "': the /posts datasets differ in length");
  for (std::size_t i = 0; i < p; ++i)
    CHORUS_EXPECTS(c.account[i] >= 0 && c.account[i] < c.accounts, "'", input, "': /posts/account[",
                   i, "] = ", c.account[i], " is not a row of /accounts/id");
  return c;
}

std::uint64_t memory_needed(const std::string& input, view_kind v, int threads) {
  h5::handle f = h5::open_read(input);
  auto rows = [&](const char* path) -> std::uint64_t {
    return h5::exists(f, path) ? h5::describe(h5::open_dataset(f, path)).dims.at(0) : 0;
  };
  const std::uint64_t n = rows("/accounts/id"), p = rows("/posts/account");
  std::uint64_t objects = p, strings = 0;  // occurrences (at most), string bytes
  if (v == view_kind::link) objects = rows("/posts/urls"), strings = 96 * objects;
  if (v == view_kind::hashtag) objects = rows("/posts/hashtags"), strings = 64 * objects;
  if (v == view_kind::similar) objects = rows("/posts/tokens");
  const std::uint64_t columns = p * (8 * 6 + 16) + objects * 8 + strings;
  const std::uint64_t index =
      objects * (32 + 32) + n * 16 + (v == view_kind::similar ? objects * 8 : 0);
  const std::uint64_t scratch = static_cast<std::uint64_t>(std::max(threads, 1)) * n * 16;
  return columns + index + scratch + (64ull << 20);
}

namespace {

struct occurrence {
  std::uint64_t key;
  std::int64_t time, post;
  std::uint32_t label;  // index into the labels collected (strings), or UINT32_MAX
};

std::string decimal(std::int64_t v) { return std::to_string(v); }

std::string hex(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The occurrences of one post for view `v` (strings the post holds go to `strings`).
void post_objects(const post_columns& c, view_kind v, std::size_t p, std::vector<occurrence>& out,
                  std::vector<std::string>& strings) {
  const bool repost = c.repost[p] >= 0;
  const std::int64_t t = c.time[p], row = static_cast<std::int64_t>(p);
  constexpr std::uint32_t none = UINT32_MAX;
  switch (v) {
    case view_kind::repost:
      if (repost) out.push_back({static_cast<std::uint64_t>(c.repost[p]), t, row, none});
      return;
    case view_kind::reply:
      if (!repost && c.reply[p] >= 0)
        out.push_back({static_cast<std::uint64_t>(c.reply[p]), t, row, none});
      return;
    case view_kind::text:
      // chorus's text key is 0 for a post with no text left; the toolkit compares even those
      if (!repost && (c.text_hash[p] != 0 || c.norm == normalisation::toolkit))
        out.push_back({c.text_hash[p], t, row, none});
      return;
    case view_kind::post:
      out.push_back({0, t, row, none});
      return;
    case view_kind::similar:  // build_index adds the prefix tokens
      return;
    case view_kind::link:
    case view_kind::hashtag: {
      if (repost) return;  // a repost's links and hashtags are the original's
      const bool link = v == view_kind::link;
      const auto& offs = link ? c.url_offsets : c.tag_offsets;
      const auto& vals = link ? c.urls : c.tags;
      for (std::int64_t k = offs[p]; k < offs[p + 1]; ++k) {
        std::string s = link && c.norm == normalisation::chorus
                            ? normalise_url(vals[static_cast<std::size_t>(k)])
                            : vals[static_cast<std::size_t>(k)];
        if (s.empty()) continue;
        out.push_back({object_key(s), t, row, static_cast<std::uint32_t>(strings.size())});
        strings.push_back(std::move(s));
      }
      return;
    }
  }
}

// co_similar's objects: of every post that is not a repost and has tokens, the first
// |S| - ceil(t |S|) + 1 tokens in the global order (fewest posts first, then hash). Two sets with
// Jaccard >= t share at least ceil(t |S|) tokens, so they share one of these (prefix filtering).
void prefix_objects(const post_columns& c, double t, std::vector<occurrence>& out) {
  std::vector<std::uint64_t> all;
  for (std::size_t p = 0; p < c.account.size(); ++p)
    if (c.repost[p] < 0)
      all.insert(all.end(), c.tokens.begin() + c.token_offsets[p],
                 c.tokens.begin() + c.token_offsets[p + 1]);
  std::sort(all.begin(), all.end());
  std::vector<std::uint64_t> vocab;
  std::vector<std::int64_t> df;
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (k == 0 || all[k] != all[k - 1]) vocab.push_back(all[k]), df.push_back(0);
    ++df.back();
  }
  std::vector<std::uint64_t>().swap(all);
  auto rank = [&](std::uint64_t tok) {
    const std::size_t at =
        static_cast<std::size_t>(std::lower_bound(vocab.begin(), vocab.end(), tok) - vocab.begin());
    return std::make_pair(df[at], tok);
  };
  std::vector<std::pair<std::pair<std::int64_t, std::uint64_t>, std::uint64_t>> set;
  for (std::size_t p = 0; p < c.account.size(); ++p) {
    const std::int64_t b = c.token_offsets[p], e = c.token_offsets[p + 1];
    if (c.repost[p] >= 0 || e == b) continue;
    set.clear();
    for (std::int64_t k = b; k < e; ++k) {
      const std::uint64_t tok = c.tokens[static_cast<std::size_t>(k)];
      set.push_back({rank(tok), tok});
    }
    std::sort(set.begin(), set.end());
    const auto n = static_cast<std::int64_t>(set.size());
    // the least overlap of a set with Jaccard >= t; rounded down when t |S| is an integer up to
    // floating-point error (a longer prefix is always safe)
    const auto overlap = static_cast<std::int64_t>(std::ceil(t * static_cast<double>(n) - 1e-9));
    const std::int64_t prefix = std::clamp<std::int64_t>(n - overlap + 1, 1, n);
    for (std::int64_t k = 0; k < prefix; ++k)
      out.push_back({set[static_cast<std::size_t>(k)].second, c.time[p],
                     static_cast<std::int64_t>(p), UINT32_MAX});
  }
}

bool occurrence_order(const occurrence& a, const occurrence& b) {
  if (a.key != b.key) return a.key < b.key;
  if (a.time != b.time) return a.time < b.time;
  return a.post < b.post;
}

}  // namespace

object_index build_index(const post_columns& c, view_kind v, int threads, double similarity) {
  CHORUS_EXPECTS(c.accounts < static_cast<std::int64_t>(UINT32_MAX),
                 "co-action views take at most 2^32 - 2 accounts, the input has ", c.accounts);
  (void)threads;
  std::vector<occurrence> occ;
  std::vector<std::string> strings;
  occ.reserve(c.account.size());
  for (std::size_t p = 0; p < c.account.size(); ++p) post_objects(c, v, p, occ, strings);
  if (v == view_kind::similar) {
    CHORUS_EXPECTS(similarity > 0 && similarity <= 1, "--similarity must lie in (0, 1], got ",
                   similarity);
    prefix_objects(c, similarity, occ);
  }
  std::sort(occ.begin(), occ.end(), occurrence_order);
  // a post holding the same object twice (a link given twice) occurs once
  occ.erase(std::unique(occ.begin(), occ.end(),
                        [](const occurrence& a, const occurrence& b) {
                          return a.key == b.key && a.post == b.post;
                        }),
            occ.end());
  object_index x;
  x.accounts = c.accounts;
  const std::size_t m = occ.size();
  x.time.resize(m), x.post.resize(m), x.account.resize(m), x.object.resize(m);
  for (std::size_t i = 0; i < m; ++i) {
    if (i == 0 || occ[i].key != occ[i - 1].key) {
      x.object_begin.push_back(static_cast<std::int64_t>(i));
      const std::int64_t key_as_id = static_cast<std::int64_t>(occ[i].key);
      x.label.push_back(occ[i].label != UINT32_MAX                          ? strings[occ[i].label]
                        : (v == view_kind::repost || v == view_kind::reply) ? decimal(key_as_id)
                        : v == view_kind::text                              ? hex(occ[i].key)
                                                                            : std::string());
    }
    x.time[i] = occ[i].time;
    x.post[i] = occ[i].post;
    x.account[i] = static_cast<std::uint32_t>(c.account[static_cast<std::size_t>(occ[i].post)]);
    x.object[i] = static_cast<std::uint32_t>(x.object_begin.size() - 1);
  }
  x.object_begin.push_back(static_cast<std::int64_t>(m));
  // occurrences by account, grouped by post (post rows ascending)
  x.account_begin.assign(static_cast<std::size_t>(c.accounts) + 1, 0);
  for (std::size_t i = 0; i < m; ++i) ++x.account_begin[x.account[i] + 1];
  for (std::size_t a = 0; a < static_cast<std::size_t>(c.accounts); ++a)
    x.account_begin[a + 1] += x.account_begin[a];
  x.by_account.resize(m);
  std::vector<std::int64_t> fill(x.account_begin.begin(), x.account_begin.end() - 1);
  for (std::size_t i = 0; i < m; ++i)
    x.by_account[static_cast<std::size_t>(fill[x.account[i]]++)] = static_cast<std::int64_t>(i);
  for (std::size_t a = 0; a < static_cast<std::size_t>(c.accounts); ++a)
    std::sort(x.by_account.begin() + x.account_begin[a],
              x.by_account.begin() + x.account_begin[a + 1], [&](std::int64_t i, std::int64_t j) {
                return x.post[static_cast<std::size_t>(i)] != x.post[static_cast<std::size_t>(j)]
                           ? x.post[static_cast<std::size_t>(i)] <
                                 x.post[static_cast<std::size_t>(j)]
                           : i < j;
              });
  std::int64_t used = 0;
  for (std::size_t a = 0; a < static_cast<std::size_t>(c.accounts); ++a)
    for (std::int64_t k = x.account_begin[a]; k < x.account_begin[a + 1]; ++k)
      if (k == x.account_begin[a] ||
          x.post[static_cast<std::size_t>(x.by_account[static_cast<std::size_t>(k)])] !=
              x.post[static_cast<std::size_t>(x.by_account[static_cast<std::size_t>(k - 1)])])
        ++used;
  x.posts_used = used;
  if (v == view_kind::similar) {
    x.similar = true;
    x.similarity = similarity;
    x.token_begin = c.token_offsets;
    x.tokens = c.tokens;
  }
  return x;
}

}  // namespace chorus::coaction
