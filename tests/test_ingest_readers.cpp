// chorus ingest: tests of the post readers (CSV, JSON lines, compression, presets, mapping, bad
// input) and of parse_time. Expected values are written out by hand (times computed once with
// Python's datetime, UTF-8 repairs with Python's bytes.decode('utf-8', 'replace')).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/reader.hpp"
#include "chorus/ingest/time_parse.hpp"

namespace chorus::ingest {
namespace {

/// A fresh directory under the test temp dir, removed at the end of the test.
class IngestReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(::testing::TempDir()) + "chorus_readers_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  std::string dir_;
};

/// gzip of s with zlib (one member).
std::string gzip(const std::string& s) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, s.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(const std::string& s) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), s.data(), s.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::vector<post> read_all(post_reader& r, std::size_t batch = 1000) {
  std::vector<post> all, b;
  while (r.next(b, batch)) {
    EXPECT_LE(b.size(), batch);
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

std::vector<post> read_files(const std::vector<std::string>& files, reader_options opt = {}) {
  post_reader r(files, opt);
  return read_all(r);
}

/// The input_error message of f(), or a note that there was none.
template <typename F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const input_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(other exception) ") + e.what();
  }
  return "(no exception)";
}

std::string read_error(const std::vector<std::string>& files, reader_options opt = {}) {
  return input_error_of([&] { read_files(files, opt); });
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

// ---------------------------------------------------------------------------------------------
// parse_time

TEST(IngestReaderTime, IsoWithZonesMatchesReferenceValues) {
  struct c {
    const char* s;
    std::int64_t v;
  } cases[] = {
      {"2024-02-29T23:59:59+01:00", 1709247599},
      {"2018-10-10T20:19:24Z", 1539202764},
      {"1970-01-01T00:00:00Z", 0},
      {"2000-02-29T12:00:00-05:30", 951845400},
      {"1999-12-31T23:59:59+00:00", 946684799},
      {"2023-03-01T00:00:00Z", 1677628800},
      {"2016-12-31T23:59:59+14:00", 1483178399},
      {"2024-01-15 08:30:00-0200", 1705314600},
      {"2024-01-15t08:30:00z", 1705307400},
      {"2024-02-29T23:59:59.999Z", 1709251199},
      {"2024-02-29T23:59-01", 1709254740},
      {"2100-01-01T00:00:00Z", 4102444800},
      {"  2024-01-15T08:30:00Z\r\n", 1705307400},
  };
  for (const auto& k : cases) {
    std::int64_t v = -777;
    EXPECT_TRUE(parse_time(k.s, v)) << k.s;
    EXPECT_EQ(v, k.v) << k.s;
  }
}

TEST(IngestReaderTime, TwitterV1CreatedAtForm) {
  std::int64_t v = 0;
  EXPECT_TRUE(parse_time("Wed Oct 10 20:19:24 +0000 2018", v));
  EXPECT_EQ(v, 1539202764);
  EXPECT_TRUE(parse_time("Sat Feb 29 23:00:00 -0130 2020", v));
  EXPECT_EQ(v, 1583022600);
}

TEST(IngestReaderTime, UnixSecondsTruncateFractionTowardMinusInfinity) {
  std::int64_t v = 0;
  EXPECT_TRUE(parse_time("1577886276", v));
  EXPECT_EQ(v, 1577886276);
  EXPECT_TRUE(parse_time("1577886276.75", v));
  EXPECT_EQ(v, 1577886276);
  EXPECT_TRUE(parse_time("-1.5", v));
  EXPECT_EQ(v, -2);
  EXPECT_TRUE(parse_time("-2.0", v));
  EXPECT_EQ(v, -2);
  EXPECT_TRUE(parse_time("0", v));
  EXPECT_EQ(v, 0);
}

TEST(IngestReaderTime, RejectsMalformedAndImpossibleDates) {
  const char* bad[] = {"",
                       "abc",
                       "2024-02-30T00:00:00Z",
                       "2023-02-29T00:00:00Z",
                       "2024-13-01T00:00:00Z",
                       "2024-01-01T24:00:00Z",
                       "2024-01-01T00:60:00Z",
                       "2024-01-01T00:00:00",
                       "2024-01-01",
                       "2024-01-01T00:00:00+25:00",
                       "2024-01-01T00:00:00Zjunk",
                       "Wed Oct 10 20:19:24 +0000",
                       "Wed Foo 10 20:19:24 +0000 2018",
                       "1.2.3",
                       "12abc",
                       "-"};
  for (const char* s : bad) {
    std::int64_t v = 42;
    EXPECT_FALSE(parse_time(s, v)) << s;
    EXPECT_EQ(v, 42) << s;
  }
}

TEST(IngestReaderTime, DaysFromCivilMatchesCountingDays) {
  // Reference: count days year by year and month by month from 1970 (or backward).
  auto leap = [](int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
  const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int y = 1600; y <= 2400; y += 7) {
    for (int m = 1; m <= 12; ++m) {
      std::int64_t days = 0;
      if (y >= 1970) {
        for (int k = 1970; k < y; ++k) days += leap(k) ? 366 : 365;
      } else {
        for (int k = y; k < 1970; ++k) days -= leap(k) ? 366 : 365;
      }
      for (int k = 1; k < m; ++k) days += mdays[k - 1] + (k == 2 && leap(y) ? 1 : 0);
      EXPECT_EQ(days_from_civil(y, m, 1), days) << y << "-" << m;
      EXPECT_EQ(days_from_civil(y, m, 15), days + 14) << y << "-" << m;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

const char* kQutHeader = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";

TEST_F(IngestReaderTest, QutCsvIsDetectedAndMapped) {
  std::string path = write("qut.csv", std::string(kQutHeader) +
                                          "1111,2222,alice,,,\"Hello, world\",1577886276,"
                                          "http://a.example/x http://b.example/y\n"
                                          "2563,3214,bob,1111,,RT hello,1577886230.9,\n"
                                          "2600,3214,bob,,2563,\"say \"\"hi\"\"\",1577886300,\n");
  post_reader r({path}, {});
  ASSERT_EQ(r.describe().size(), 1u);
  EXPECT_EQ(r.describe()[0], path + ": plain, CSV, preset qut (detected from the header)");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[0].id, "1111");
  EXPECT_EQ(posts[0].account, "2222");
  EXPECT_EQ(posts[0].handle, "alice");
  EXPECT_EQ(posts[0].text, "Hello, world");
  EXPECT_EQ(posts[0].time, 1577886276);
  EXPECT_EQ(posts[0].urls, (std::vector<std::string>{"http://a.example/x", "http://b.example/y"}));
  EXPECT_EQ(posts[0].repost, "");
  EXPECT_EQ(posts[0].line, 2);
  EXPECT_EQ(posts[1].repost, "1111");
  EXPECT_EQ(posts[1].time, 1577886230);
  EXPECT_TRUE(posts[1].urls.empty());
  EXPECT_EQ(posts[2].reply, "2563");
  EXPECT_EQ(posts[2].text, "say \"hi\"");
  EXPECT_EQ(posts[2].line, 4);
  EXPECT_EQ(r.stats().records, 3);
  EXPECT_EQ(r.stats().posts, 3);
  EXPECT_EQ(r.stats().skipped, 0);
}

TEST_F(IngestReaderTest, GenericCsvAnyColumnOrderAndOptionalColumns) {
  std::string path = write("g.csv",
                           "text,time,account,handle,extra\n"
                           "hi there,2024-02-29T23:59:59+01:00, acc1 ,h1,zzz\n"
                           "second,Wed Oct 10 20:19:24 +0000 2018,acc2,h2,\n");
  post_reader r({path}, {});
  EXPECT_EQ(r.describe()[0], path + ": plain, CSV, preset generic (detected from the header)");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].account, "acc1");  // surrounding blanks trimmed from ids
  EXPECT_EQ(posts[0].handle, "h1");
  EXPECT_EQ(posts[0].time, 1709247599);
  EXPECT_EQ(posts[0].text, "hi there");
  EXPECT_EQ(posts[0].id, "");
  EXPECT_EQ(posts[1].time, 1539202764);
  EXPECT_EQ(posts[1].file, 0);
}

TEST_F(IngestReaderTest, QuotedFieldsWithCommasQuotesNewlinesKeepLineNumbers) {
  std::string csv =
      "\xEF\xBB\xBF"
      "account,time,text\r\n"                                 // line 1 (BOM skipped)
      "a,10,\"multi\r\nline, with \"\"quotes\"\"\nend\"\r\n"  // lines 2-4
      "\r\n"                                                  // line 5: blank, ignored
      "b,20,plain\r\n"                                        // line 6
      "\"c\",\"30\",\"\"\n"                                   // line 7
      "d,40,\"last, no newline\"";                            // line 8
  std::string path = write("q.csv", csv);
  auto posts = read_files({path});
  ASSERT_EQ(posts.size(), 4u);
  EXPECT_EQ(posts[0].text, "multi\r\nline, with \"quotes\"\nend");
  EXPECT_EQ(posts[0].account, "a");
  EXPECT_EQ(posts[0].line, 2);
  EXPECT_EQ(posts[1].line, 6);
  EXPECT_EQ(posts[1].text, "plain");
  EXPECT_EQ(posts[2].account, "c");
  EXPECT_EQ(posts[2].time, 30);
  EXPECT_EQ(posts[2].text, "");
  EXPECT_EQ(posts[2].line, 7);
  EXPECT_EQ(posts[3].text, "last, no newline");
  EXPECT_EQ(posts[3].line, 8);
}

TEST_F(IngestReaderTest, FieldMapOverridesAndNoPreset) {
  std::string path = write("m.csv",
                           "who,when,body,links\n"
                           "u1,100,hello,x y\n");
  reader_options opt;
  opt.map.account = "who";
  opt.map.time = "when";
  opt.map.text = "body";
  opt.map.urls = "links";
  post_reader r({path}, opt);
  EXPECT_EQ(r.describe()[0], path +
                                 ": plain, CSV, no preset (field map only), mapped account=who, "
                                 "time=when, text=body, urls=links");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].account, "u1");
  EXPECT_EQ(posts[0].time, 100);
  EXPECT_EQ(posts[0].text, "hello");
  EXPECT_EQ(posts[0].urls, (std::vector<std::string>{"x", "y"}));

  // An override on top of the qut preset: the handle taken from another column.
  std::string q = write("q.csv", std::string(kQutHeader) + "1,2,name,,,msg,5,\n");
  reader_options o2;
  o2.map.account = "username";
  auto p2 = read_files({q}, o2);
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].account, "name");
  EXPECT_EQ(p2[0].id, "1");
}

TEST_F(IngestReaderTest, MissingMappedColumnNamesColumnAndHeader) {
  std::string path = write("m.csv", "account,time,text\n1,2,x\n");
  reader_options opt;
  opt.map.handle = "screen_name";
  std::string msg = read_error({path}, opt);
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "'screen_name'");
  EXPECT_HAS(msg, "account, time, text");

  reader_options q;
  q.pre = preset::qut;
  msg = read_error({path}, q);
  EXPECT_HAS(msg, "'user_id'");

  reader_options none;
  none.pre = preset::none;
  EXPECT_HAS(input_error_of([&] { post_reader r({path}, none); }), "account and the time");

  std::string unknown = write("u.csv", "a,b\n1,2\n");
  EXPECT_HAS(read_error({unknown}), "cannot tell the CSV layout");
}

TEST_F(IngestReaderTest, SkippedRowsAreCountedWithLineNumbers) {
  std::string path = write("s.csv",
                           "account,time,text\n"  // 1
                           "a,1,ok\n"             // 2
                           "b,2\n"                // 3: too few fields
                           ",3,no account\n"      // 4
                           "c,yesterday,bad\n"    // 5: time does not parse
                           "d,4,x,extra\n"        // 6: too many fields
                           "e,5,ok\n");           // 7
  post_reader r({path}, {});
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].line, 7);
  const reader_stats& s = r.stats();
  EXPECT_EQ(s.records, 6);
  EXPECT_EQ(s.posts, 2);
  EXPECT_EQ(s.skipped, 4);
  ASSERT_EQ(s.first_skipped.size(), 4u);
  EXPECT_EQ(s.first_skipped[0].line, 3);
  EXPECT_HAS(s.first_skipped[0].reason, "2 fields where the header has 3");
  EXPECT_EQ(s.first_skipped[1].line, 4);
  EXPECT_HAS(s.first_skipped[1].reason, "account");
  EXPECT_EQ(s.first_skipped[2].line, 5);
  EXPECT_HAS(s.first_skipped[2].reason, "'yesterday'");
  EXPECT_EQ(s.first_skipped[3].line, 6);
}

TEST_F(IngestReaderTest, OnlyFiveSkippedRowsAreKept) {
  std::string csv = "account,time,text\n";
  for (int i = 0; i < 9; ++i) csv += "a,never,x\n";
  post_reader r({write("s.csv", csv)}, {});
  EXPECT_TRUE(read_all(r).empty());
  EXPECT_EQ(r.stats().skipped, 9);
  ASSERT_EQ(r.stats().first_skipped.size(), 5u);
  EXPECT_EQ(r.stats().first_skipped[4].line, 6);
}

TEST_F(IngestReaderTest, StrictModeMakesSkipsErrors) {
  std::string path = write("s.csv", "account,time,text\na,1,ok\n\n\"b\nb\",2\n");
  reader_options opt;
  opt.strict = true;
  std::string msg = read_error({path}, opt);
  EXPECT_HAS(msg, path + ":4: 2 fields where the header has 3");
  std::string bad_time = write("t.csv", "account,time,text\na,1,ok\nb,soon,x\n");
  EXPECT_HAS(read_error({bad_time}, opt), bad_time + ":3: time 'soon' does not parse");
}

TEST_F(IngestReaderTest, TimeOutOfRangeIsAnErrorEvenWhenNotStrict) {
  std::string late = write("late.csv", "account,time,text\na,4102444799,ok\nb,4102444800,x\n");
  EXPECT_HAS(read_error({late}), late + ":3: time '4102444800' out of range");
  std::string early = write("early.csv", "account,time,text\na,1969-12-31T23:59:59Z,x\n");
  EXPECT_HAS(read_error({early}), early + ":2: time '1969-12-31T23:59:59Z' out of range");
}

TEST_F(IngestReaderTest, InvalidUtf8IsReplacedAndCounted) {
  // References from Python: bytes.decode('utf-8', 'replace').
  std::string path = write("u.csv",
                           "account,time,text\n"
                           "a\xff,1,\"x\xe2\x82y\"\n"            // 1 + 2 bad bytes
                           "b,2,\xed\xa0\x80 ok \xe2\x82\xac\n"  // surrogate: 3 bad bytes
                           "c,3,\xf0\x9f\x98\n"                  // truncated 4-byte: 3
                           "d,4,\xe0\x80\xaf|\xe0\xa0\x80|\xf0\x8f\xbf\xbf|\xf4\x8f\xbf\xbf\n");
  post_reader r({path}, {});
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 4u);
  EXPECT_EQ(posts[0].account, "a\xef\xbf\xbd");
  EXPECT_EQ(posts[0].text, "x\xef\xbf\xbdy");
  EXPECT_EQ(posts[1].text, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok \xe2\x82\xac");
  EXPECT_EQ(posts[2].text, "\xef\xbf\xbd");
  // overlong 3-byte form: 3 bytes bad; smallest 3-byte form kept; overlong 4-byte: 4 bad;
  // U+10FFFF kept.
  EXPECT_EQ(posts[3].text,
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xe0\xa0\x80|"
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xf4\x8f\xbf\xbf");
  EXPECT_EQ(r.stats().invalid_utf8_bytes, 1 + 2 + 3 + 3 + 3 + 4);
}

TEST_F(IngestReaderTest, UnterminatedQuoteNamesTheLineWhereTheFieldStarts) {
  std::string path = write("uq.csv",
                           "account,time,text\n"
                           "a,1,ok\n"
                           "b,2,\"never\nclosed\nat all\n");
  std::string msg = read_error({path});
  EXPECT_HAS(msg, path + ":3: unterminated quoted field");
}

TEST_F(IngestReaderTest, RecordsAcrossChunkBoundariesAndAHugeField) {
  // > 4 MiB so that records straddle the reader's buffer refills; one 9 MiB field forces growth.
  std::string csv = "account,time,text\n";
  const int n = 120000;
  for (int i = 0; i < n; ++i) {
    csv += "acct" + std::to_string(i % 977) + "," + std::to_string(1600000000 + i) + ",\"row " +
           std::to_string(i) + ", two\nlines and \"\"q\"\" padding padding\"\n";
    if (i == 70000) csv += "big,1700000000," + std::string(9 << 20, 'x') + "\n";
  }
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"big.csv", csv}, {"big.csv.gz", gzip(csv)}, {"big.csv.zst", zstd(csv)}}) {
    post_reader r({write(name, bytes)}, {});
    auto posts = read_all(r, 4096);
    ASSERT_EQ(posts.size(), static_cast<std::size_t>(n + 1)) << name;
    for (int i : {0, 1, 4095, 4096, 69999, 70000, 70002, n - 1}) {
      const post& p = posts[static_cast<std::size_t>(i <= 70000 ? i : i + 1)];
      EXPECT_EQ(p.account, "acct" + std::to_string(i % 977)) << name << " " << i;
      EXPECT_EQ(p.time, 1600000000 + i);
      EXPECT_EQ(p.text, "row " + std::to_string(i) + ", two\nlines and \"q\" padding padding");
      EXPECT_EQ(p.line, 2 + 2 * static_cast<std::int64_t>(i) + (i > 70000 ? 1 : 0)) << name;
    }
    EXPECT_EQ(posts[70001].text.size(), std::size_t(9) << 20);
    EXPECT_EQ(posts[70001].line, 2 + 2 * 70001);
    EXPECT_EQ(r.stats().bytes_read, static_cast<std::int64_t>(csv.size()));
    EXPECT_DOUBLE_EQ(r.fraction_done(), 1.0);
  }
}

// ---------------------------------------------------------------------------------------------
// Compression

const char* kSmallCsv = "account,time,text\nu1,1,one\nu2,2,\"two, too\"\nu3,3,three\n";

TEST_F(IngestReaderTest, GzipAndZstdAreDetectedFromContentNotName) {
  std::string plain = write("plain.gz", kSmallCsv);  // misleading names on purpose
  std::string gz = write("gz.csv", gzip(kSmallCsv));
  std::string zs = write("zs.txt", zstd(kSmallCsv));
  post_reader r({plain, gz, zs}, {});
  auto d = r.describe();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], plain + ": plain, CSV, preset generic (detected from the header)");
  EXPECT_EQ(d[1], gz + ": gzip, CSV, preset generic (detected from the header)");
  EXPECT_EQ(d[2], zs + ": zstd, CSV, preset generic (detected from the header)");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 9u);
  for (int f = 0; f < 3; ++f) {
    EXPECT_EQ(posts[3 * f + 1].text, "two, too");
    EXPECT_EQ(posts[3 * f + 1].file, f);
    EXPECT_EQ(posts[3 * f + 2].line, 4);
  }
}

TEST_F(IngestReaderTest, MultiMemberGzipIsReadToTheEnd) {
  std::string a = "account,time,text\nu1,1,one\n";
  std::string b = "u2,2,two\n";
  auto posts = read_files({write("mm.gz", gzip(a) + gzip(b))});
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].account, "u2");
  EXPECT_EQ(posts[1].line, 3);
}

TEST_F(IngestReaderTest, TruncatedCompressedFilesAreErrors) {
  std::string big = "account,time,text\n";
  for (int i = 0; i < 20000; ++i) big += "u" + std::to_string(i) + "," + std::to_string(i) + ",t\n";
  std::string gz = gzip(big), zs = zstd(big);
  std::string tg = write("t.gz", gz.substr(0, gz.size() / 2));
  std::string tz = write("t.zst", zs.substr(0, zs.size() / 2));
  std::string msg = read_error({tg});
  EXPECT_HAS(msg, tg + ": truncated gzip");
  msg = read_error({tz});
  EXPECT_HAS(msg, tz + ": truncated zstd");
  // Only the 8-byte trailer missing.
  std::string tg2 = write("t2.gz", gz.substr(0, gz.size() - 8));
  EXPECT_HAS(read_error({tg2}), tg2 + ": truncated gzip");
  std::string corrupt = gz;
  corrupt[corrupt.size() / 2] ^= 0x55;
  corrupt[corrupt.size() / 2 + 1] ^= 0x55;
  std::string cg = write("c.gz", corrupt);
  EXPECT_HAS(read_error({cg}), cg + ": ");
}

// ---------------------------------------------------------------------------------------------
// JSON lines

TEST_F(IngestReaderTest, TwitterV1TweetsIncludingRetweetsAndReplies) {
  std::string jl =
      R"({"id":1,"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","full_text":"hello https://t.co/a","user":{"id":10,"id_str":"10","screen_name":"ann"},"in_reply_to_status_id_str":null,"entities":{"urls":[{"url":"https://t.co/a","expanded_url":"https://example.org/a"}]}})"
      "\n"
      R"({"id_str":"2","created_at":"Wed Oct 10 20:19:25 +0000 2018","text":"RT @ann: hello…","user":{"id_str":"11","screen_name":"bob"},"retweeted_status":{"id_str":"1","full_text":"hello https://t.co/a","entities":{"urls":[{"expanded_url":"https://example.org/a"}]}},"entities":{"urls":[]}})"
      "\n\n"
      R"({"id_str":"3","created_at":"Wed Oct 10 20:20:00 +0000 2018","text":"trunc…","extended_tweet":{"full_text":"the full text","entities":{"urls":[{"expanded_url":"https://x.org/1"},{"expanded_url":"https://x.org/2"}]}},"user":{"id_str":"12","screen_name":"cy"},"in_reply_to_status_id_str":"2","entities":{"urls":[]}})"
      "\n";
  std::string path = write("v1.jsonl", jl);
  post_reader r({path}, {});
  EXPECT_EQ(r.describe()[0],
            path + ": plain, JSON lines, preset twitter_v1 (detected from the first record)");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[0].id, "1");
  EXPECT_EQ(posts[0].account, "10");
  EXPECT_EQ(posts[0].handle, "ann");
  EXPECT_EQ(posts[0].time, 1539202764);
  EXPECT_EQ(posts[0].text, "hello https://t.co/a");
  EXPECT_EQ(posts[0].reply, "");
  EXPECT_EQ(posts[0].urls, std::vector<std::string>{"https://example.org/a"});
  EXPECT_EQ(posts[1].repost, "1");
  EXPECT_EQ(posts[1].text, "hello https://t.co/a");  // the retweeted status's text
  EXPECT_EQ(posts[1].urls, std::vector<std::string>{"https://example.org/a"});
  EXPECT_EQ(posts[2].text, "the full text");
  EXPECT_EQ(posts[2].reply, "2");
  EXPECT_EQ(posts[2].urls, (std::vector<std::string>{"https://x.org/1", "https://x.org/2"}));
  EXPECT_EQ(posts[2].line, 4);  // line 3 is blank
}

TEST_F(IngestReaderTest, TwitterV2TweetsAndTwarc2Pages) {
  std::string page =
      R"({"data":[)"
      R"({"id":"100","author_id":"7","created_at":"2024-02-29T22:59:59.000Z","text":"first","entities":{"urls":[{"expanded_url":"https://e.org/1"}]}},)"
      R"({"id":"101","author_id":"8","created_at":"2024-02-29T23:00:00.000Z","text":"RT @x: first","referenced_tweets":[{"type":"retweeted","id":"100"}]},)"
      R"({"id":"102","author_id":"7","created_at":"2024-02-29T23:00:01.000Z","text":"@y reply","referenced_tweets":[{"type":"replied_to","id":"101"},{"type":"quoted","id":"5"}]})"
      R"(],"includes":{"users":[{"id":"7","username":"seven"},{"id":"8","username":"eight"}],)"
      R"("tweets":[{"id":"100","text":"first full"}]},"meta":{"result_count":3}})";
  std::string single =
      R"({"id":"200","author_id":"9","created_at":"2024-03-01T00:00:00Z","text":"alone","author":{"username":"nine"}})";
  std::string path = write("v2.jsonl", page + "\n" + single + "\n");
  post_reader r({path}, {});
  EXPECT_EQ(r.describe()[0],
            path + ": plain, JSON lines, preset twitter_v2 (detected from the first record)");
  auto posts = read_all(r, 2);  // a page's tweets span several batches
  ASSERT_EQ(posts.size(), 4u);
  EXPECT_EQ(posts[0].id, "100");
  EXPECT_EQ(posts[0].account, "7");
  EXPECT_EQ(posts[0].handle, "seven");
  EXPECT_EQ(posts[0].time, 1709247599);
  EXPECT_EQ(posts[0].urls, std::vector<std::string>{"https://e.org/1"});
  EXPECT_EQ(posts[1].handle, "eight");
  EXPECT_EQ(posts[1].repost, "100");
  EXPECT_EQ(posts[1].text, "first full");  // the retweeted tweet from includes
  EXPECT_EQ(posts[2].reply, "101");
  EXPECT_EQ(posts[2].repost, "");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(posts[static_cast<std::size_t>(i)].line, 1);
  EXPECT_EQ(posts[3].handle, "nine");
  EXPECT_EQ(posts[3].line, 2);
  EXPECT_EQ(r.stats().records, 4);
}

TEST_F(IngestReaderTest, JsonPathsMapNestedFieldsAndArrayIndices) {
  std::string path = write(
      "p.jsonl",
      R"({"u":{"id":5,"name":"five"},"t":1700000000.9,"msg":"hi","links":["a","b"],"tags":["x","y"]})"
      "\n"
      R"({"u":{"id":"s6"},"t":"2024-02-29T23:59:59+01:00","msg":"yo","links":"c d","tags":["z"]})"
      "\n");
  reader_options opt;
  opt.map.account = "u.id";
  opt.map.handle = "u.name";
  opt.map.time = "t";
  opt.map.text = "msg";
  opt.map.urls = "links";
  opt.map.id = "tags.0";
  post_reader r({path}, opt);
  EXPECT_HAS(r.describe()[0], "no preset (field map only)");
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].account, "5");
  EXPECT_EQ(posts[0].handle, "five");
  EXPECT_EQ(posts[0].time, 1700000000);
  EXPECT_EQ(posts[0].urls, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(posts[0].id, "x");
  EXPECT_EQ(posts[1].account, "s6");
  EXPECT_EQ(posts[1].handle, "");
  EXPECT_EQ(posts[1].time, 1709247599);
  EXPECT_EQ(posts[1].urls, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(posts[1].id, "z");

  // user.id_str style override on a v1 file.
  std::string v1 = write(
      "v1.jsonl",
      R"({"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"a","user":{"id_str":"10","screen_name":"ann"}})"
      "\n");
  reader_options o2;
  o2.map.account = "user.screen_name";
  auto p2 = read_files({v1}, o2);
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].account, "ann");
}

TEST_F(IngestReaderTest, JsonPathThatDoesNotResolveIsAnError) {
  std::string path = write("p.jsonl",
                           "\n"
                           R"({"user":{"id_str":"1"},"created_at":"x"})"
                           "\n");
  reader_options opt;
  opt.map.account = "user.idd";
  std::string msg = read_error({path}, opt);
  EXPECT_HAS(msg, path + ":2: JSON path 'user.idd' (account) does not resolve");
  EXPECT_HAS(msg, "user, created_at");
}

TEST_F(IngestReaderTest, JsonErrorsNameFileAndLine) {
  std::string ok = R"({"account":"a","time":1,"text":"x"})";
  std::string bad = write("bad.jsonl", ok + "\n" + ok + "\n\n{\"account\": nope}\n");
  EXPECT_HAS(read_error({bad}), bad + ":4: not valid JSON");
  std::string arr = write("arr.jsonl", ok + "\n[1,2]\n");
  EXPECT_HAS(read_error({arr}), arr + ":2: expected a JSON object");
  std::string miss = write("miss.jsonl", ok + "\n"
                                              R"({"account":"b","text":"y"})"
                                              "\n");
  post_reader r({miss}, {});
  auto posts = read_all(r);
  EXPECT_EQ(posts.size(), 1u);
  ASSERT_EQ(r.stats().first_skipped.size(), 1u);
  EXPECT_EQ(r.stats().first_skipped[0].line, 2);
  EXPECT_HAS(r.stats().first_skipped[0].reason, "no time");
  reader_options strict;
  strict.strict = true;
  EXPECT_HAS(read_error({miss}, strict), miss + ":2: no time");
}

TEST_F(IngestReaderTest, JsonInvalidUtf8IsReplacedAndCounted) {
  std::string path =
      write("u.jsonl", "{\"account\":\"a\xc0\xaf\",\"time\":5,\"text\":\"ok\xff!\"}\n");
  post_reader r({path}, {});
  auto posts = read_all(r);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].account, "a\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(posts[0].text, "ok\xef\xbf\xbd!");
  EXPECT_EQ(r.stats().invalid_utf8_bytes, 3);

  // An unpaired UTF-16 surrogate escape (seen in X/Twitter data) becomes U+FFFD and counts 1;
  // a proper pair is kept.
  std::string sur = write("s.jsonl", R"({"account":"a","time":1,"text":"x\ud800y \ud83d\ude00"})"
                                     "\n");
  post_reader r2({sur}, {});
  auto p2 = read_all(r2);
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].text, "x\xef\xbf\xbdy \xf0\x9f\x98\x80");
  EXPECT_EQ(r2.stats().invalid_utf8_bytes, 1);
}

TEST_F(IngestReaderTest, FirstLineLongerThanTheProbeBufferIsReadWhole) {
  std::string text(700 << 10, 'w');
  std::string line = R"({"account":"a","time":7,"text":")" + text + "\"}\n";
  auto posts = read_files({write("long.jsonl", line + line)});
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].text, text);
  EXPECT_EQ(posts[1].line, 2);
}

TEST_F(IngestReaderTest, PresetForTheWrongFormatIsAnError) {
  std::string jl = write("a.jsonl", R"({"account":"a","time":1})"
                                    "\n");
  reader_options q;
  q.pre = preset::qut;
  EXPECT_HAS(read_error({jl}, q), jl + ": preset qut reads CSV");
  std::string csv = write("a.csv", kSmallCsv);
  reader_options v1;
  v1.pre = preset::twitter_v1;
  EXPECT_HAS(read_error({csv}, v1), csv + ": preset twitter_v1 reads JSON lines");
}

// ---------------------------------------------------------------------------------------------
// Files, globs and bad input

TEST_F(IngestReaderTest, SeveralFilesOfMixedFormatsInOrder) {
  std::string a = write("a.csv", kSmallCsv);
  std::string b = write("b.jsonl.gz", gzip(R"({"account":"j1","time":9,"text":"json"})"
                                           "\n"));
  std::string c = write("c.csv", "account,time,text\nlast,10,z\n");
  post_reader r({a, b, c}, {});
  EXPECT_EQ(r.fraction_done(), 0.0);
  std::vector<post> batch;
  ASSERT_TRUE(r.next(batch, 2));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_GT(r.fraction_done(), 0.0);
  auto rest = read_all(r, 2);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[1].account, "j1");
  EXPECT_EQ(rest[1].file, 1);
  EXPECT_EQ(rest[1].line, 1);
  EXPECT_EQ(rest[2].account, "last");
  EXPECT_EQ(rest[2].file, 2);
  EXPECT_DOUBLE_EQ(r.fraction_done(), 1.0);
  EXPECT_FALSE(r.next(batch, 2));
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(r.stats().posts, 5);
  EXPECT_HAS(r.describe()[1], "gzip, JSON lines, preset generic");
}

TEST_F(IngestReaderTest, ExpandInputsGlobsAndMissingFiles) {
  std::string a2 = write("a2.csv", kSmallCsv);
  std::string a1 = write("a1.csv", kSmallCsv);
  std::string b = write("b.csv", kSmallCsv);
  auto got = expand_inputs({dir_ + "/a*.csv", b});
  EXPECT_EQ(got, (std::vector<std::string>{a1, a2, b}));
  std::string pat = dir_ + "/zz*.csv";
  EXPECT_HAS(input_error_of([&] { expand_inputs({pat}); }), pat + ": no file matches");
  std::string missing = dir_ + "/missing.csv";
  EXPECT_HAS(input_error_of([&] { expand_inputs({a1, missing}); }), missing + ": ");
  EXPECT_HAS(input_error_of([&] { expand_inputs({dir_}); }), "is a directory");
  auto posts = read_files(expand_inputs({dir_ + "/*.csv"}));
  EXPECT_EQ(posts.size(), 9u);
}

TEST_F(IngestReaderTest, BadInputFilesAreOneLineErrorsNamingTheFile) {
  std::string missing = dir_ + "/nope.csv";
  std::string msg = input_error_of([&] { post_reader r({missing}, {}); });
  EXPECT_HAS(msg, missing + ": cannot open");
  std::string empty = write("empty.csv", "");
  EXPECT_HAS(read_error({empty}), empty + ": empty file");
  std::string empty_gz = write("empty.gz", gzip(""));
  EXPECT_HAS(read_error({empty_gz}), empty_gz + ": empty file");
  std::string blank = write("blank.jsonl", "\n  \n");
  EXPECT_HAS(read_error({blank}), blank + ": empty file");
  std::string header = write("header.csv", "account,time,text\r\n\r\n");
  EXPECT_HAS(read_error({header}), header + ": empty file: a header row and no records");
  std::string binary = write("bin.csv", std::string("account,time,text\na,1,x\nb,2,\0y\n", 31));
  EXPECT_HAS(read_error({binary}), binary + ":3: NUL byte");
  for (const std::string& m : {msg, read_error({binary}), read_error({header})})
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  // The constructor checks every file, not only the first.
  std::string good = write("good.csv", kSmallCsv);
  EXPECT_HAS(input_error_of([&] { post_reader r({good, empty}, {}); }), empty + ": empty file");
}

TEST_F(IngestReaderTest, SmallBatchesGiveTheSameSequence) {
  std::string csv = "account,time,text\n";
  for (int i = 0; i < 57; ++i) csv += "u" + std::to_string(i) + "," + std::to_string(i) + ",t\n";
  std::string path = write("s.csv", csv);
  post_reader r1({path}, {}), r2({path}, {});
  auto one = read_all(r1, 1), big = read_all(r2, 1000);
  ASSERT_EQ(one.size(), 57u);
  ASSERT_EQ(big.size(), 57u);
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].account, "u" + std::to_string(i));
    EXPECT_EQ(one[i].account, big[i].account);
    EXPECT_EQ(one[i].line, big[i].line);
  }
}

}  // namespace
}  // namespace chorus::ingest
