// Pseudonymised exports and reports (README, "Sharing results: pseudonymised exports"):
// HMAC-SHA256 against RFC 4231's test vectors, the pseudonym rule, chorus keygen and key files,
// the Python report's pseudonyms against the C++ ones, and end to end on a generated posts
// corpus: no original account id, handle, post id or link in any pseudonymised export or report;
// the same key gives the same pseudonyms, another key others; mapping files; mistakes. Also the
// p-values of chorus detect --significance in exports and reports, and --max-p.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/io/h5.hpp"
#include "chorus/outputs/pseudonym.hpp"
#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::cli_test;

namespace {

// Hex written here, not by the library: the RFC test compares against the RFC's own digits.
std::string hex_of(const unsigned char* p, std::size_t n) {
  std::string s;
  char b[3];
  for (std::size_t k = 0; k < n; ++k) {
    std::snprintf(b, sizeof b, "%02x", p[k]);
    s += b;
  }
  return s;
}

std::string repeat(unsigned char c, std::size_t n) { return std::string(n, static_cast<char>(c)); }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0xFFFFu;
  return st.st_mode & 07777;
}

// A key file with known bytes 0, 1, ..., 31 (or `seed` + k), written by hand (mode 0600).
pseudonym_key known_key(const std::string& path, unsigned seed = 0) {
  pseudonym_key key;
  for (std::size_t k = 0; k < key.bytes.size(); ++k)
    key.bytes[k] = static_cast<unsigned char>(seed + k);
  write_file(path, "chorus-pseudonym-key 1\n" + hex_of(key.bytes.data(), key.bytes.size()) + "\n");
  ::chmod(path.c_str(), 0600);
  key.path = path;
  return key;
}

// The rule, spelled out: prefix + first 16 bytes of HMAC-SHA256(key, kind NUL value) in hex.
std::string expected_pseudonym(const pseudonym_key& key, const std::string& kind,
                               const std::string& value) {
  const auto mac = hmac_sha256(key.bytes.data(), key.bytes.size(), kind + '\0' + value);
  return std::string(1, kind[0]) + "_" + hex_of(mac.data(), 16);
}

// Every maximal run of [A-Za-z0-9_] in `text`: ids and handles are found as whole tokens.
std::set<std::string> tokens_of(const std::string& text) {
  std::set<std::string> t;
  std::string cur;
  for (const char c : text) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (word) {
      cur += c;
    } else if (!cur.empty()) {
      t.insert(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) t.insert(cur);
  return t;
}

// The pseudonyms of one kind ('a', 'h' or 'p') among `tokens`.
std::set<std::string> pseudonyms_in(const std::set<std::string>& tokens, char kind) {
  std::set<std::string> out;
  for (const std::string& t : tokens) {
    bool ok = t.size() == 34 && t[0] == kind && t[1] == '_';
    for (std::size_t k = 2; ok && k < t.size(); ++k)
      ok = (t[k] >= '0' && t[k] <= '9') || (t[k] >= 'a' && t[k] <= 'f');
    if (ok) out.insert(t);
  }
  return out;
}

// chorus report needs Debian's python3 with numpy, h5py and matplotlib.
bool report_tool_present() {
  return shell("/usr/bin/python3 -c 'import numpy, h5py, matplotlib' >/dev/null 2>&1").first == 0;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

}  // namespace

TEST(Pseudonym, HmacSha256MatchesRfc4231) {
  struct vec {
    std::string key, data, mac;
  };
  std::string key4;
  for (int k = 1; k <= 25; ++k) key4 += static_cast<char>(k);
  const std::vector<vec> cases = {
      {repeat(0x0b, 20), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {repeat(0xaa, 20), repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {repeat(0x0c, 20), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},  // 128 bits
      {repeat(0xaa, 131), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {repeat(0xaa, 131),
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const vec& v = cases[k];
    const auto mac =
        hmac_sha256(reinterpret_cast<const unsigned char*>(v.key.data()), v.key.size(), v.data);
    EXPECT_EQ(hex_of(mac.data(), v.mac.size() / 2), v.mac) << "RFC 4231 test case " << k + 1;
  }
}

TEST(Pseudonym, RuleDomainSeparationHandlesLinksAndTexts) {
  const std::string dir = test::scratch_dir("pseudonym_rule");
  const pseudonym_key key = known_key(dir + "/key");
  EXPECT_EQ(pseudonym(key, pseudonym_kind::account, "1234567"),
            expected_pseudonym(key, "account", "1234567"));
  EXPECT_EQ(pseudonym(key, pseudonym_kind::post, "1234567"),
            expected_pseudonym(key, "post", "1234567"));
  EXPECT_EQ(pseudonym(key, pseudonym_kind::handle, "alice_1"),
            expected_pseudonym(key, "handle", "alice_1"));
  // the kind separates domains: the same digits as an account and as a post differ
  EXPECT_NE(pseudonym(key, pseudonym_kind::account, "1234567").substr(2),
            pseudonym(key, pseudonym_kind::post, "1234567").substr(2));
  // handles without '@' and without ASCII case
  EXPECT_EQ(pseudonym(key, pseudonym_kind::handle, "@Alice_1"),
            pseudonym(key, pseudonym_kind::handle, "alice_1"));
  EXPECT_NE(pseudonym(key, pseudonym_kind::handle, "alice_2"),
            pseudonym(key, pseudonym_kind::handle, "alice_1"));
  // another key, other pseudonyms
  const pseudonym_key other = known_key(dir + "/other", 7);
  EXPECT_NE(pseudonym(other, pseudonym_kind::account, "1234567"),
            pseudonym(key, pseudonym_kind::account, "1234567"));

  EXPECT_EQ(link_domain("https://WWW.Example.org:8443/a/b?c=1#d"), "example.org");
  EXPECT_EQ(link_domain("http://user:pw@news.example.com/x"), "news.example.com");
  EXPECT_EQ(link_domain("example.com/path"), "example.com");
  EXPECT_EQ(link_domain("www.foo.de"), "foo.de");
  EXPECT_EQ(link_domain("//cdn.example.net/x"), "cdn.example.net");
  EXPECT_EQ(link_domain("https://[2001:db8::1]:80/x"), "[2001:db8::1]");
  EXPECT_EQ(link_domain("https:///nohost"), "");

  pseudonymizer pz(key, false);
  const std::string h = pseudonym(key, pseudonym_kind::handle, "bob");
  EXPECT_EQ(pz.text("RT @Bob: see https://www.Example.org/a?x=1 now"),
            "RT @" + h + ": see example.org now");
  // a link runs to the next space; no mention or link inside a word (mails, xhttp)
  EXPECT_EQ(pz.text("mail me@example.com, (www.x.io/a) xhttp://no @x@y"),
            "mail me@example.com, (x.io xhttp://no @" +
                pseudonym(key, pseudonym_kind::handle, "x") + "@y");
  EXPECT_EQ(pz.text("and http://"), "and [link]");
  pseudonymizer redact(key, true);
  EXPECT_EQ(redact.text("RT @Bob: https://example.org/a"), "[redacted]");
  // remembered for a mapping: (pseudonym, kind, original)
  pz.account(42);
  EXPECT_EQ(pz.seen().count({expected_pseudonym(key, "account", "42"), "account", "42"}), 1u);
  EXPECT_EQ(pz.seen().count({h, "handle", "Bob"}), 1u);
}

// The report tool's pseudonyms (Python: hmac, hashlib) equal the library's (OpenSSL), and so do
// its domains and texts.
TEST(Pseudonym, PythonReportToolGivesTheSamePseudonyms) {
  const std::string dir = test::scratch_dir("pseudonym_python");
  if (!report_tool_present())
    CHORUS_SKIP_MISSING_TOOL("chorus report needs /usr/bin/python3 with numpy, h5py, matplotlib");
  const pseudonym_key key = known_key(dir + "/key", 3);
  const std::vector<std::pair<std::string, std::string>> values = {
      {"account", "0"},
      {"account", "1000000001"},
      {"account", "9223372036854775807"},
      {"post", "1946815861711856758"},
      {"handle", "NeverwinLanmen149"},
      {"handle", "@MiXeD_Case"},
      {"handle", "\xc3\x9cnicode\xc3\x9f"},
      {"link", "https://WWW.Example.org:8443/a/b?c=1#d"},
      {"link", "user@host.example:99"},
      {"link", "no-scheme.example.com/x/y"},
      {"text", "RT @Bob_1 see https://www.Example.org/a?x=1 and www.foo.de/x; @ alone, a@b.c"},
      {"text", "(http://a.b/c) @\xc3\xa9t\xc3\xa9 xhttp://no @x@y"},
      {"redact", "RT @Bob_1 https://example.org"},
  };
  std::string in;
  for (const auto& [kind, value] : values) in += kind + "\t" + value + "\n";
  write_file(dir + "/values.tsv", in);
  const std::string script =
      "import sys; sys.path.insert(0, sys.argv[1]); import chorus_report as r\n"
      "ps = r.Pseudonyms(sys.argv[2]); red = r.Pseudonyms(sys.argv[2], True)\n"
      "for line in open(sys.argv[3], encoding='utf-8'):\n"
      "    kind, value = line.rstrip('\\n').split('\\t', 1)\n"
      "    out = {'link': lambda v: r.link_domain(v), 'text': ps.text, 'redact': red.text,\n"
      "           'account': ps.account, 'post': ps.post, 'handle': ps.handle}[kind](value)\n"
      "    print(out)\n"
      "print(ps.fingerprint)\n";
  write_file(dir + "/check.py", script);
  const auto [rc, out] =
      shell("/usr/bin/python3 '" + dir + "/check.py' '" + std::string(CHORUS_SOURCE_DIR) +
            "/host/outputs' '" + key.path + "' '" + dir + "/values.tsv' 2>&1");
  ASSERT_EQ(rc, 0) << out;
  const std::vector<std::string> got = lines_of(out);
  ASSERT_EQ(got.size(), values.size() + 1) << out;
  pseudonymizer pz(key, false), red(key, true);
  for (std::size_t k = 0; k < values.size(); ++k) {
    const auto& [kind, v] = values[k];
    std::string want;
    if (kind == "account") want = pz.account(std::stoll(v));
    if (kind == "post") want = pz.post(std::stoll(v));
    if (kind == "handle") want = pz.handle(v);
    if (kind == "link") want = link_domain(v);
    if (kind == "text") want = pz.text(v);
    if (kind == "redact") want = red.text(v);
    EXPECT_EQ(got[k], want) << kind << " " << v;
  }
  EXPECT_EQ(got.back(), key.fingerprint());
}

TEST(Keygen, MakesAPrivateKeyAndNeverReplacesOneWithoutForce) {
  const std::string dir = test::scratch_dir("keygen");
  const std::string key = dir + "/k.key";
  // a permissive umask must not make the key readable by others
  const auto [rc, out] =
      shell("umask 000; '" + std::string(CHORUS_BINARY) + "' keygen --out '" + key + "' 2>&1");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(file_mode(key), 0600u);
  const std::string text = slurp(key);
  const std::vector<std::string> l = lines_of(text);
  ASSERT_EQ(l.size(), 2u) << text;
  EXPECT_EQ(l[0], "chorus-pseudonym-key 1");
  EXPECT_EQ(l[1].size(), 64u);
  EXPECT_EQ(l[1].find_first_not_of("0123456789abcdef"), std::string::npos);
  std::vector<std::string> warnings;
  const pseudonym_key k = read_pseudonym_key(key, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_NE(out.find(k.fingerprint()), std::string::npos) << out;

  cli_result r = run_cli({"keygen", "--out", key}, dir);  // exists: refused, key unchanged
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines_in(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(key), text);
  r = run_cli({"keygen", "--out", key, "--force"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(key), text);  // 256 fresh random bits
  EXPECT_EQ(file_mode(key), 0600u);
  r = run_cli({"keygen", "--out", dir + "/missing/k.key"}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_cli({"keygen", "--out", dir}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  // nothing but the key is left in the directory
  const auto [lrc, listing] = shell("ls -A '" + dir + "' | grep -v '^\\.cli_'");
  EXPECT_EQ(listing, "k.key\n");
}

TEST(Keygen, KeyFilesAreCheckedWhenRead) {
  const std::string dir = test::scratch_dir("keyread");
  const std::string good = "chorus-pseudonym-key 1\n" + std::string(64, 'a') + "\n";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "expected 2 lines"},
      {"chorus-pseudonym-key 1", "expected 2 lines"},
      {"some-other-key 1\n" + std::string(64, 'a') + "\n", "first line"},
      {"chorus-pseudonym-key 2\n" + std::string(64, 'a') + "\n", "version '2'"},
      {"chorus-pseudonym-key 1\n" + std::string(63, 'a') + "\n", "64 hex digits"},
      {"chorus-pseudonym-key 1\n" + std::string(63, 'a') + "g\n", "hex digits only"},
      {good + "more\n", "64 hex digits"},
      {std::string(500, 'x'), "too long"},
  };
  for (const auto& [text, why] : bad) {
    write_file(dir + "/bad", text);
    ::chmod((dir + "/bad").c_str(), 0600);
    const std::string msg = test::message_of([&] { read_pseudonym_key(dir + "/bad"); });
    EXPECT_NE(msg.find(why), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir + "/bad"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_NE(test::message_of([&] { read_pseudonym_key(dir + "/none"); }).find("chorus keygen"),
            std::string::npos);
  EXPECT_NE(test::message_of([&] { read_pseudonym_key(dir); }).find("not a regular file"),
            std::string::npos);
  write_file(dir + "/ok", good);
  ::chmod((dir + "/ok").c_str(), 0600);
  std::vector<std::string> warnings;
  EXPECT_EQ(read_pseudonym_key(dir + "/ok", &warnings).bytes[0], 0xaa);
  EXPECT_TRUE(warnings.empty());
  ::chmod((dir + "/ok").c_str(), 0644);
  read_pseudonym_key(dir + "/ok", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("0644"), std::string::npos) << warnings[0];
}

TEST(Keygen, MappingFilesMergeAndRefuseOthers) {
  const std::string dir = test::scratch_dir("mapping_merge");
  const pseudonym_key key = known_key(dir + "/k", 5);
  pseudonymizer pz(key, false);
  pz.account(7);
  pz.handle("Comma, \"quoted\" handle");
  EXPECT_EQ(merge_pseudonym_mapping(key, pz.seen()), 2u);
  const std::string map = pseudonym_mapping_path(key.path);
  EXPECT_EQ(map, dir + "/k.mapping.csv");
  EXPECT_EQ(file_mode(map), 0600u);
  const std::string first = slurp(map);
  EXPECT_NE(first.find(",handle,\"Comma, \"\"quoted\"\" handle\"\n"), std::string::npos) << first;
  EXPECT_EQ(merge_pseudonym_mapping(key, pz.seen()), 0u);  // read back (quotes and all): no change
  EXPECT_EQ(slurp(map), first);
  pz.post(7);
  EXPECT_EQ(merge_pseudonym_mapping(key, pz.seen()), 1u);
  EXPECT_EQ(lines_of(slurp(map)).size(), 4u);
  // another key's rows, a broken header, a broken row: refused, file left as it was
  const pseudonym_key other = known_key(dir + "/o", 6);
  write_file(pseudonym_mapping_path(other.path), slurp(map));
  EXPECT_NE(test::message_of([&] {
              merge_pseudonym_mapping(other, {});
            }).find("was not made with key file"),
            std::string::npos);
  for (const std::string& text :
       {std::string("pseudonym,kind\n"), std::string("pseudonym,kind,original\nx,planet,1\n"),
        std::string("pseudonym,kind,original\nx,account\n")}) {
    write_file(pseudonym_mapping_path(other.path), text);
    const std::string msg = test::message_of([&] { merge_pseudonym_mapping(other, {}); });
    EXPECT_TRUE(msg.find("header") != std::string::npos ||
                msg.find("malformed") != std::string::npos)
        << msg;
    EXPECT_EQ(slurp(pseudonym_mapping_path(other.path)), text);
  }
}

namespace {

// A generated posts corpus, ingested, and the originals that must never appear pseudonymised.
struct corpus {
  std::string dir, input;
  std::set<std::string> ids, handles, posts;  // decimal ids, handles, decimal post ids
  /// host/path of every link with a path, by host (searched host first: fast on large files)
  std::map<std::string, std::set<std::string>> links;
};

// "https://www.host/path?q" -> "host/path?q" (empty when the link has no path).
std::string host_and_path(std::string u) {
  const std::size_t s = u.find("://");
  if (s != std::string::npos) u.erase(0, s + 3);
  if (u.rfind("www.", 0) == 0) u.erase(0, 4);
  const std::size_t slash = u.find('/');
  return slash == std::string::npos || slash + 1 >= u.size() ? "" : u;
}

corpus make_corpus() {
  corpus c;
  c.dir = test::scratch_dir("pseudonym_e2e");
  c.input = c.dir + "/in.h5";
  auto r = run_cli({"generate", "--posts", "--accounts", "1000", "--seed", "5", "--out",
                    c.dir + "/posts.csv", "--quiet"},
                   c.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_cli({"ingest", c.dir + "/posts.csv", "--out", c.input, "--min-posts", "1", "--dim", "16",
               "--quiet"},
              c.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(c.input);
  for (const std::int64_t id : h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id")))
    c.ids.insert(std::to_string(id));
  for (const std::string& h : h5::read_strings(h5::open_dataset(f, "/accounts/handle")))
    c.handles.insert(h);
  for (const char* d : {"/posts/id", "/posts/repost", "/posts/reply"})
    for (const std::int64_t p : h5::read_all<std::int64_t>(h5::open_dataset(f, d)))
      if (p >= 0) c.posts.insert(std::to_string(p));
  for (const std::string& u : h5::read_strings(h5::open_dataset(f, "/posts/urls")))
    if (const std::string l = host_and_path(u); !l.empty())
      c.links[l.substr(0, l.find('/'))].insert(l);
  return c;
}

// The originals found in `text` (at most a few of each kind, for the message); empty: none.
std::vector<std::string> originals_in(const corpus& c, const std::string& text) {
  const std::set<std::string> toks = tokens_of(text);
  std::vector<std::string> found;
  for (const auto* set : {&c.ids, &c.handles, &c.posts}) {
    int n = 0;
    for (const std::string& v : *set)
      if (toks.count(v) && n++ < 3) found.push_back(v);
  }
  int n = 0;
  for (const auto& [host, links] : c.links)
    for (std::size_t at = text.find(host); at != std::string::npos; at = text.find(host, at + 1))
      for (const std::string& u : links)
        if (text.compare(at, u.size(), u) == 0 && n++ < 3) found.push_back(u);
  return found;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// Every file an export or report wrote under `paths`, concatenated.
std::string contents(const std::vector<std::string>& paths) {
  std::string all;
  for (const std::string& p : paths) all += slurp(p) + "\n";
  return all;
}

struct run_files {
  std::vector<std::string> files;  // what the export and report wrote
};

// Export `results` as graphml, gexf and csv and report it, with `key`; the files written.
run_files share(const corpus& c, const std::string& results, const std::string& key,
                const std::string& tag, std::vector<std::string> extra = {}) {
  run_files out;
  const std::string base = c.dir + "/" + tag;
  for (const char* fmt : {"graphml", "gexf", "csv"}) {
    const std::string path = base + "." + fmt;
    std::vector<std::string> a = {"export", results, "--format", fmt, "--out", path};
    if (!key.empty()) a.insert(a.end(), {"--pseudonymize", key});
    a.insert(a.end(), extra.begin(), extra.end());
    const cli_result r = run_cli(a, c.dir);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    if (std::string(fmt) == "csv")
      for (const char* f : {"/clusters.csv", "/members.csv", "/edges.csv"})
        out.files.push_back(path + f);
    else
      out.files.push_back(path);
  }
  std::vector<std::string> a = {"report", results, "--out", base + ".html"};
  if (!key.empty()) a.insert(a.end(), {"--pseudonymize", key});
  const cli_result r = run_cli(a, c.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  out.files.push_back(base + ".html");
  return out;
}

std::string detect(const corpus& c, const std::string& name, std::vector<std::string> args) {
  const std::string out = c.dir + "/" + name + ".h5";
  std::vector<std::string> a = {"detect", "--input", c.input, "--out", out, "--quiet"};
  a.insert(a.end(), args.begin(), args.end());
  const cli_result r = run_cli(a, c.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return out;
}

// Account and handle pseudonyms of every member of the clusters [0, upto) of a results file.
std::pair<std::set<std::string>, std::set<std::string>> member_pseudonyms(
    const std::string& results, const pseudonym_key& key, std::int64_t upto = -1) {
  h5::handle f = h5::open_read(results);
  const auto off = h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/offsets"));
  const auto ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/evidence/cluster_member_ids"));
  const auto hs = h5::read_strings(h5::open_dataset(f, "/evidence/cluster_member_handles"));
  const std::int64_t end = upto < 0 ? off.back() : off[std::min<std::size_t>(upto, off.size() - 1)];
  std::set<std::string> a, h;
  for (std::int64_t q = 0; q < end; ++q) {
    a.insert(expected_pseudonym(key, "account", std::to_string(ids[q])));
    h.insert(expected_pseudonym(key, "handle", normalize_handle(hs[q])));
  }
  return {a, h};
}

}  // namespace

// One corpus for every end-to-end check (generating and ingesting it is the slow part).
TEST(PseudonymisedExports, EndToEnd) {
  if (!report_tool_present())
    CHORUS_SKIP_MISSING_TOOL("chorus report needs /usr/bin/python3 with numpy, h5py, matplotlib");
  const corpus c = make_corpus();
  ASSERT_GT(c.ids.size(), 900u);
  ASSERT_GT(c.links.size(), 5u);
  const pseudonym_key key = known_key(c.dir + "/team.key", 11);
  const pseudonym_key other = known_key(c.dir + "/other.key", 99);
  const std::string dense = detect(c, "dense", {"--significance", "20"});
  const std::string dense2 = detect(c, "dense2", {"--significance", "20"});
  const std::string link = detect(c, "link", {"--view", "co_link"});
  const std::string repost = detect(c, "repost", {"--view", "co_repost", "--min-weight", "2"});

  {
    SCOPED_TRACE("the check finds originals where they are (so that it can fail)");
    const run_files plain_dense = share(c, dense, "", "plain_dense");
    const std::string all = contents(plain_dense.files);
    const std::set<std::string> toks = tokens_of(all);
    const auto [a, h] = member_pseudonyms(dense, key);
    ASSERT_GT(a.size(), 20u);
    int ids = 0, handles = 0;
    for (const std::string& v : c.ids) ids += toks.count(v);
    for (const std::string& v : c.handles) handles += toks.count(v);
    EXPECT_GE(ids, static_cast<int>(a.size()));
    EXPECT_GE(handles, static_cast<int>(a.size()));
    EXPECT_FALSE(originals_in(c, contents(share(c, link, "", "plain_link").files)).empty());
    const std::set<std::string> rep =
        tokens_of(contents(share(c, repost, "", "plain_repost").files));
    int posts = 0;
    for (const std::string& p : c.posts) posts += rep.count(p);
    EXPECT_GT(posts, 0);
  }

  std::map<std::string, run_files> shared;
  for (const auto& [tag, res] : std::vector<std::pair<std::string, std::string>>{
           {"dense", dense}, {"dense2", dense2}, {"link", link}, {"repost", repost}}) {
    SCOPED_TRACE("pseudonymised " + tag);
    shared[tag] = share(c, res, key.path, "ps_" + tag);
    for (const std::string& file : shared[tag].files) {
      const std::string text = slurp(file);
      EXPECT_FALSE(text.empty()) << file;
      EXPECT_EQ(join(originals_in(c, text)), "") << file;
    }
    // every member is there under its pseudonyms, in the exports (graphml, gexf, csv)
    const auto [a, h] = member_pseudonyms(res, key);
    for (std::size_t k = 0; k < 5; ++k) {  // 3 export files + clusters/edges csv
      const std::set<std::string> toks = tokens_of(slurp(shared[tag].files[k]));
      if (shared[tag].files[k].find("clusters.csv") != std::string::npos) continue;
      EXPECT_EQ(pseudonyms_in(toks, 'a'), a) << shared[tag].files[k];
      if (shared[tag].files[k].find("edges.csv") == std::string::npos)
        EXPECT_EQ(pseudonyms_in(toks, 'h'), h) << shared[tag].files[k];
    }
    // the report (Python) names the accounts of its detailed networks as the export (C++) does
    const std::string html = slurp(shared[tag].files.back());
    const std::set<std::string> toks = tokens_of(html);
    const auto [a10, h10] = member_pseudonyms(res, key, 10);
    const std::set<std::string> ra = pseudonyms_in(toks, 'a'), rh = pseudonyms_in(toks, 'h');
    EXPECT_TRUE(std::includes(ra.begin(), ra.end(), a10.begin(), a10.end()));
    EXPECT_TRUE(std::includes(a.begin(), a.end(), ra.begin(), ra.end()));
    EXPECT_TRUE(std::includes(rh.begin(), rh.end(), h10.begin(), h10.end()));
    EXPECT_TRUE(std::includes(h.begin(), h.end(), rh.begin(), rh.end()));
    EXPECT_NE(html.find("Pseudonymised report"), std::string::npos);
    EXPECT_NE(html.find(key.fingerprint()), std::string::npos);
    if (tag == "repost") EXPECT_FALSE(pseudonyms_in(toks, 'p').empty());
    if (tag == "link") EXPECT_NE(html.find("shared "), std::string::npos);
  }
  {
    SCOPED_TRACE("same key: same pseudonyms across exports and runs; another key: others");
    const std::string d1 = contents(shared["dense"].files), d2 = contents(shared["dense2"].files);
    const std::set<std::string> t1 = tokens_of(d1), t2 = tokens_of(d2);
    EXPECT_EQ(pseudonyms_in(t1, 'a'), pseudonyms_in(t2, 'a'));
    EXPECT_EQ(pseudonyms_in(t1, 'h'), pseudonyms_in(t2, 'h'));
    const std::set<std::string> again =
        tokens_of(contents(share(c, dense, key.path, "again").files));
    EXPECT_EQ(pseudonyms_in(again, 'a'), pseudonyms_in(t1, 'a'));
    const std::set<std::string> o = tokens_of(contents(share(c, dense, other.path, "other").files));
    EXPECT_EQ(pseudonyms_in(o, 'a').size(), pseudonyms_in(t1, 'a').size());
    for (const char kind : {'a', 'h'})
      for (const std::string& p : pseudonyms_in(o, kind)) EXPECT_EQ(t1.count(p), 0u) << p;
  }
  {
    SCOPED_TRACE("--write-mapping: next to the key, mode 0600, merged");
    const std::string map = c.dir + "/team.key.mapping.csv";
    cli_result r = run_cli({"export", repost, "--format", "csv", "--out", c.dir + "/m1",
                            "--pseudonymize", key.path, "--write-mapping"},
                           c.dir);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(file_mode(map), 0600u);
    const auto [a, h] = member_pseudonyms(repost, key);
    std::vector<std::string> rows = lines_of(slurp(map));
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0], "pseudonym,kind,original");
    EXPECT_EQ(rows.size(), 1 + a.size() + h.size());
    h5::handle f = h5::open_read(repost);
    const auto ids =
        h5::read_all<std::int64_t>(h5::open_dataset(f, "/evidence/cluster_member_ids"));
    const auto hs = h5::read_strings(h5::open_dataset(f, "/evidence/cluster_member_handles"));
    const std::set<std::string> set(rows.begin(), rows.end());
    EXPECT_EQ(set.count(expected_pseudonym(key, "account", std::to_string(ids[0])) + ",account," +
                        std::to_string(ids[0])),
              1u);
    EXPECT_EQ(
        set.count(expected_pseudonym(key, "handle", normalize_handle(hs[0])) + ",handle," + hs[0]),
        1u);
    // a second export of other accounts: the first one's rows stay
    const auto [da, dh] = member_pseudonyms(dense, key);
    std::set<std::string> all_a = a, all_h = h;
    all_a.insert(da.begin(), da.end());
    all_h.insert(dh.begin(), dh.end());
    ASSERT_GT(all_a.size(), da.size());  // the repost run has accounts the dense one has not
    r = run_cli({"export", dense, "--format", "gexf", "--out", c.dir + "/m2.gexf", "--pseudonymize",
                 key.path, "--write-mapping"},
                c.dir);
    ASSERT_EQ(r.code, 0) << r.err;
    const std::vector<std::string> merged = lines_of(slurp(map));
    const std::set<std::string> mset(merged.begin(), merged.end());
    EXPECT_TRUE(std::includes(mset.begin(), mset.end(), set.begin(), set.end()));
    EXPECT_EQ(merged.size(), 1 + all_a.size() + all_h.size());
    EXPECT_EQ(file_mode(map), 0600u);
    // nowhere else
    const auto [lrc, found] = shell("find '" + c.dir + "' -name '*mapping*'");
    EXPECT_EQ(found, map + "\n");
    // a mapping of another key is refused, and left as it was
    write_file(c.dir + "/other.key.mapping.csv", slurp(map));
    r = run_cli({"export", dense, "--format", "csv", "--out", c.dir + "/m3", "--pseudonymize",
                 other.path, "--write-mapping"},
                c.dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("was not made with key file"), std::string::npos) << r.err;
  }
}

TEST(PseudonymisedExports, MistakesAreOneLineAndWriteNothing) {
  if (!report_tool_present())
    CHORUS_SKIP_MISSING_TOOL("chorus report needs /usr/bin/python3 with numpy, h5py, matplotlib");
  const std::string dir = test::scratch_dir("pseudonym_mistakes");
  test::generated(dir + "/in.h5", 400, 8, 48, 3, 2);
  cli_result r =
      run_cli({"detect", "--input", dir + "/in.h5", "--out", dir + "/r.h5", "--quiet"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  write_file(dir + "/bad.key", "chorus-pseudonym-key 1\nnothex\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pseudonymize", dir + "/missing.key"}, "missing.key"},
      {{"--pseudonymize", dir + "/bad.key"}, "not a chorus pseudonym key"},
      {{"--redact-text"}, "--pseudonymize"},
      {{"--write-mapping"}, "--pseudonymize"},
      {{"--max-p", "0.05"}, "chorus detect --significance"},
  };
  for (const auto& [opts, why] : cases) {
    for (const char* fmt : {"graphml", "gexf", "csv", "report"}) {
      const std::string out = dir + "/out." + fmt;
      std::vector<std::string> a =
          std::string(fmt) == "report"
              ? std::vector<std::string>{"report", dir + "/r.h5", "--out", out}
              : std::vector<std::string>{"export", dir + "/r.h5", "--format", fmt, "--out", out};
      if (std::string(fmt) == "report" && opts[0] == "--write-mapping") continue;  // export only
      a.insert(a.end(), opts.begin(), opts.end());
      r = run_cli(a, dir);
      EXPECT_EQ(r.code, 2) << fmt << " " << opts[0] << ": " << r.err;
      EXPECT_EQ(lines_in(r.err), 1) << r.err;
      EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
      EXPECT_FALSE(exists(out)) << out;
    }
  }
  EXPECT_FALSE(exists(dir + "/missing.key.mapping.csv"));
  // a key others may read works, with a loud warning
  const std::string key = dir + "/open.key";
  known_key(key);
  ::chmod(key.c_str(), 0644);
  r = run_cli({"export", dir + "/r.h5", "--format", "gexf", "--out", dir + "/w.gexf",
               "--pseudonymize", key},
              dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.rfind("chorus: WARNING: key file", 0), 0u) << r.err;
  r = run_cli({"report", dir + "/r.h5", "--out", dir + "/w.html", "--pseudonymize", key}, dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("chorus: WARNING: key file"), std::string::npos) << r.err;
}

// The p-values of chorus detect --significance in every export and the report, and --max-p.
TEST(SignificanceOutputs, ExportsAndReportShowPValuesAndMaxPSelects) {
  if (!report_tool_present())
    CHORUS_SKIP_MISSING_TOOL("chorus report needs /usr/bin/python3 with numpy, h5py, matplotlib");
  const std::string dir = test::scratch_dir("significance_outputs");
  test::generated(dir + "/in.h5", 1000, 16, 168, 8, 4);
  const std::string res = dir + "/r.h5";
  cli_result r = run_cli(
      {"detect", "--input", dir + "/in.h5", "--out", res, "--quiet", "--significance", "20"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // known p- and q-values in place of the resampled ones: 0.0005, 0.5, NaN, 0.02, ...
  std::vector<double> p, q;
  {
    h5::handle f = h5::open_rw(res);
    h5::handle pd = h5::open_dataset(f, "/clusters/p_value"),
               qd = h5::open_dataset(f, "/clusters/q_value");
    const std::size_t k = h5::describe(pd).dims.at(0);
    ASSERT_GE(k, 4u);
    const double pattern[4] = {0.0005, 0.5, NAN, 0.02};
    for (std::size_t c = 0; c < k; ++c)
      p.push_back(pattern[c % 4]), q.push_back(pattern[c % 4] * 2);
    h5::write_rows<double>(pd, 0, k, p.data());
    h5::write_rows<double>(qd, 0, k, q.data());
  }
  std::set<std::string> want;
  for (std::size_t c = 0; c < p.size(); ++c)
    if (p[c] <= 0.05) want.insert(std::to_string(c));

  r = run_cli({"export", res, "--format", "csv", "--out", dir + "/all"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> cl = lines_of(slurp(dir + "/all/clusters.csv"));
  ASSERT_EQ(cl.size(), p.size() + 1);
  EXPECT_NE(cl[0].find(",p_value,q_value"), std::string::npos) << cl[0];
  EXPECT_NE(cl[1].find(",0.00050000000000000001,0.001"), std::string::npos) << cl[1];
  EXPECT_EQ(cl[3].substr(cl[3].size() - 2), ",,") << cl[3];  // NaN: empty fields
  const std::vector<std::string> mem = lines_of(slurp(dir + "/all/members.csv"));
  EXPECT_EQ(mem[0], "cluster,row,account_id,handle,degree,cluster_p_value,cluster_q_value");
  for (const char* fmt : {"graphml", "gexf"}) {
    r = run_cli({"export", res, "--format", fmt, "--out", dir + "/all." + fmt}, dir);
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string g = slurp(dir + "/all." + fmt);
    EXPECT_NE(g.find("\"cluster_p_value\""), std::string::npos) << fmt;
    EXPECT_NE(g.find("\"cluster_q_value\""), std::string::npos) << fmt;
    EXPECT_NE(g.find("0.00050000000000000001"), std::string::npos) << fmt;
  }

  r = run_cli({"export", res, "--format", "csv", "--out", dir + "/sig", "--max-p", "0.05"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> got, members_got;
  for (const std::string& l : lines_of(slurp(dir + "/sig/clusters.csv")))
    if (l.rfind("cluster,", 0) != 0) got.insert(l.substr(0, l.find(',')));
  for (const std::string& l : lines_of(slurp(dir + "/sig/members.csv")))
    if (l.rfind("cluster,", 0) != 0) members_got.insert(l.substr(0, l.find(',')));
  EXPECT_EQ(got, want);
  EXPECT_EQ(members_got, want);

  r = run_cli({"report", res, "--out", dir + "/all.html"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string all = slurp(dir + "/all.html");
  EXPECT_NE(all.find("chance (p, q)"), std::string::npos);
  EXPECT_NE(all.find("p &lt; 0.001: fewer than 1 in 1,000 resamples of these accounts without "
                     "coordination lined up this well"),
            std::string::npos);
  EXPECT_NE(all.find("id=\"method\""), std::string::npos);
  r = run_cli({"report", res, "--out", dir + "/sig.html", "--max-p", "0.05", "--top", "2"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string sig = slurp(dir + "/sig.html");
  for (std::size_t c = 0; c < p.size(); ++c) {
    const bool in = sig.find("id=\"cluster-" + std::to_string(c) + "\"") != std::string::npos;
    EXPECT_EQ(in, want.count(std::to_string(c)) == 1) << "network " << c;
  }
}
