// String account ids (datasets/SCHEMA.md, "String account ids"): accepted as variable- or
// fixed-length UTF-8 strings, turned into int64 ids by the documented FNV-1a formula (checked
// here independently and with the Python snippet of SCHEMA.md), refused when duplicated; and
// `chorus info` describes string-id inputs and any other HDF5 file.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::cli_test;

namespace {

// The documented formula, written out here rather than taken from chorus: FNV-1a 64 over the
// UTF-8 bytes, top bit cleared.
std::int64_t fnv1a63(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return static_cast<std::int64_t>(h % (1ull << 63));
}

// Rank-1 UTF-8 strings: fixed-length of `fixed` bytes (null-padded), or variable-length (0).
void put_strings(const h5::handle& f, const char* name, const std::vector<std::string>& v,
                 std::size_t fixed = 0) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, fixed ? fixed : H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  const hsize_t n = v.size();
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(f.get(), name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  if (fixed) {
    std::string buf(v.size() * fixed, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) {
      ASSERT_LE(v[i].size(), fixed) << v[i];
      buf.replace(i * fixed, v[i].size(), v[i]);
    }
    ASSERT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), 0);
  } else {
    std::vector<const char*> p;
    for (const auto& s : v) p.push_back(s.c_str());
    ASSERT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), 0);
  }
  H5Dclose(ds);
  H5Pclose(lcpl);
  H5Sclose(space);
  H5Tclose(type);
}

// The views, truth and (with `handles`) the handles of a generated input `src`, with
// /accounts/id replaced by `ids` (fixed-length strings of `fixed` bytes, or variable-length).
void with_string_ids(const std::string& src, const std::string& dst,
                     const std::vector<std::string>& ids, std::size_t fixed, bool handles) {
  h5::handle in = h5::open_read(src);
  const auto emb = h5::open_dataset(in, "/embedding"), act = h5::open_dataset(in, "/activity");
  const auto ed = h5::describe(emb).dims, ad = h5::describe(act).dims;
  std::vector<float> e(ed[0] * ed[1]);
  std::vector<std::int32_t> a(ad[0] * ad[1]);
  h5::read_rows<float>(emb, 0, ed[0], e.data());
  h5::read_rows<std::int32_t>(act, 0, ad[0], a.data());
  h5::handle out = h5::create(dst);
  put_strings(out, "/accounts/id", ids, fixed);
  h5::write_rows(h5::create_dataset<float>(out, "/embedding", ed), 0, ed[0], e.data());
  h5::write_rows(h5::create_dataset<std::int32_t>(out, "/activity", ad), 0, ad[0], a.data());
  h5::write_vector(out, "/truth/cluster",
                   h5::read_all<std::int64_t>(h5::open_dataset(in, "/truth/cluster")));
  if (handles)
    h5::write_strings(out, "/accounts/handle",
                      h5::read_strings(h5::open_dataset(in, "/accounts/handle")));
}

template <typename T>
std::vector<T> read_vec(const std::string& file, const std::string& name) {
  h5::handle f = h5::open_read(file);
  return h5::read_all<T>(h5::open_dataset(f, name));
}

class StringIds : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("strids_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ints = dir + "/ints.h5";
    test::generated(ints, 400, 16, 48, 4, 11);
    for (std::int64_t id : read_vec<std::int64_t>(ints, "/accounts/id"))
      // ASCII and non-ASCII ids (two- and three-byte UTF-8 sequences)
      names.push_back((id % 3 ? "user_" : "\xc3\xbcser-\xe2\x82\xac") + std::to_string(id));
  }
  // `chorus detect` on `input` into `out`; fails the test unless it succeeds.
  void detect(const std::string& input, const std::string& out) {
    const cli_result r = run_cli({"detect", "--quiet", "--input", input, "--out", out}, dir);
    ASSERT_EQ(r.code, 0) << input << ": " << r.err;
  }
  std::string dir, ints;
  std::vector<std::string> names;  // the string id of each row
};

TEST_F(StringIds, DerivedIdsFollowTheDocumentedFormula) {
  // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector); bit 63 cleared
  EXPECT_EQ(fnv1a63("a"), 0x2f63dc4c8601ec8cll);
  for (const std::string s : {"a", "foobar", "user_1003",
                              "\xc3\xbcser-\xe2\x82\xac"
                              "7",
                              "a much longer account name with spaces"}) {
    EXPECT_EQ(account_id_of_string(s), fnv1a63(s)) << s;
    EXPECT_GE(account_id_of_string(s), 0) << s;
  }
  // loaded from a file (fixed-length and variable-length strings alike)
  for (std::size_t fixed : {std::size_t{0}, std::size_t{24}}) {
    const std::string p = dir + "/s" + std::to_string(fixed) + ".h5";
    with_string_ids(ints, p, names, fixed, false);
    const input_info info = inspect_input_isolated(p);
    EXPECT_EQ(info.id_dtype, "string");
    EXPECT_FALSE(info.has_handles);
    load_options lo;
    lo.block_rows = 37;  // several blocks
    const loaded_input in = load_input(info, lo);
    ASSERT_EQ(in.ids.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) ASSERT_EQ(in.ids[i], fnv1a63(names[i])) << i;
  }
}

// The same data with string ids instead of integer ids gives the same clusters, and the results
// carry the derived ids where integer ids would be; the strings label the members when there
// are no handles, the handles when there are.
TEST_F(StringIds, SameClustersAsIntegerIds) {
  const std::string noh = dir + "/noh.h5", withh = dir + "/withh.h5";
  with_string_ids(ints, noh, names, 0, false);
  with_string_ids(ints, withh, names, 32, true);
  detect(ints, dir + "/r_ints.h5");
  detect(noh, dir + "/r_noh.h5");
  detect(withh, dir + "/r_withh.h5");
  const auto labels = read_vec<std::int64_t>(dir + "/r_ints.h5", "/labels");
  ASSERT_GT(*std::max_element(labels.begin(), labels.end()), 0) << "want several clusters";
  std::vector<std::int64_t> derived;
  for (const auto& s : names) derived.push_back(fnv1a63(s));
  const auto handles = h5::read_strings(h5::open_dataset(h5::open_read(ints), "/accounts/handle"));
  for (const std::string r : {"/r_noh.h5", "/r_withh.h5"}) {
    const std::string res = dir + r;
    EXPECT_EQ(read_vec<std::int64_t>(res, "/labels"), labels) << r;
    for (const char* d : {"/edges/src", "/edges/dst", "/clusters/size", "/clusters/members"})
      EXPECT_EQ(read_vec<std::int64_t>(res, d), read_vec<std::int64_t>(dir + "/r_ints.h5", d))
          << r << " " << d;
    EXPECT_EQ(read_vec<std::int64_t>(res, "/accounts/id"), derived) << r;
    const auto members = read_vec<std::int64_t>(res, "/clusters/members");
    const auto member_ids = read_vec<std::int64_t>(res, "/evidence/cluster_member_ids");
    const auto member_names =
        h5::read_strings(h5::open_dataset(h5::open_read(res), "/evidence/cluster_member_handles"));
    ASSERT_EQ(member_ids.size(), members.size()) << r;
    ASSERT_EQ(member_names.size(), members.size()) << r;
    for (std::size_t q = 0; q < members.size(); ++q) {
      EXPECT_EQ(member_ids[q], derived[members[q]]) << r;
      EXPECT_EQ(member_names[q], r == "/r_noh.h5" ? names[members[q]] : handles[members[q]]) << r;
    }
  }
}

// The Python snippet of datasets/SCHEMA.md, run by Debian's python3 with h5py, computes the ids
// chorus wrote into a results file from the input's strings.
TEST_F(StringIds, SchemaPythonSnippetMatchesChorus) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no h5py";
  const std::string schema = slurp(std::string(CHORUS_SOURCE_DIR) + "/datasets/SCHEMA.md");
  const std::size_t sec = schema.find("### String account ids");
  ASSERT_NE(sec, std::string::npos);
  const std::size_t a = schema.find("```python\n", sec), b = schema.find("```", a + 10);
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  const std::string snippet = schema.substr(a + 10, b - a - 10);
  const std::string fixed = dir + "/fixed.h5", vlen = dir + "/vlen.h5";
  with_string_ids(ints, fixed, names, 24, false);
  with_string_ids(ints, vlen, names, 0, true);
  detect(fixed, dir + "/r_fixed.h5");
  detect(vlen, dir + "/r_vlen.h5");
  const std::string script = dir + "/join.py";
  std::ofstream(script) << snippet << R"(
import sys, h5py
for inp, res in zip(sys.argv[1::2], sys.argv[2::2]):
    with h5py.File(inp, "r") as i, h5py.File(res, "r") as r:
        strings = [s.decode("utf-8") if isinstance(s, bytes) else s for s in i["accounts/id"][:]]
        ours = [chorus_id(s) for s in strings]
        theirs = [int(x) for x in r["accounts/id"][:]]
        assert ours == theirs, (inp, [(s, a, b) for s, a, b in zip(strings, ours, theirs) if a != b][:3])
print("ok", len(ours))
)";
  const cli_result r = [&] {
    const std::string out = dir + "/py.out";
    const std::string cmd = "/usr/bin/python3 '" + script + "' '" + fixed + "' '" + dir +
                            "/r_fixed.h5' '" + vlen + "' '" + dir + "/r_vlen.h5' >'" + out +
                            "' 2>&1";
    const int st = std::system(cmd.c_str());
    return cli_result{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), ""};
  }();
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "ok 400\n") << r.out;
}

TEST_F(StringIds, DuplicateAndBadStringIdsAreRefused) {
  const auto refused = [&](std::vector<std::string> ids, std::size_t fixed,
                           const std::string& needle) {
    const std::string p = dir + "/bad.h5", out = dir + "/bad_out.h5";
    with_string_ids(ints, p, ids, fixed, false);
    const cli_result r = run_cli({"detect", "--quiet", "--input", p, "--out", out}, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "message was: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_NE(access(out.c_str(), F_OK), 0) << "a results file was left behind";
  };
  std::vector<std::string> ids = names;
  ids[5] = ids[2] = "bob";
  refused(ids, 0, "duplicate account id 'bob' at rows 2 and 5");
  refused(ids, 24, "duplicate account id 'bob' at rows 2 and 5");
  ids = names;
  ids[9] = "";
  refused(ids, 0, "/accounts/id row 9 is an empty string");
  ids = names;
  ids[7] = "bad\xff\nid";
  refused(ids, 0,
          "/accounts/id row 7 ('bad\\xff\\x0aid') is not valid UTF-8 (bad byte at offset 3)");
}

TEST_F(StringIds, InfoDescribesStringIdInputs) {
  const std::string noh = dir + "/noh.h5", withh = dir + "/withh.h5";
  with_string_ids(ints, noh, names, 0, false);
  with_string_ids(ints, withh, names, 24, true);
  cli_result r = run_cli({"info", noh}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(noh + ": chorus input, 400 accounts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  /accounts/id     strings, hashed to int64 ids (FNV-1a, see "
                       "datasets/SCHEMA.md)\n  /accounts/handle absent (the string ids serve "
                       "as handles)\n"),
            std::string::npos)
      << r.out;
  r = run_cli({"info", withh}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  /accounts/id     strings, hashed to int64 ids (FNV-1a, see "
                       "datasets/SCHEMA.md)\n  /accounts/handle present\n"),
            std::string::npos)
      << r.out;
}

// Any HDF5 file chorus can open is described: its objects, and why it is not an input (exit
// code 0); files that are not HDF5 or missing are still errors.
TEST_F(StringIds, InfoListsAnyOtherHdf5File) {
  const std::string other = dir + "/other.h5";
  {
    h5::handle f = h5::create(other);
    auto m = h5::create_dataset<double>(f, "/measurements/run1/values", {3, 2});
    std::vector<double> x(6, 1.5);
    h5::write_rows(m, 0, 3, x.data());
    h5::write_vector(f, "/users", std::vector<std::int32_t>{4, 5, 6, 7});
    put_strings(f, "/measurements/names", {"a", "b", "c"}, 8);
    ASSERT_GE(H5Lcreate_soft("/users", f.get(), "/alias", H5P_DEFAULT, H5P_DEFAULT), 0);
    ASSERT_GE(
        H5Lcreate_hard(f.get(), "/measurements", f.get(), "/zz_again", H5P_DEFAULT, H5P_DEFAULT),
        0);
  }
  cli_result r = run_cli({"info", other}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  struct stat st {};
  stat(other.c_str(), &st);
  EXPECT_EQ(r.out, other + ": HDF5 file, " + std::to_string(st.st_size) +
                       " bytes, not a chorus input or results file\n"
                       "  /alias  soft link\n"
                       "  /measurements/  group\n"
                       "  /measurements/names  [3] string\n"
                       "  /measurements/run1/  group\n"
                       "  /measurements/run1/values  [3, 2] float64\n"
                       "  /users  [4] int32\n"
                       "  /zz_again/  group (the same group as /measurements/)\n"
                       "not a chorus input: '" +
                       other + "' has no /accounts/id dataset (see datasets/SCHEMA.md)\n");
  EXPECT_TRUE(r.err.empty()) << r.err;

  // a file chorus would read but for one problem says which
  const std::string two_d = dir + "/two_d.h5";
  {
    h5::handle f = h5::create(two_d);
    h5::create_dataset<std::int64_t>(f, "/accounts/id", {3, 2});
  }
  r = run_cli({"info", two_d}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  /accounts/id  [3, 2] int64\nnot a chorus input: /accounts/id must be a "
                       "rank-1 integer dataset, found int64 [3, 2]"),
            std::string::npos)
      << r.out;

  // not HDF5, or missing: exit code 2 as before
  const std::string text = dir + "/notes.txt";
  std::ofstream(text) << "not hdf5\n";
  r = run_cli({"info", text}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not an HDF5 file"), std::string::npos) << r.err;
  r = run_cli({"info", dir + "/missing.h5"}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

}  // namespace
