// Tests of the synthetic posts corpus (chorus/generate/posts.hpp). The files are checked with a
// CSV parser, zlib and zstd written or called here, never with chorus' own readers.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/generate/posts.hpp"

namespace fs = std::filesystem;
using chorus::generate_posts;
using chorus::posts_options;
using chorus::posts_summary;

namespace {

using record = std::vector<std::string>;

const char kHeader[] = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// RFC 4180 reader: fields split by commas, records by LF or CRLF outside quotes, quoted fields
/// with doubled quotes. Fails the test on a malformed file.
std::vector<record> parse_csv(const std::string& s) {
  std::vector<record> out;
  record rec;
  std::size_t i = 0;
  while (i < s.size()) {
    std::string f;
    if (s[i] == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) {
          ADD_FAILURE() << "unterminated quoted field";
          return out;
        }
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            f += '"';
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          f += s[i];
        }
      }
    } else {
      while (i < s.size() && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
        if (s[i] == '"') ADD_FAILURE() << "quote inside an unquoted field at byte " << i;
        f += s[i++];
      }
    }
    rec.push_back(std::move(f));
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    if (i < s.size() && s[i] == '\r') ++i;
    if (i >= s.size() || s[i] != '\n') {
      ADD_FAILURE() << "record does not end with a line break at byte " << i;
      return out;
    }
    ++i;
    out.push_back(std::move(rec));
    rec.clear();
  }
  return out;
}

/// Minimal RFC 4180 writer: quote a field only when it holds a comma, quote, CR or LF.
std::string write_csv(const std::vector<record>& rows) {
  std::string out;
  for (const record& r : rows) {
    for (std::size_t k = 0; k < r.size(); ++k) {
      if (k) out += ',';
      if (r[k].find_first_of(",\"\r\n") == std::string::npos) {
        out += r[k];
      } else {
        out += '"';
        for (char c : r[k]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
        out += '"';
      }
    }
    out += '\n';
  }
  return out;
}

std::string gunzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  std::string out;
  std::vector<char> buf(1 << 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int r = Z_OK;
  while (r == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    r = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  EXPECT_EQ(r, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&z);
  return out;
}

std::string unzstd(const std::string& in) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  std::string out;
  std::vector<char> buf(ZSTD_DStreamOutSize());
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::size_t r = 0;
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    r = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(r)) {
      ADD_FAILURE() << ZSTD_getErrorName(r);
      break;
    }
    out.append(buf.data(), ob.pos);
  }
  EXPECT_EQ(r, 0u) << "truncated zstd frame";
  ZSTD_freeDCtx(d);
  return out;
}

/// A fresh directory per test.
class GeneratePosts : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("chorus_genposts_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  static posts_options small(const std::string& out, std::uint64_t seed = 5) {
    posts_options o;
    o.accounts = 2000;
    o.posts_per_account = 10;
    o.campaigns = 4;
    o.seed = seed;
    o.out = out;
    return o;
  }
  fs::path dir_;
};

/// One corpus shared by the content checks (4000 accounts, 8 campaigns, 14 days).
struct corpus {
  posts_summary sum;
  std::string text;
  std::vector<record> posts, truth;
  std::map<std::string, std::pair<int, int>> role;  // user_id -> (cluster, kind)
};

const corpus& shared_corpus() {
  static const corpus c = [] {
    corpus k;
    const fs::path dir =
        fs::temp_directory_path() / ("chorus_genposts_" + std::to_string(::getpid()) + "_shared");
    fs::create_directories(dir);
    posts_options o;
    o.accounts = 4000;
    o.campaigns = 8;
    o.seed = 11;
    o.out = (dir / "posts.csv").string();
    o.force = true;
    k.sum = generate_posts(o);
    k.text = slurp(o.out);
    k.posts = parse_csv(k.text);
    k.truth = parse_csv(slurp((dir / "posts.truth.csv").string()));
    for (std::size_t i = 1; i < k.truth.size(); ++i)
      k.role[k.truth[i][0]] = {std::stoi(k.truth[i][2]), std::stoi(k.truth[i][3])};
    fs::remove_all(dir);
    return k;
  }();
  return c;
}

TEST_F(GeneratePosts, SameSeedIsByteIdenticalAtOneAndThreeThreads) {
  // 100 posts per account: blocks of 1310 accounts, so several blocks are written
  posts_options a = small(path("a.csv")), b = small(path("b.csv")), c = small(path("c.csv"), 6);
  for (posts_options* o : {&a, &b, &c}) o->posts_per_account = 100;
  a.threads = 1;
  b.threads = 3;
  c.threads = 3;
  const posts_summary sa = generate_posts(a), sb = generate_posts(b);
  generate_posts(c);
  EXPECT_GT(sa.posts, 150000);
  EXPECT_EQ(sa.posts, sb.posts);
  EXPECT_EQ(sa.bytes, static_cast<std::int64_t>(fs::file_size(a.out)));
  const std::string pa = slurp(a.out);
  EXPECT_TRUE(pa == slurp(b.out));
  EXPECT_EQ(slurp(path("a.truth.csv")), slurp(path("b.truth.csv")));
  EXPECT_FALSE(pa == slurp(c.out));
  EXPECT_NE(slurp(path("a.truth.csv")), slurp(path("c.truth.csv")));
}

TEST_F(GeneratePosts, HeaderAndQuotingRoundTripThroughAnIndependentParser) {
  const corpus& c = shared_corpus();
  ASSERT_GT(c.posts.size(), 50000u);
  EXPECT_EQ(c.text.substr(0, c.text.find('\n')), kHeader);
  EXPECT_EQ(write_csv(c.posts), c.text);  // quoted exactly where needed, quotes doubled
  std::int64_t commas = 0, quotes = 0, lf = 0, cr = 0, reposts = 0, replies = 0;
  std::set<std::string> ids;
  for (std::size_t i = 1; i < c.posts.size(); ++i) {
    const record& r = c.posts[i];
    ASSERT_EQ(r.size(), 8u) << "record " << i;
    EXPECT_TRUE(ids.insert(r[0]).second) << "duplicate message_id " << r[0];
    for (int f : {0, 1, 6}) {
      ASSERT_FALSE(r[f].empty());
      EXPECT_EQ(r[f].find_first_not_of("0123456789"), std::string::npos) << r[f];
    }
    EXPECT_EQ(r[2].find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"
                                     "456789_"),
              std::string::npos)
        << r[2];
    commas += r[5].find(',') != std::string::npos;
    quotes += r[5].find('"') != std::string::npos;
    lf += r[5].find('\n') != std::string::npos;
    cr += r[5].find('\r') != std::string::npos;
    reposts += !r[3].empty();
    replies += !r[4].empty();
  }
  EXPECT_EQ(static_cast<std::int64_t>(ids.size()), c.sum.posts);
  EXPECT_GT(commas, 1000);
  EXPECT_GT(quotes, 100);
  EXPECT_GT(lf, 1000);
  EXPECT_GT(cr, 10);
  EXPECT_GT(reposts, c.sum.posts / 10);
  EXPECT_GT(replies, c.sum.posts / 100);
}

TEST_F(GeneratePosts, RepostsAndRepliesPointToPostsInTheCorpus) {
  const corpus& c = shared_corpus();
  std::map<std::string, std::pair<std::string, std::string>> by_id;  // id -> (message, urls)
  for (std::size_t i = 1; i < c.posts.size(); ++i)
    by_id[c.posts[i][0]] = {c.posts[i][5], c.posts[i][7]};
  for (std::size_t i = 1; i < c.posts.size(); ++i) {
    const record& r = c.posts[i];
    if (!r[3].empty()) {
      const auto it = by_id.find(r[3]);
      ASSERT_NE(it, by_id.end()) << "repost of a missing post " << r[3];
      EXPECT_EQ(it->second.first, r[5]) << "a repost carries the original's text";
      EXPECT_EQ(it->second.second, r[7]);
    }
    if (!r[4].empty()) {
      ASSERT_NE(by_id.find(r[4]), by_id.end()) << "reply to a missing post " << r[4];
      EXPECT_EQ(r[5][0], '@');
    }
  }
}

TEST_F(GeneratePosts, TruthListsEveryAccountOnceWithKindsAndCampaignSizes) {
  const corpus& c = shared_corpus();
  ASSERT_EQ(c.truth[0], (record{"user_id", "username", "cluster", "kind"}));
  ASSERT_EQ(static_cast<std::int64_t>(c.truth.size()) - 1, c.sum.accounts);
  EXPECT_EQ(c.role.size(), c.truth.size() - 1) << "user ids are unique";
  std::set<std::string> names;
  std::map<int, std::int64_t> kinds, clusters;
  for (std::size_t i = 1; i < c.truth.size(); ++i) {
    const int cluster = std::stoi(c.truth[i][2]), kind = std::stoi(c.truth[i][3]);
    names.insert(c.truth[i][1]);
    ++kinds[kind];
    EXPECT_EQ(cluster >= 0, kind == 1) << "cluster is set for coordinated accounts only";
    if (kind == 1) ++clusters[cluster];
  }
  EXPECT_EQ(names.size(), c.truth.size() - 1) << "usernames are unique";
  EXPECT_EQ(kinds[1], c.sum.coordinated);
  EXPECT_EQ(kinds[2], c.sum.fans);
  EXPECT_EQ(kinds[3], c.sum.news_bots);
  EXPECT_EQ(kinds[0], c.sum.accounts - c.sum.coordinated - c.sum.fans - c.sum.news_bots);
  EXPECT_EQ(kinds[2], 120);  // 3% of 4000
  EXPECT_EQ(kinds[3], 20);   // 0.5%
  ASSERT_EQ(c.sum.campaign_sizes.size(), 8u);
  std::int64_t total = 0;
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(clusters[k], c.sum.campaign_sizes[k]);
    EXPECT_GE(c.sum.campaign_sizes[k], 10);
    EXPECT_LE(c.sum.campaign_sizes[k], 80);
    total += c.sum.campaign_sizes[k];
  }
  EXPECT_EQ(total, c.sum.coordinated);
  const auto [lo, hi] =
      std::minmax_element(c.sum.campaign_sizes.begin(), c.sum.campaign_sizes.end());
  EXPECT_GE(*hi, 2 * *lo) << "sizes are varied";
  // every account posted, under its truth username
  std::map<std::string, std::string> seen;
  for (std::size_t i = 1; i < c.posts.size(); ++i) seen[c.posts[i][1]] = c.posts[i][2];
  EXPECT_EQ(seen.size(), c.role.size());
  for (std::size_t i = 1; i < c.truth.size(); ++i) EXPECT_EQ(seen[c.truth[i][0]], c.truth[i][1]);
}

TEST_F(GeneratePosts, ReadPostsTruthMatchesTheFile) {
  const posts_options o = small(path("p.csv.gz"));
  generate_posts(o);
  const std::vector<record> t = parse_csv(slurp(path("p.truth.csv")));
  const auto rows = chorus::read_posts_truth(path("p.truth.csv"));
  ASSERT_EQ(rows.size() + 1, t.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::to_string(rows[i].user_id), t[i + 1][0]);
    EXPECT_EQ(rows[i].username, t[i + 1][1]);
    EXPECT_EQ(std::to_string(rows[i].cluster), t[i + 1][2]);
    EXPECT_EQ(std::to_string(static_cast<int>(rows[i].kind)), t[i + 1][3]);
  }
  EXPECT_THROW(chorus::read_posts_truth(path("p.csv.gz")), chorus::input_error);
  EXPECT_THROW(chorus::read_posts_truth(path("missing.csv")), chorus::input_error);
}

TEST_F(GeneratePosts, CampaignBurstsPutMostMembersWithinFiveMinutes) {
  const corpus& c = shared_corpus();
  std::map<int, std::vector<std::pair<std::int64_t, std::string>>> posts;  // cluster -> (t, user)
  std::map<int, std::vector<std::string>> messages;
  for (std::size_t i = 1; i < c.posts.size(); ++i) {
    const auto [cluster, kind] = c.role.at(c.posts[i][1]);
    if (kind != 1) continue;
    posts[cluster].push_back({std::stoll(c.posts[i][6]), c.posts[i][1]});
    messages[cluster].push_back(c.posts[i][5]);
  }
  ASSERT_EQ(posts.size(), 8u);
  for (auto& [cluster, v] : posts) {
    const double size = static_cast<double>(c.sum.campaign_sizes[cluster]);
    std::sort(v.begin(), v.end());
    // greedy: a 5-minute window from a post holding at least half the members is a burst
    int bursts = 0;
    std::size_t inside = 0;
    for (std::size_t i = 0; i < v.size();) {
      std::set<std::string> users;
      std::size_t j = i;
      while (j < v.size() && v[j].first <= v[i].first + 300) users.insert(v[j++].second);
      if (users.size() >= size / 2) {
        ++bursts;
        inside += j - i;
        i = j;
      } else {
        ++i;
      }
    }
    EXPECT_GE(bursts, 15) << "campaign " << cluster;
    EXPECT_LE(bursts, 40) << "campaign " << cluster;
    EXPECT_GE(static_cast<double>(inside), 0.7 * static_cast<double>(v.size()))
        << "campaign " << cluster << ": its members' posting is dominated by the bursts";
    // content: one hashtag in most of the members' posts
    std::map<std::string, int> tags;
    for (const std::string& m : messages[cluster]) {
      std::set<std::string> mine;
      std::istringstream in(m);
      for (std::string w; in >> w;)
        if (w[0] == '#') mine.insert(w);
      for (const auto& t : mine) ++tags[t];
    }
    int best = 0;
    for (const auto& [t, n] : tags) best = std::max(best, n);
    EXPECT_GE(best, 0.7 * static_cast<double>(v.size())) << "campaign " << cluster;
  }
}

TEST_F(GeneratePosts, FanRepostsAreSpreadOverHoursAndNewsBotsPostOnTheHour) {
  const corpus& c = shared_corpus();
  std::map<std::string, std::vector<std::int64_t>> fan_reposts;  // original -> repost times
  std::int64_t bot_posts = 0;
  for (std::size_t i = 1; i < c.posts.size(); ++i) {
    const int kind = c.role.at(c.posts[i][1]).second;
    const std::int64_t t = std::stoll(c.posts[i][6]);
    if (kind == 2 && !c.posts[i][3].empty()) fan_reposts[c.posts[i][3]].push_back(t);
    if (kind == 3) {
      ++bot_posts;
      const std::int64_t s = (t - 1772323200) % 1800;
      EXPECT_LT(s, 15) << "a news bot posts at minute 0 or 30, within seconds";
    }
  }
  EXPECT_GT(bot_posts, 20 * 24);
  int groups = 0, spread = 0;
  // originals reposted by 8 or more fans: the fan clubs' celebrities (fans also make ordinary
  // reposts, some within minutes, of popular posts; those are rarely shared by 8 fans)
  for (auto& [id, v] : fan_reposts) {
    if (v.size() < 8) continue;
    ++groups;
    std::sort(v.begin(), v.end());
    double mean = 0, var = 0;
    for (auto t : v) mean += static_cast<double>(t) / static_cast<double>(v.size());
    for (auto t : v) var += (t - mean) * (t - mean) / static_cast<double>(v.size());
    spread += std::sqrt(var) > 3600.0;
    std::size_t densest = 0;  // most reposts in any 5-minute window
    for (std::size_t i = 0, j = 0; i < v.size(); ++i) {
      while (v[j] + 300 < v[i]) ++j;
      densest = std::max(densest, i - j + 1);
    }
    EXPECT_LT(densest * 2, v.size()) << "fans of post " << id << " repost within 5 minutes";
  }
  EXPECT_GT(groups, 20);
  EXPECT_GE(spread, groups * 3 / 4) << "most fan-repost groups spread over more than an hour";
}

TEST_F(GeneratePosts, AllTimesAreInsideThePeriod) {
  for (int days : {1, 3}) {
    posts_options o = small(path("d" + std::to_string(days) + ".csv"));
    o.days = days;
    o.start_time = 1700000000;
    o.campaigns = 3;
    const posts_summary s = generate_posts(o);
    const std::vector<record> rows = parse_csv(slurp(o.out));
    ASSERT_EQ(static_cast<std::int64_t>(rows.size()) - 1, s.posts);
    std::int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (std::size_t i = 1; i < rows.size(); ++i) {
      const std::int64_t t = std::stoll(rows[i][6]);
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
    EXPECT_GE(lo, o.start_time);
    EXPECT_LT(hi, o.start_time + days * 86400);
    EXPECT_LT(lo, o.start_time + 3600);  // and they fill it
    EXPECT_GE(hi, o.start_time + days * 86400 - 3600);
  }
}

TEST_F(GeneratePosts, GzipAndZstdDecompressToThePlainBytes) {
  posts_options plain = small(path("p.csv")), gz = small(path("p.csv.gz")),
                zst = small(path("p.csv.zst")), gz3 = small(path("q.csv.gz"));
  gz.truth_out = path("gz_truth.csv.gz");
  zst.truth_out = path("zst_truth.csv");
  gz.threads = 1;
  gz3.threads = 3;
  gz3.truth_out = path("gz3_truth.csv");
  for (posts_options* o : {&plain, &gz, &zst, &gz3}) o->posts_per_account = 70;  // 2 blocks
  const posts_summary sp = generate_posts(plain), sg = generate_posts(gz);
  const posts_summary sz = generate_posts(zst);
  generate_posts(gz3);
  const std::string bytes = slurp(plain.out);
  ASSERT_GT(bytes.size(), 3u << 20);  // several compression pieces
  const std::string g = slurp(gz.out), z = slurp(zst.out);
  EXPECT_EQ(sg.bytes, static_cast<std::int64_t>(g.size()));
  EXPECT_EQ(sz.bytes, static_cast<std::int64_t>(z.size()));
  EXPECT_LT(g.size() * 2, bytes.size());
  EXPECT_LT(z.size() * 2, bytes.size());
  EXPECT_TRUE(gunzip(g) == bytes);
  EXPECT_TRUE(unzstd(z) == bytes);
  EXPECT_TRUE(g == slurp(gz3.out)) << "gzip output does not depend on the thread count";
  EXPECT_EQ(sp.posts, sg.posts);
  EXPECT_EQ(gunzip(slurp(gz.truth_out)), slurp(path("p.truth.csv")));
  EXPECT_EQ(slurp(zst.truth_out), slurp(path("p.truth.csv")));
}

TEST_F(GeneratePosts, ExistingOutputWithoutForceIsAnInputErrorAndNothingIsWritten) {
  { std::ofstream(path("p.csv")) << "keep"; }
  posts_options o = small(path("p.csv"));
  EXPECT_THROW(generate_posts(o), chorus::input_error);
  EXPECT_EQ(files(), (std::vector<std::string>{"p.csv"}));
  EXPECT_EQ(slurp(path("p.csv")), "keep");

  // the truth file alone exists
  fs::remove(path("p.csv"));
  { std::ofstream(path("p.truth.csv")) << "keep"; }
  EXPECT_THROW(generate_posts(o), chorus::input_error);
  EXPECT_EQ(files(), (std::vector<std::string>{"p.truth.csv"}));

  o.force = true;
  const posts_summary s = generate_posts(o);
  EXPECT_EQ(files(), (std::vector<std::string>{"p.csv", "p.truth.csv"}));
  EXPECT_EQ(slurp(path("p.truth.csv")).substr(0, 30), "user_id,username,cluster,kind\n");
  EXPECT_GT(s.posts, 10000);
}

TEST_F(GeneratePosts, BadOptionsAreInputErrors) {
  auto expect_bad = [&](auto change) {
    posts_options o = small(path("p.csv"));
    change(o);
    EXPECT_THROW(generate_posts(o), chorus::input_error);
  };
  expect_bad([](posts_options& o) { o.accounts = 99; });
  expect_bad([](posts_options& o) { o.posts_per_account = 0; });
  expect_bad([](posts_options& o) { o.posts_per_account = NAN; });
  expect_bad([](posts_options& o) { o.days = 0; });
  expect_bad([](posts_options& o) { o.campaigns = -1; });
  expect_bad([](posts_options& o) { o.campaigns = 51; });  // 51 * 40 > 2000
  expect_bad([](posts_options& o) { o.threads = -2; });
  expect_bad([](posts_options& o) { o.out.clear(); });
  expect_bad([&](posts_options& o) { o.truth_out = o.out; });
  expect_bad([&](posts_options& o) { o.out = path("missing/p.csv"); });
  EXPECT_TRUE(files().empty());
}

TEST_F(GeneratePosts, CancelledFromProgressLeavesNoFile) {
  posts_options o = small(path("p.csv"));
  o.posts_per_account = 100;  // two blocks
  std::vector<double> seen;
  EXPECT_THROW(generate_posts(o,
                              [&](double f) {
                                seen.push_back(f);
                                throw std::runtime_error("stop");
                              }),
               std::runtime_error);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_TRUE(files().empty());
  seen.clear();
  generate_posts(o, [&](double f) { seen.push_back(f); });
  ASSERT_GE(seen.size(), 3u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), 1.0);
}

TEST_F(GeneratePosts, DefaultTruthPathReplacesTheExtensions) {
  EXPECT_EQ(chorus::posts_truth_path("d/posts.csv"), "d/posts.truth.csv");
  EXPECT_EQ(chorus::posts_truth_path("d/posts.csv.gz"), "d/posts.truth.csv");
  EXPECT_EQ(chorus::posts_truth_path("posts.csv.zst"), "posts.truth.csv");
  EXPECT_EQ(chorus::posts_truth_path("a.b/posts"), "a.b/posts.truth.csv");
  EXPECT_EQ(chorus::posts_truth_path("x.gz"), "x.truth.csv");
}

}  // namespace
