// chorus ingest end to end: a posts file in, an input file out, checked against values worked
// out by hand from the posts (no chorus code computes the references).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "chorus/core/error.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/h5.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

namespace {

using chorus::cli_test::run_cli;
namespace ing = chorus::ingest;
namespace h5 = chorus::h5;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// Seven accounts in the QUT toolkit's layout. Times are hours after 2026-03-01T00:00:00Z
// (1772323200). "10" posts 6 times, "11" 5 times, "12" 5 times, "13" twice (below the default
// --min-posts 5), "14" 5 times (one post outside a later window), "15" once, "16" five times.
std::string qut_csv() {
  std::string s = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  const long long t0 = 1772323200;
  long long id = 1000;
  auto row = [&](const char* user, const char* name, int hour, const std::string& text,
                 const std::string& repost = "", const std::string& urls = "") {
    s += std::to_string(id++) + "," + user + "," + name + "," + repost + ",," + text + "," +
         std::to_string(t0 + hour * 3600LL + 59) + "," + urls + "\n";
  };
  for (int k = 0; k < 6; ++k)
    row("10", "alice", k, "\"vote early, vote #often\"", "", "https://a.example/x");
  for (int k = 0; k < 5; ++k) row("11", "bob", k, "vote early vote #often @alice", "1000");
  for (int k = 0; k < 5; ++k) row("12", "carol", 2 * k, "the weather is nice today");
  for (int k = 0; k < 2; ++k) row("13", "dan", k, "quiet account");
  for (int k = 0; k < 5; ++k) row("14", "erin", 10 + k, "cats and dogs");
  row("15", "frank", 3, "hello");
  for (int k = 0; k < 5; ++k) row("16", "gina", 24 + k, "\"multi\nline, with \"\"quotes\"\"\"");
  return s;
}

ing::ingest_options options(const std::string& in, const std::string& out) {
  ing::ingest_options o;
  o.inputs = {in};
  o.out = out;
  o.dim = 4;
  o.threads = 2;
  return o;
}

TEST(Ingest, QutCsvAccountsPostsAndHourlyActivityMatchTheFile) {
  const std::string dir = chorus::test::scratch_dir("ingest_qut");
  write_text(dir + "/posts.csv", qut_csv());
  const ing::ingest_summary s = ing::run_ingest(options(dir + "/posts.csv", dir + "/in.h5"));
  EXPECT_EQ(s.read.posts, 29);
  EXPECT_EQ(s.accounts_seen, 7);
  EXPECT_EQ(s.accounts, 5);  // 13 and 15 have fewer than 5 posts
  EXPECT_EQ(s.accounts_below_min_posts, 2);
  EXPECT_EQ(s.posts_of_dropped, 3);
  EXPECT_EQ(s.posts, 26);
  EXPECT_FALSE(s.string_ids);
  EXPECT_EQ(s.bin_seconds, 3600);  // 29 hours of data: 1 h bins
  EXPECT_EQ(s.from, 1772323200);   // the hour boundary at or before the first post
  EXPECT_EQ(s.bins, 29);           // hours 0..28

  h5::handle f = h5::open_read(dir + "/in.h5");
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id")),
            (std::vector<std::int64_t>{10, 11, 12, 14, 16}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/accounts/handle")),
            (std::vector<std::string>{"alice", "bob", "carol", "erin", "gina"}));
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/posts")),
            (std::vector<std::int64_t>{6, 5, 5, 5, 5}));
  // activity: row r, hour h
  std::vector<std::int32_t> act(5 * 29);
  h5::read_rows<std::int32_t>(h5::open_dataset(f, "/activity"), 0, 5, act.data());
  std::map<std::pair<int, int>, int> expect;
  for (int k = 0; k < 6; ++k) expect[{0, k}] = 1;
  for (int k = 0; k < 5; ++k)
    expect[{1, k}] = 1, expect[{2, 2 * k}] = 1, expect[{3, 10 + k}] = 1, expect[{4, 24 + k}] = 1;
  for (int r = 0; r < 5; ++r)
    for (int h = 0; h < 29; ++h)
      EXPECT_EQ(act[static_cast<std::size_t>(r * 29 + h)], expect.count({r, h}) ? 1 : 0)
          << "row " << r << " hour " << h;
  std::string start;
  ASSERT_TRUE(h5::get_attr(h5::open_dataset(f, "/activity"), "bin_start", start));
  EXPECT_EQ(start, "2026-03-01T00:00:00Z");
  // posts: the kept accounts' posts in file order, with reposts, urls, hashtags, mentions
  const auto acc = h5::read_all<std::int64_t>(h5::open_dataset(f, "/posts/account"));
  ASSERT_EQ(acc.size(), 26u);
  EXPECT_EQ(acc[0], 0);
  EXPECT_EQ(acc[6], 1);
  EXPECT_EQ(acc[25], 4);
  const auto ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/posts/id"));
  EXPECT_EQ(ids[0], 1000);
  EXPECT_EQ(ids[6], 1006);
  EXPECT_EQ(ids[16], 1018);  // posts 1016, 1017 (account 13) are left out
  const auto rep = h5::read_all<std::int64_t>(h5::open_dataset(f, "/posts/repost"));
  EXPECT_EQ(rep[0], -1);
  EXPECT_EQ(rep[6], 1000);
  const auto uo = h5::read_all<std::int64_t>(h5::open_dataset(f, "/posts/urls_offsets"));
  ASSERT_EQ(uo.size(), 27u);
  EXPECT_EQ(uo[6], 6);  // one link in each of alice's 6 posts
  EXPECT_EQ(uo[26], 6);
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/posts/urls"))[0], "https://a.example/x");
  const auto tags = h5::read_strings(h5::open_dataset(f, "/posts/hashtags"));
  ASSERT_EQ(tags.size(), 11u);  // alice 6, bob 5
  EXPECT_EQ(tags[0], "often");
  const auto ments = h5::read_strings(h5::open_dataset(f, "/posts/mentions"));
  ASSERT_EQ(ments.size(), 5u);
  EXPECT_EQ(ments[0], "alice");
  // the same normalised text, the same hash: alice's posts are alike, gina's differ from them
  const auto th = h5::read_all<std::uint64_t>(h5::open_dataset(f, "/posts/text_hash"));
  EXPECT_EQ(th[0], th[5]);
  EXPECT_NE(th[0], th[25]);
}

TEST(Ingest, ContentVectorsSeparateAccountsThatWriteAlike) {
  const std::string dir = chorus::test::scratch_dir("ingest_content");
  write_text(dir + "/posts.csv", qut_csv());
  ing::ingest_options o = options(dir + "/posts.csv", dir + "/in.h5");
  o.dim = 3;
  ing::run_ingest(o);
  h5::handle f = h5::open_read(dir + "/in.h5");
  std::vector<float> e(5 * 3);
  h5::read_rows<float>(h5::open_dataset(f, "/embedding"), 0, 5, e.data());
  auto cos = [&](int a, int b) {
    double d = 0, na = 0, nb = 0;
    for (int k = 0; k < 3; ++k)
      d += e[a * 3 + k] * e[b * 3 + k], na += e[a * 3 + k] * e[a * 3 + k],
          nb += e[b * 3 + k] * e[b * 3 + k];
    return d / std::sqrt(na * nb);
  };
  // alice and bob write "vote early vote often"; carol writes about the weather
  EXPECT_GT(cos(0, 1), 0.9);
  EXPECT_LT(cos(0, 2), 0.5);
}

TEST(Ingest, StringKeysGetFnvIdsAndKeepTheKey) {
  const std::string dir = chorus::test::scratch_dir("ingest_strings");
  std::string csv = "account,time,text\n";
  for (int k = 0; k < 5; ++k) csv += "user_a," + std::to_string(1772323200 + k * 3600) + ",hi\n";
  for (int k = 0; k < 5; ++k) csv += "42," + std::to_string(1772323200 + k * 3600) + ",yo\n";
  write_text(dir + "/p.csv", csv);
  const auto s = ing::run_ingest(options(dir + "/p.csv", dir + "/in.h5"));
  EXPECT_TRUE(s.string_ids);
  auto fnv = [](const std::string& k) {  // datasets/SCHEMA.md's rule, written out again
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : k) h = (h ^ c) * 0x100000001b3ULL;
    return static_cast<std::int64_t>(h & 0x7fffffffffffffffULL);
  };
  h5::handle f = h5::open_read(dir + "/in.h5");
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id")),
            (std::vector<std::int64_t>{fnv("user_a"), fnv("42")}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/accounts/key")),
            (std::vector<std::string>{"user_a", "42"}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/accounts/handle")),
            (std::vector<std::string>{"user_a", "42"}));
}

TEST(Ingest, KeyIdsAreNumbersOrHashes) {
  EXPECT_EQ(ing::key_id("123"), 123);
  EXPECT_EQ(ing::key_id("9223372036854775807"), 9223372036854775807LL);
  EXPECT_NE(ing::key_id("9223372036854775808"), -1);  // too large: hashed
  EXPECT_FALSE(ing::is_numeric_key("9223372036854775808"));
  EXPECT_FALSE(ing::is_numeric_key("0123"));
  EXPECT_FALSE(ing::is_numeric_key("-5"));
  EXPECT_TRUE(ing::is_numeric_key("0"));
  EXPECT_EQ(ing::key_id(""), -1);
}

TEST(Ingest, BinRuleCoarsensLongSpansAndFoldsOnRequest) {
  EXPECT_EQ(ing::automatic_bins(14 * 86400).first, 3600);
  EXPECT_EQ(ing::automatic_bins(100 * 86400).first, 3600);  // 2400 bins exactly
  EXPECT_EQ(ing::automatic_bins(101 * 86400).first, 3 * 3600);
  EXPECT_EQ(ing::automatic_bins(6 * 365 * 86400).first, 86400);  // a 6-year archive: days
  EXPECT_EQ(ing::automatic_bins(20 * 365 * 86400LL).first, 7 * 86400);
  const std::string dir = chorus::test::scratch_dir("ingest_fold");
  write_text(dir + "/posts.csv", qut_csv());
  ing::ingest_options o = options(dir + "/posts.csv", dir + "/in.h5");
  o.fold = "week";
  const auto s = ing::run_ingest(o);
  EXPECT_EQ(s.bins, 168);
  // 2026-03-01 is a Sunday: hour 0 of it is hour 6*24 of the Monday-based week
  h5::handle f = h5::open_read(dir + "/in.h5");
  std::vector<std::int32_t> row(168);
  h5::read_rows<std::int32_t>(h5::open_dataset(f, "/activity"), 0, 1, row.data());
  for (int h = 0; h < 168; ++h) EXPECT_EQ(row[h], h >= 144 && h < 150 ? 1 : 0) << h;
}

TEST(Ingest, WindowLeavesOutLaterPostsAndCountsThem) {
  const std::string dir = chorus::test::scratch_dir("ingest_window");
  write_text(dir + "/posts.csv", qut_csv());
  ing::ingest_options o = options(dir + "/posts.csv", dir + "/in.h5");
  o.has_from = true, o.from = 1772323200;
  o.has_to = true, o.to = 1772323200 + 14 * 3600;  // hours 0..13
  const auto s = ing::run_ingest(o);
  EXPECT_EQ(s.bins, 14);
  EXPECT_EQ(s.posts_outside_window, 1 + 5);  // erin's hour 14, all of gina's
}

TEST(Ingest, SameInputFileForAnyThreadCount) {
  const std::string dir = chorus::test::scratch_dir("ingest_threads");
  write_text(dir + "/posts.csv", qut_csv());
  std::vector<std::vector<float>> emb;
  for (int t : {1, 2, 5}) {
    ing::ingest_options o = options(dir + "/posts.csv", dir + "/in" + std::to_string(t) + ".h5");
    o.threads = t;
    o.max_memory_mib = t == 5 ? 1 : 0;
    ing::run_ingest(o);
    h5::handle f = h5::open_read(o.out);
    std::vector<float> e(5 * 4);
    h5::read_rows<float>(h5::open_dataset(f, "/embedding"), 0, 5, e.data());
    emb.push_back(e);
  }
  EXPECT_EQ(std::memcmp(emb[0].data(), emb[1].data(), emb[0].size() * 4), 0);
  EXPECT_EQ(std::memcmp(emb[0].data(), emb[2].data(), emb[0].size() * 4), 0);
}

TEST(Ingest, ExistingOutputIsKeptWithoutForce) {
  const std::string dir = chorus::test::scratch_dir("ingest_force");
  write_text(dir + "/posts.csv", qut_csv());
  write_text(dir + "/in.h5", "precious");
  const auto r = run_cli({"ingest", dir + "/posts.csv", "--out", dir + "/in.h5"}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(chorus::cli_test::slurp(dir + "/in.h5"), "precious");
  const auto ok = run_cli(
      {"ingest", dir + "/posts.csv", "--out", dir + "/in.h5", "--force", "--dim", "4", "--quiet"},
      dir);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(chorus::cli_test::slurp(dir + "/in.h5"), "precious");
}

TEST(Ingest, BadSecondFileLeavesNoOutput) {
  const std::string dir = chorus::test::scratch_dir("ingest_bad_second");
  write_text(dir + "/a.csv", qut_csv());
  write_text(dir + "/b.csv",
             "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
             "1,2,x,,,\"never closed,1772323200,\n");
  const auto r = run_cli({"ingest", dir + "/a.csv", dir + "/b.csv", "--out", dir + "/in.h5"}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(chorus::cli_test::lines_in(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("b.csv"), std::string::npos) << r.err;
  EXPECT_FALSE(chorus::cli_test::exists(dir + "/in.h5"));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".chorus-ingest"), std::string::npos)
        << "temporary file left: " << e.path();
}

TEST(Ingest, DetectReadsTheIngestedFileWithoutWarnings) {
  const std::string dir = chorus::test::scratch_dir("ingest_detect");
  write_text(dir + "/posts.csv", qut_csv());
  ASSERT_EQ(
      run_cli({"ingest", dir + "/posts.csv", "--out", dir + "/in.h5", "--dim", "4", "--quiet"}, dir)
          .code,
      0);
  const auto r = run_cli({"detect", "--input", dir + "/in.h5", "--out", dir + "/res.h5", "--view",
                          "embedding", "--quiet"},
                         dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("unrecognised"), std::string::npos) << r.err;
}

TEST(Ingest, OptionMistakesAreOneLineErrors) {
  const std::string dir = chorus::test::scratch_dir("ingest_mistakes");
  write_text(dir + "/posts.csv", qut_csv());
  const std::string in = dir + "/posts.csv", out = dir + "/in.h5";
  const std::vector<std::vector<std::string>> cases = {
      {"ingest", in, "--out", out, "--bin", "1x"},
      {"ingest", in, "--out", out, "--bin", "1m"},
      {"ingest", in, "--out", out, "--bin", "2d"},
      {"ingest", in, "--out", out, "--fold", "month"},
      {"ingest", in, "--out", out, "--fold", "day", "--bin", "7h"},
      {"ingest", in, "--out", out, "--from", "yesterday"},
      {"ingest", in, "--out", out, "--from", "2026-03-02T00:00:00Z", "--to",
       "2026-03-01T00:00:00Z"},
      {"ingest", in, "--out", out, "--preset", "twitter"},
      {"ingest", in, "--out", out, "--min-posts", "100"},
      {"ingest", dir + "/missing.csv", "--out", out},
      {"ingest", dir + "/*.json", "--out", out},
      {"ingest", in, "--out", dir + "/no/such/dir/in.h5"},
      {"generate", "--posts", "--accounts", "100", "--dim", "8", "--out", dir + "/g.csv"},
      {"generate", "--accounts", "100", "--campaigns", "3", "--out", dir + "/g.h5"},
  };
  for (const auto& args : cases) {
    const auto r = run_cli(args, dir);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.err;
    EXPECT_EQ(chorus::cli_test::lines_in(r.err), 1) << cmd << "\n" << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(out)) << cmd;
  }
}

}  // namespace

namespace {

// Peak resident set allowed with --max-memory 24 at --dim 32 (measured 2026-11-30: capped about
// 231 MiB, uncapped about 389 MiB, plain Release build; the LSA's feature side is a fixed part).
constexpr long kCappedPeakKiB = 320 * 1024;

// Run chorus with `args` and return its peak resident set (KiB) from wait4, or -1 on failure.
long peak_rss_kib(const std::vector<std::string>& args, int& code) {
  const pid_t pid = fork();
  if (pid == 0) {
    // reset the peak RSS the forked copy carries over exec (tests/test_memory.cpp)
    const int refs = ::open("/proc/self/clear_refs", O_WRONLY);
    if (refs >= 0) (void)!::write(refs, "5", 1), ::close(refs);
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1), dup2(devnull, 2);
    std::vector<std::string> a = {CHORUS_BINARY};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  struct rusage ru {};
  if (wait4(pid, &st, 0, &ru) != pid) return -1;
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return ru.ru_maxrss;
}

// Issue 16: a corpus whose feature counts exceed --max-memory spills them to disk; the peak
// resident set stays under the cap plus the fixed costs stated in the README, and the input
// written is the same as without a cap.
TEST(IngestMemory, PeakResidentSetStaysBoundedAndResultsMatchAnUncappedRun) {
  const std::string dir = chorus::test::scratch_dir("ingest_memory");
  const std::string posts = dir + "/posts.csv";
  ASSERT_EQ(run_cli({"generate", "--posts", "--accounts", "3000", "--posts-per-account", "60",
                     "--seed", "3", "--out", posts},
                    dir)
                .code,
            0);
  int code = -1;
  const long capped = peak_rss_kib({"ingest", posts, "--out", dir + "/capped.h5", "--dim", "32",
                                    "--max-memory", "24", "--threads", "2"},
                                   code);
  ASSERT_EQ(code, 0);
  const long free_run = peak_rss_kib(
      {"ingest", posts, "--out", dir + "/free.h5", "--dim", "32", "--threads", "2"}, code);
  ASSERT_EQ(code, 0);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory and quarantine inflate every resident set: only the
  // comparison with the uncapped run and the results are checked under it
#else
  EXPECT_LT(capped, kCappedPeakKiB) << "capped " << capped << " KiB, uncapped " << free_run;
#endif
  EXPECT_LT(capped, free_run) << "the cap should lower the peak";
  std::printf("peak resident set: capped %ld KiB, uncapped %ld KiB\n", capped, free_run);
  for (const char* ds : {"/embedding", "/activity"}) {
    h5::handle a = h5::open_read(dir + "/capped.h5"), b = h5::open_read(dir + "/free.h5");
    const auto da = h5::describe(h5::open_dataset(a, ds));
    std::vector<float> va(da.dims[0] * da.dims[1]), vb(va.size());
    h5::read_rows<float>(h5::open_dataset(a, ds), 0, da.dims[0], va.data());
    h5::read_rows<float>(h5::open_dataset(b, ds), 0, da.dims[0], vb.data());
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * 4), 0) << ds;
  }
}

}  // namespace

namespace {

// Issue 16, "Bad input": every malformed file ends with one line naming the file (and the line
// where there is one), exit code 2, and no output file.
TEST(IngestBadInput, EveryMalformedFileIsOneLineExitTwoAndNoOutput) {
  const std::string dir = chorus::test::scratch_dir("ingest_bad_input");
  const std::string head =
      "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  const std::string good = head + "1,2,x,,,hello,1772323200,\n";
  // a gzip stream cut in half: the first bytes of a real gzip member of `good`
  std::string gz;
  {
    const std::string plain = dir + "/g.csv";
    write_text(plain, good + good.substr(head.size()) + good.substr(head.size()));
    ASSERT_EQ(std::system(("gzip -k -f '" + plain + "'").c_str()), 0);
    gz = chorus::cli_test::slurp(plain + ".gz");
  }
  struct bad_case {
    std::string name, bytes, must_say;
    std::vector<std::string> extra;
  };
  const std::vector<bad_case> cases = {
      {"truncated.csv.gz", gz.substr(0, gz.size() / 2), "truncated.csv.gz", {}},
      {"quote.csv",
       head + "1,2,x,,,\"never closed,1772323200,\n3,4,y,,,z,1772323200,\n",
       "quote.csv:2",
       {}},
      {"notjson.jsonl",
       "{\"account\": \"a\", \"time\": 1772323200}\n{not json}\n",
       "notjson.jsonl:2",
       {}},
      {"missing_column.csv",
       head + "1,2,x,,,hi,1772323200,\n",
       "no_such_column",
       {"--text", "no_such_column"}},
      {"empty.csv", "", "empty.csv", {}},
      {"header_only.csv", head, "header_only.csv", {}},
      {"binary.csv", std::string("message_id,user_id\n\x01\x02\x00\x03", 23), "binary.csv", {}},
      {"future.csv", head + "1,2,x,,,hi,5000000000,\n", "future.csv:2", {}},
  };
  for (const bad_case& c : cases) {
    SCOPED_TRACE(c.name);
    write_text(dir + "/" + c.name, c.bytes);
    std::vector<std::string> args = {"ingest", dir + "/" + c.name, "--out", dir + "/out.h5"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const auto r = run_cli(args, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(chorus::cli_test::lines_in(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.must_say), std::string::npos) << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(dir + "/out.h5"));
  }
}

// Rows whose account or time cannot be read are counted and skipped (the summary shows the
// first with its line); --strict makes the first one an error.
TEST(IngestBadInput, UnreadableRowsAreCountedAndStrictRefusesThem) {
  const std::string dir = chorus::test::scratch_dir("ingest_bad_rows");
  std::string csv = "account,time,text\n";
  for (int k = 0; k < 6; ++k) csv += "a," + std::to_string(1772323200 + 60 * k) + ",hi\n";
  csv += "b,yesterday,hi\n,1772323200,hi\n";
  write_text(dir + "/p.csv", csv);
  const auto r = run_cli({"ingest", dir + "/p.csv", "--out", dir + "/in.h5", "--dim", "0"}, dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("6 posts read (2 rows skipped)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p.csv:8"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("WARNING: 2 of 8 rows skipped"), std::string::npos) << r.err;
  const auto s = run_cli(
      {"ingest", dir + "/p.csv", "--out", dir + "/strict.h5", "--dim", "0", "--strict"}, dir);
  EXPECT_EQ(s.code, 2) << s.err;
  EXPECT_NE(s.err.find("p.csv:8"), std::string::npos) << s.err;
  EXPECT_FALSE(chorus::cli_test::exists(dir + "/strict.h5"));
}

// Presets and compressions end to end: the same posts as QUT CSV (zstd) and as X/Twitter v2
// JSON lines (gzip) give the same accounts and activity.
TEST(IngestFormats, QutCsvAndTwitterV2JsonGiveTheSameAccountsAndActivity) {
  const std::string dir = chorus::test::scratch_dir("ingest_formats");
  std::string csv = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  std::string json;
  for (int u = 0; u < 3; ++u)
    for (int k = 0; k < 5; ++k) {
      const long long t = 1772323200LL + 3600LL * (u + 2 * k);
      const std::string id = std::to_string(100 * u + k + 1), user = std::to_string(7 + u);
      csv += id + "," + user + ",h" + user + ",,,post " + id + "," + std::to_string(t) + ",\n";
      char iso[64];
      std::snprintf(iso, sizeof iso, "2026-03-01T%02lld:00:00.000Z", (t - 1772323200LL) / 3600);
      json += "{\"id\":\"" + id + "\",\"author_id\":\"" + user + "\",\"created_at\":\"" + iso +
              "\",\"text\":\"post " + id + "\"}\n";
    }
  write_text(dir + "/p.csv", csv);
  write_text(dir + "/p.jsonl", json);
  ASSERT_EQ(std::system(("zstd -q -f '" + dir + "/p.csv' -o '" + dir + "/p.csv.zst'").c_str()), 0);
  ASSERT_EQ(std::system(("gzip -f '" + dir + "/p.jsonl'").c_str()), 0);
  for (const char* f : {"p.csv.zst", "p.jsonl.gz"}) {
    const auto r =
        run_cli({"ingest", dir + "/" + f, "--out", dir + "/" + f + ".h5", "--dim", "0"}, dir);
    ASSERT_EQ(r.code, 0) << f << r.err;
  }
  h5::handle a = h5::open_read(dir + "/p.csv.zst.h5"), b = h5::open_read(dir + "/p.jsonl.gz.h5");
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(a, "/accounts/id")),
            (std::vector<std::int64_t>{7, 8, 9}));
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(b, "/accounts/id")),
            (std::vector<std::int64_t>{7, 8, 9}));
  std::vector<std::int32_t> x(3 * 11), y(3 * 11);
  h5::read_rows<std::int32_t>(h5::open_dataset(a, "/activity"), 0, 3, x.data());
  h5::read_rows<std::int32_t>(h5::open_dataset(b, "/activity"), 0, 3, y.data());
  EXPECT_EQ(x, y);
  for (int u = 0; u < 3; ++u)
    for (int k = 0; k < 5; ++k) EXPECT_EQ(x[static_cast<std::size_t>(u * 11 + u + 2 * k)], 1);
}

}  // namespace

namespace {

// Found trying chorus ingest as a user (issue 16): mistakes that gave exit 0 with a quietly
// different result now refuse or warn.
TEST(IngestMistakes, OutputThatIsAnInputIsRefusedEvenWithForce) {
  const std::string dir = chorus::test::scratch_dir("ingest_out_is_input");
  write_text(dir + "/posts.csv", qut_csv());
  const auto r =
      run_cli({"ingest", dir + "/posts.csv", "--out", dir + "/posts.csv", "--force"}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("is one of the input files"), std::string::npos) << r.err;
  EXPECT_EQ(chorus::cli_test::slurp(dir + "/posts.csv"), qut_csv());
}

TEST(IngestMistakes, RepeatedPostIdsAreCountedOnceAndWarned) {
  const std::string dir = chorus::test::scratch_dir("ingest_dups");
  write_text(dir + "/posts.csv", qut_csv());
  const auto once = ing::run_ingest(options(dir + "/posts.csv", dir + "/once.h5"));
  ing::ingest_options o = options(dir + "/posts.csv", dir + "/twice.h5");
  o.inputs = {dir + "/posts.csv", dir + "/posts.csv"};
  const auto twice = ing::run_ingest(o);
  EXPECT_EQ(twice.duplicate_posts, 29);
  EXPECT_EQ(twice.posts, once.posts);
  ASSERT_FALSE(twice.warnings.empty());
  EXPECT_NE(twice.warnings.back().find("29 posts repeat the id"), std::string::npos);
  h5::handle a = h5::open_read(dir + "/once.h5"), b = h5::open_read(dir + "/twice.h5");
  std::vector<std::int32_t> x(5 * 29), y(5 * 29);
  h5::read_rows<std::int32_t>(h5::open_dataset(a, "/activity"), 0, 5, x.data());
  h5::read_rows<std::int32_t>(h5::open_dataset(b, "/activity"), 0, 5, y.data());
  EXPECT_EQ(x, y);
}

TEST(IngestMistakes, AStrayTimeDoesNotStretchTheWindow) {
  const std::string dir = chorus::test::scratch_dir("ingest_stray");
  std::string csv = qut_csv();
  // one post of alice's dated 1970-01-02 (a broken export)
  csv += "5000,10,alice,,,stray,86400,\n";
  // enough ordinary posts that one stray time is under 0.1% of them
  for (int k = 0; k < 1100; ++k)
    csv += std::to_string(6000 + k) + ",20,zed,,,filler " + std::to_string(k) + "," +
           std::to_string(1772323200 + 60 * (k % 1000)) + ",\n";
  write_text(dir + "/posts.csv", csv);
  const auto s = ing::run_ingest(options(dir + "/posts.csv", dir + "/in.h5"));
  EXPECT_EQ(s.posts_outside_data, 1);
  EXPECT_EQ(s.bin_seconds, 3600);
  EXPECT_GE(s.from, 1772323200 - 86400);
  bool warned = false;
  for (const auto& w : s.warnings) warned |= w.find("far outside") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(IngestMistakes, OneLineErrorsNameTheUsualCauses) {
  const std::string dir = chorus::test::scratch_dir("ingest_causes");
  const std::string head =
      "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  struct c {
    std::string file, bytes, says;
    std::vector<std::string> extra;
  };
  const std::vector<c> cases = {
      {"array.json", "[{\"account\":\"a\",\"time\":1772323200}]\n", "a JSON array", {}},
      {"ms.csv", head + "1,2,x,,,hi,1772323200000,\n", "looks like milliseconds", {}},
      {"semi.csv", "account;time;text\na;1772323200;hi\n", "semicolon-separated", {}},
      {"nozone.csv", "account,time,text\na,2026-03-01 10:00:00,hi\n", "no time zone", {"--strict"}},
      {"onebin.csv",
       head + "1,2,x,,,hi,1772323200,\n2,2,x,,,hi,1772323201,\n3,2,x,,,hi,1772323202,\n"
              "4,2,x,,,hi,1772323203,\n5,2,x,,,hi,1772323204,\n",
       "at least 2",
       {"--fold", "day", "--bin", "1d"}},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.file);
    write_text(dir + "/" + k.file, k.bytes);
    std::vector<std::string> args = {"ingest", dir + "/" + k.file, "--out", dir + "/o.h5"};
    args.insert(args.end(), k.extra.begin(), k.extra.end());
    const auto r = run_cli(args, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(chorus::cli_test::lines_in(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(k.says), std::string::npos) << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(dir + "/o.h5"));
  }
}

TEST(IngestMistakes, TruthOfAnotherCorpusIsRefused) {
  const std::string dir = chorus::test::scratch_dir("ingest_truth");
  write_text(dir + "/posts.csv", qut_csv());
  write_text(dir + "/truth.csv", "user_id,username,cluster,kind\n999,zz,0,1\n");
  const auto r = run_cli(
      {"ingest", dir + "/posts.csv", "--out", dir + "/in.h5", "--truth", dir + "/truth.csv"}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("names none of the accounts"), std::string::npos) << r.err;
  EXPECT_FALSE(chorus::cli_test::exists(dir + "/in.h5"));
}

}  // namespace

namespace {

// --json: the summary as one object, with the counts the text summary gives.
TEST(IngestSummary, JsonSummaryCarriesTheCounts) {
  const std::string dir = chorus::test::scratch_dir("ingest_json");
  write_text(dir + "/posts.csv", qut_csv());
  const auto r =
      run_cli({"ingest", dir + "/posts.csv", "--out", dir + "/in.h5", "--dim", "4", "--json"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* k : {"\"posts_read\":29", "\"accounts\":5", "\"accounts_below_min_posts\":2",
                        "\"posts\":26", "\"bins\":29", "\"bin_seconds\":3600", "\"dim\":4",
                        "\"content\":\"lsa\"", "\"duplicate_posts\":0", "\"warnings\":[]"})
    EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
}

// Options the library refuses before reading anything.
TEST(IngestSummary, RequestsThatCannotWorkAreRefusedBeforeReading) {
  const std::string dir = chorus::test::scratch_dir("ingest_request");
  write_text(dir + "/posts.csv", qut_csv());
  auto bad = [&](const std::function<void(ing::ingest_options&)>& change) {
    ing::ingest_options o = options(dir + "/posts.csv", dir + "/in.h5");
    change(o);
    return chorus::test::message_of([&] { ing::run_ingest(o); });
  };
  EXPECT_NE(bad([](auto& o) { o.inputs.clear(); }).find("no input files"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.out.clear(); }).find("--out"), std::string::npos);
  EXPECT_NE(bad([&](auto& o) { o.out = dir; }).find("exists"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.min_posts = 0; }).find("--min-posts"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.dim = 5000; }).find("--dim"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.hash_bits = 30; }).find("2^10 to 2^24"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.has_from = o.has_to = true, o.from = 10, o.to = 5; }).find("--to"),
            std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.dim = 0, o.post_embeddings = "x.h5"; }).find("--dim 0"),
            std::string::npos);
  EXPECT_NE(bad([&](auto& o) { o.out = dir + "/no/such/in.h5"; }).find("does not exist"),
            std::string::npos);
  EXPECT_FALSE(chorus::cli_test::exists(dir + "/in.h5"));
}

// --post-embeddings: each account's vector is the normalised mean of its posts' vectors
// (computed here from the same numbers); bad files are refused with the file named.
TEST(IngestPostEmbeddings, MeanOfEachAccountsPostsNormalised) {
  const std::string dir = chorus::test::scratch_dir("ingest_post_emb");
  write_text(dir + "/posts.csv", qut_csv());
  // post ids 1000.. in file order; vector of post id p: (p % 7, 1, p % 3)
  std::vector<std::int64_t> ids;
  std::vector<float> vec;
  for (std::int64_t p = 1000; p < 1029; ++p) {
    ids.push_back(p);
    vec.insert(vec.end(), {float(p % 7), 1.0f, float(p % 3)});
  }
  auto write_emb = [&](const std::string& path, const std::vector<std::int64_t>& i,
                       const std::vector<float>& v) {
    h5::handle f = h5::create(path);
    h5::write_vector<std::int64_t>(f, "/post_id", i);
    h5::handle e = h5::create_dataset<float>(f, "/embedding", {i.size(), 3});
    h5::write_rows<float>(e, 0, i.size(), v.data());
  };
  write_emb(dir + "/emb.h5", ids, vec);
  ing::ingest_options o = options(dir + "/posts.csv", dir + "/in.h5");
  o.post_embeddings = dir + "/emb.h5";
  const auto s = ing::run_ingest(o);
  EXPECT_EQ(s.dim, 3);
  EXPECT_EQ(s.content, "post-embeddings");
  EXPECT_EQ(s.pooled_posts, 26);
  EXPECT_EQ(s.unmatched_post_embeddings, 3);  // account 13's two posts and 15's one
  std::vector<float> e(5 * 3);
  h5::read_rows<float>(h5::open_dataset(h5::open_read(dir + "/in.h5"), "/embedding"), 0, 5,
                       e.data());
  double m[3] = {0, 0, 0};  // alice: posts 1000..1005
  for (std::int64_t p = 1000; p < 1006; ++p) m[0] += p % 7, m[1] += 1, m[2] += p % 3;
  const double n = std::sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(e[k], m[k] / n, 1e-6);
  // refused: no match, a repeated id, a missing dataset
  write_emb(dir + "/other.h5", {1, 2}, {1, 0, 0, 0, 1, 0});
  write_emb(dir + "/dup.h5", {1000, 1000}, {1, 0, 0, 0, 1, 0});
  {
    h5::handle f = h5::create(dir + "/noid.h5");
    h5::write_vector<float>(f, "/embedding", {1, 2});
  }
  for (const char* f : {"other.h5", "dup.h5", "noid.h5"}) {
    ing::ingest_options b = options(dir + "/posts.csv", dir + "/bad.h5");
    b.post_embeddings = dir + "/" + f;
    const std::string msg = chorus::test::message_of([&] { ing::run_ingest(b); });
    EXPECT_NE(msg.find(f), std::string::npos) << msg;
    EXPECT_FALSE(chorus::cli_test::exists(dir + "/bad.h5"));
  }
}

}  // namespace

namespace {

// Without a links column the links written in the text are stored (case kept, trailing
// punctuation dropped); words that merely contain "http" are not links.
TEST(IngestPostEmbeddings, LinksAreTakenFromTheTextWhenNoColumnGivesThem) {
  const std::string dir = chorus::test::scratch_dir("ingest_links");
  std::string csv = "account,time,text\n";
  csv += "a,1772323200,\"see https://X.example/A?q=1, and (www.y.org/B). httpd is no link\"\n";
  for (int k = 1; k < 5; ++k) csv += "a," + std::to_string(1772323200 + k) + ",no links\n";
  write_text(dir + "/p.csv", csv);
  ing::ingest_options o = options(dir + "/p.csv", dir + "/in.h5");
  o.dim = 0;
  ing::run_ingest(o);
  h5::handle f = h5::open_read(dir + "/in.h5");
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/posts/urls")),
            (std::vector<std::string>{"https://X.example/A?q=1", "www.y.org/B"}));
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/posts/urls_offsets")),
            (std::vector<std::int64_t>{0, 2, 2, 2, 2, 2}));
}

}  // namespace
