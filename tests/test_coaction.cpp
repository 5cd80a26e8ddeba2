// Co-action views: normalisation against values worked out by hand (and with Python for the
// toolkit's preprocessor), the sweep and its evidence against a brute-force join over all pairs
// of posts written here from the definition (no chorus code computes the references).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "chorus/coaction/coaction.hpp"
#include "chorus/coaction/normalise.hpp"
#include "chorus/core/error.hpp"
#include "test_support.hpp"

namespace {

namespace co = chorus::coaction;

// ---- normalisation --------------------------------------------------------------------------

TEST(CoactionNormalise, UrlsAsTheReadmeSays) {
  const std::pair<const char*, const char*> cases[] = {
      {"HTTPS://Example.COM:443/Path?utm_source=x&a=1#frag", "https://example.com/Path?a=1"},
      {"http://www.example.com", "https://example.com/"},
      {"www.Example.com/a/", "https://example.com/a"},
      {"example.com/a?utm_medium=b", "https://example.com/a"},
      {"  http://example.com:80/a/b/?utm_campaign=z\t", "https://example.com/a/b"},
      {"ftp://Host:21/x", "ftp://host:21/x"},
      {"https://user@Host:8080/x?fbclid=1&b=2&UTM_Campaign=z&gclid=3",
       "https://user@host:8080/x?b=2"},
      {"https://example.com/?", "https://example.com/"},
      {"https://example.com/a?x=1&&y=2#", "https://example.com/a?x=1&y=2"},
      {"https://[::1]:443/x", "https://[::1]/x"},
      {"https://www./x", "https://www./x"},
      {"   ", ""},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(co::normalise_url(in), want) << in;
}

// Expected values from Python 3.11: " ".join(re.sub(r"@.*?(?=(?:\s|$))", "", t.lower()).split())
TEST(CoactionNormalise, ToolkitTextIsPythonsPreprocessor) {
  const std::pair<const char*, const char*> cases[] = {
      {"RT @Alice: Vote  EARLY\n\tnow @bob", "rt vote early now"},
      {"email@x.com is mine", "email is mine"},
      {"@only", ""},
      {"", ""},
      {"  Hello\xC2\xA0World  ", "hello world"},  // U+00A0 splits in Python
      {"\xC4\xB0stanbul", "i\xCC\x87stanbul"},    // U+0130 -> i + U+0307
      {"\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x99\xCE\x91", "\xCF\x83\xCE\xBF\xCF\x86\xCE\xB9\xCE\xB1"},
      {"a\x1c"
       "b",
       "a b"},  // U+001C is white space to str.split()
      {"#Tag, RT!", "#tag, rt!"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(co::toolkit_text(in), want) << in;
}

TEST(CoactionNormalise, ChorusTextKeyDropsMentionsAndLinks) {
  EXPECT_EQ(co::text_key("RT @Alice: Vote EARLY https://x.com/a  now!"), "rt : vote early now!");
  EXPECT_EQ(co::text_key("@bob https://t.co/x"), "");
  EXPECT_EQ(co::text_key("\xEF\xBC\xA8\xEF\xBD\x85llo   WORLD "), "hello world");  // NFKC, fold
  EXPECT_EQ(co::object_key(co::text_key("Hello world")), co::object_key("hello world"));
  EXPECT_NE(co::object_key("hello world"), co::object_key("hello worlds"));
}

TEST(CoactionNormalise, NamesRoundTripAndMistakesAreRefused) {
  for (const char* n : {"co_repost", "co_text", "co_link", "co_reply", "co_hashtag", "co_post"}) {
    EXPECT_TRUE(co::is_view_name(n));
    EXPECT_STREQ(co::to_string(co::parse_view(n)), n);
  }
  EXPECT_FALSE(co::is_view_name("co_retweet"));
  EXPECT_NE(chorus::test::message_of([] { co::parse_view("co_retweet"); }).find("co_repost"),
            std::string::npos);
  EXPECT_EQ(co::parse_normalisation("toolkit"), co::normalisation::toolkit);
  EXPECT_THROW(co::parse_normalisation("python"), chorus::input_error);
}

// ---- the sweep against a brute-force join ----------------------------------------------------

struct corpus {
  co::post_columns cols;
  std::vector<std::vector<std::string>> objects;  // per post, the reference's objects
};

// A random corpus of `accounts` accounts: posts at random times in a short span (so windows
// matter), reposts and replies of a few popular ids, texts from a few keys, 0-3 links and
// hashtags from small pools (some repeated within a post).
corpus random_corpus(co::view_kind v, std::int64_t accounts, std::int64_t posts, std::uint64_t seed,
                     int span = 600) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<std::uint64_t>(k)); };
  corpus c;
  auto& p = c.cols;
  p.accounts = accounts;
  p.url_offsets.push_back(0);
  p.tag_offsets.push_back(0);
  p.token_offsets.push_back(0);
  for (std::int64_t i = 0; i < posts; ++i) {
    p.account.push_back(pick(static_cast<int>(accounts)));
    p.time.push_back(1000 + pick(span));
    p.id.push_back(5000 + i);
    const bool repost = pick(3) == 0;
    p.repost.push_back(repost ? 100 + pick(4) : -1);
    p.reply.push_back(pick(2) == 0 ? 200 + pick(3) : -1);
    const int text = pick(6);  // text 0 is "no text left" (key 0)
    p.text_hash.push_back(text == 0 ? 0 : 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(text));
    const int nu = pick(4), nt = pick(4);
    for (int k = 0; k < nu; ++k)
      p.urls.push_back("https://s" + std::to_string(pick(5)) + ".example/a");
    for (int k = 0; k < nt; ++k) p.tags.push_back("tag" + std::to_string(pick(4)));
    p.url_offsets.push_back(static_cast<std::int64_t>(p.urls.size()));
    p.tag_offsets.push_back(static_cast<std::int64_t>(p.tags.size()));
    // tokens: one of 4 templates of 6 words (of 30), 0-2 edits, sometimes none at all
    std::set<std::uint64_t> words;
    if (pick(10) != 0) {
      const int tpl = pick(4);
      for (int k = 0; k < 6; ++k) words.insert(static_cast<std::uint64_t>(tpl * 6 + k));
      for (int e = pick(3); e > 0; --e) {
        words.erase(static_cast<std::uint64_t>(tpl * 6 + pick(6)));
        words.insert(static_cast<std::uint64_t>(pick(30)));
      }
    }
    for (const std::uint64_t w : words) p.tokens.push_back(w * 0x9E3779B97F4A7C15ULL + 7);
    std::sort(p.tokens.begin() + p.token_offsets.back(), p.tokens.end());
    p.token_offsets.push_back(static_cast<std::int64_t>(p.tokens.size()));
    // the reference's objects, from the view's definition
    std::vector<std::string> obj;
    const std::size_t s = static_cast<std::size_t>(i);
    switch (v) {
      case co::view_kind::repost:
        if (repost) obj.push_back("r" + std::to_string(p.repost[s]));
        break;
      case co::view_kind::reply:
        if (!repost && p.reply[s] >= 0) obj.push_back("p" + std::to_string(p.reply[s]));
        break;
      case co::view_kind::text:
        if (!repost && text != 0) obj.push_back("t" + std::to_string(text));
        break;
      case co::view_kind::post:
        obj.push_back("all");
        break;
      case co::view_kind::link:
        for (std::int64_t k = p.url_offsets[s]; !repost && k < p.url_offsets[s + 1]; ++k)
          obj.push_back(p.urls[static_cast<std::size_t>(k)]);
        break;
      case co::view_kind::hashtag:
        for (std::int64_t k = p.tag_offsets[s]; !repost && k < p.tag_offsets[s + 1]; ++k)
          obj.push_back(p.tags[static_cast<std::size_t>(k)]);
        break;
      case co::view_kind::similar:  // the reference compares token sets (similar_posts)
        break;
    }
    c.objects.push_back(obj);
  }
  return c;
}

bool share(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  return false;
}

// co_similar's match, from the definition: neither is a repost, and the Jaccard similarity of
// their token sets (as sets, by brute force) is at least t.
bool similar_posts(const co::post_columns& p, std::size_t i, std::size_t j, double t) {
  if (p.repost[i] >= 0 || p.repost[j] >= 0) return false;
  const std::set<std::uint64_t> a(p.tokens.begin() + p.token_offsets[i],
                                  p.tokens.begin() + p.token_offsets[i + 1]);
  const std::set<std::uint64_t> b(p.tokens.begin() + p.token_offsets[j],
                                  p.tokens.begin() + p.token_offsets[j + 1]);
  if (a.empty() || b.empty()) return false;
  std::size_t both = 0;
  for (const auto x : a) both += b.count(x);
  return static_cast<double>(both) / static_cast<double>(a.size() + b.size() - both) >= t;
}

// w(u->v) for every ordered pair, from the definition (similarity > 0: co_similar's match).
std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> brute_weights(const corpus& c,
                                                                            std::int64_t window,
                                                                            double similarity = 0) {
  const auto& p = c.cols;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> w;
  const std::size_t n = p.account.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::set<std::int64_t> partners;  // accounts this post of u matches
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i || p.account[j] == p.account[i]) continue;
      if (std::llabs(p.time[i] - p.time[j]) > window) continue;
      if (similarity > 0 ? similar_posts(p, i, j, similarity) : share(c.objects[i], c.objects[j]))
        partners.insert(p.account[j]);
    }
    for (const std::int64_t v : partners) ++w[{p.account[i], v}];
  }
  return w;
}

struct sweep_case {
  co::view_kind view;
  std::int64_t accounts, posts, window, min_weight;
  int threads;
  std::uint64_t seed;
  double similarity = 0;  // co_similar
};

std::string name_of(const sweep_case& s) {
  return std::string(co::to_string(s.view)) + "_n" + std::to_string(s.accounts) + "_p" +
         std::to_string(s.posts) + "_w" + std::to_string(s.window) + "_m" +
         std::to_string(s.min_weight) + "_t" + std::to_string(s.threads) + "_s" +
         std::to_string(s.seed) +
         (s.similarity > 0 ? "_j" + std::to_string(static_cast<int>(s.similarity * 100)) : "");
}

class CoactionSweep : public ::testing::TestWithParam<sweep_case> {};

TEST_P(CoactionSweep, EdgesAndBothDirectedWeightsEqualTheBruteForceJoin) {
  const sweep_case sc = GetParam();
  // same-second co-actions need a dense corpus
  const corpus c =
      random_corpus(sc.view, sc.accounts, sc.posts, sc.seed, sc.window == 0 ? 30 : 600);
  const auto w = brute_weights(c, sc.window, sc.similarity);
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> want;
  std::int64_t rows = 0;
  for (const auto& [uv, x] : w) {
    if (x >= sc.min_weight) ++rows;
    const auto [u, v] = uv;
    if (u > v) continue;
    const auto back = w.find({v, u});
    const std::int64_t y = back == w.end() ? 0 : back->second;
    if (std::max(x, y) >= sc.min_weight) want[{u, v}] = {x, y};
  }
  for (const auto& [uv, y] : w)  // pairs with only v->u matching
    if (uv.first > uv.second && !w.count({uv.second, uv.first}) && y >= sc.min_weight)
      want[{uv.second, uv.first}] = {0, y};
  const co::object_index x =
      co::build_index(c.cols, sc.view, sc.threads, sc.similarity > 0 ? sc.similarity : 0.9);
  co::sweep_options o;
  o.window = sc.window;
  o.min_weight = sc.min_weight;
  o.threads = sc.threads;
  const co::coaction_edges e = co::sweep(x, o);
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> got;
  for (std::size_t k = 0; k < e.src.size(); ++k) {
    EXPECT_LT(e.src[k], e.dst[k]);
    if (k > 0)
      EXPECT_TRUE(std::make_pair(e.src[k - 1], e.dst[k - 1]) < std::make_pair(e.src[k], e.dst[k]));
    got[{e.src[k], e.dst[k]}] = {e.weight_src_dst[k], e.weight_dst_src[k]};
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(e.directed_rows, rows);
  EXPECT_GT(want.size(), 0u) << "the case should have edges";
}

std::vector<sweep_case> sweep_cases() {
  std::vector<sweep_case> v;
  const co::view_kind views[] = {co::view_kind::repost,  co::view_kind::text,
                                 co::view_kind::link,    co::view_kind::reply,
                                 co::view_kind::hashtag, co::view_kind::post};
  std::uint64_t seed = 1;
  for (const co::view_kind view : views)
    for (const std::int64_t window : {0, 15, 120})
      for (const std::int64_t m : {1, 2})
        v.push_back({view, 12, view == co::view_kind::post ? 150 : 400, window, m,
                     static_cast<int>(1 + seed % 2), seed++});
  for (const double t : {0.5, 0.6, 5.0 / 7.0, 0.8, 1.0})  // 5/7: |S| = 7 rounds at the edge
    for (const std::int64_t window : {0, 60})
      v.push_back({co::view_kind::similar, 12, 300, window, 1 + static_cast<std::int64_t>(seed % 2),
                   static_cast<int>(1 + seed % 2), seed++, t});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Views, CoactionSweep, ::testing::ValuesIn(sweep_cases()),
                         [](const auto& info) { return name_of(info.param); });

TEST(CoactionSweep, SameResultForAnyThreadCount) {
  const corpus c = random_corpus(co::view_kind::link, 40, 3000, 99);
  const co::object_index x = co::build_index(c.cols, co::view_kind::link);
  co::sweep_options o;
  o.window = 30;
  o.threads = 1;
  const co::coaction_edges a = co::sweep(x, o);
  o.threads = 3;
  const co::coaction_edges b = co::sweep(x, o);
  EXPECT_EQ(a.src, b.src);
  EXPECT_EQ(a.dst, b.dst);
  EXPECT_EQ(a.weight_src_dst, b.weight_src_dst);
  EXPECT_EQ(a.weight_dst_src, b.weight_dst_src);
}

TEST(CoactionSweep, MaxEdgesAndBadOptionsAreRefused) {
  const corpus c = random_corpus(co::view_kind::post, 12, 150, 5);
  const co::object_index x = co::build_index(c.cols, co::view_kind::post);
  co::sweep_options o;
  o.max_edges = 3;
  EXPECT_THROW(co::sweep(x, o), chorus::limit_error);
  o.max_edges = 0;
  o.window = -1;
  EXPECT_THROW(co::sweep(x, o), chorus::input_error);
  o.window = 10;
  o.min_weight = 0;
  EXPECT_THROW(co::sweep(x, o), chorus::input_error);
}

// ---- evidence against the brute-force pairs ---------------------------------------------------

TEST(CoactionEvidence, PairsCountedAndTheEarliestKept) {
  for (const co::view_kind view : {co::view_kind::repost, co::view_kind::link}) {
    const corpus c = random_corpus(view, 10, 300, 21);
    const co::object_index x = co::build_index(c.cols, view);
    co::sweep_options o;
    o.window = 40;
    o.evidence_cap = 3;
    const co::coaction_edges e = co::sweep(x, o);
    const co::coaction_evidence ev = co::collect_evidence(x, e, o);
    ASSERT_EQ(ev.edge_offsets.size(), e.src.size() + 1);
    const auto& p = c.cols;
    for (std::size_t k = 0; k < e.src.size(); ++k) {
      // rows (time_src, time_dst, post_src, post_dst, object label) from the definition
      std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::string>>
          all;
      for (std::size_t i = 0; i < p.account.size(); ++i) {
        if (p.account[i] != e.src[k]) continue;
        for (std::size_t j = 0; j < p.account.size(); ++j) {
          if (p.account[j] != e.dst[k] || std::llabs(p.time[i] - p.time[j]) > o.window) continue;
          std::set<std::string> a(c.objects[i].begin(), c.objects[i].end());
          for (const auto& ob : std::set<std::string>(c.objects[j].begin(), c.objects[j].end()))
            if (a.count(ob)) all.emplace_back(p.time[i], p.time[j], i, j, ob);
        }
      }
      EXPECT_EQ(ev.pairs[k], static_cast<std::int64_t>(all.size()));
      std::sort(all.begin(), all.end());
      const std::int64_t b = ev.edge_offsets[k], n = ev.edge_offsets[k + 1] - b;
      ASSERT_EQ(n, std::min<std::int64_t>(3, static_cast<std::int64_t>(all.size())));
      for (std::int64_t r = 0; r < n; ++r) {
        const std::size_t at = static_cast<std::size_t>(b + r);
        EXPECT_EQ(ev.time_src[at], std::get<0>(all[static_cast<std::size_t>(r)]));
        EXPECT_EQ(ev.time_dst[at], std::get<1>(all[static_cast<std::size_t>(r)]));
        EXPECT_EQ(ev.post_src[at], std::get<2>(all[static_cast<std::size_t>(r)]));
        EXPECT_EQ(ev.post_dst[at], std::get<3>(all[static_cast<std::size_t>(r)]));
      }
    }
  }
}

}  // namespace
