// Hostile inputs: every malformed file is refused with one clear line, exit code 2, no crash, no
// hang (each run is under `timeout 60`) and nothing left in the output directory. The files are
// made at test time (HDF5 C API and raw bytes); tests/test_bad_input.cpp holds the basic cases.
// Numeric edge cases of valid inputs (zero rows, N = 0 and 1, d > N, thresholds of exactly -1
// and 1) run through chorus::run_detect at the end.
#include <dirent.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/job/detect.hpp"
#include "reference.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

struct run_result {
  int code;  ///< exit status; -1 when killed by a signal
  std::string err;
};

// Run the chorus binary under `timeout 60`; capture stderr. A hang exits 124, a crash -1.
run_result run_chorus(const std::string& args, const std::string& dir) {
  const std::string err = dir + "/stderr.txt";
  const std::string cmd =
      "timeout 60 " + std::string(CHORUS_BINARY) + " " + args + " >/dev/null 2>'" + err + "'";
  const int st = std::system(cmd.c_str());
  std::ifstream f(err);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, text};
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::vector<std::int64_t> iota_ids(std::int64_t n) {
  std::vector<std::int64_t> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = i + 1;
  return v;
}

void put_matrix(const h5::handle& f, const std::string& name, std::int64_t n, std::int64_t d) {
  std::vector<float> x(n * d);
  for (std::int64_t i = 0; i < n * d; ++i) x[i] = std::sin(0.1f * float(i)) + 0.5f;
  auto ds = h5::create_dataset<float>(f, name, {std::uint64_t(n), std::uint64_t(d)});
  h5::write_rows(ds, 0, n, x.data());
}

// A dataset of any HDF5 type and shape, filled from `data` (may be null: nothing written).
void put_raw(const h5::handle& f, const char* name, hid_t type, std::vector<hsize_t> dims,
             const void* data, const hsize_t* maxdims = nullptr, const hsize_t* chunk = nullptr) {
  hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(int(dims.size()), dims.data(), maxdims);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk) H5Pset_chunk(dcpl, int(dims.size()), chunk);
  hid_t ds = H5Dcreate2(f.get(), name, type, space, lcpl, dcpl, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  if (data) ASSERT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  H5Sclose(space);
}

// Fixed-length (size > 0) or variable-length (size 0) strings.
void put_strings(const h5::handle& f, const char* name, const std::vector<std::string>& v,
                 std::size_t fixed = 0) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, fixed ? fixed : H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  if (fixed) {
    std::string buf(v.size() * fixed, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) buf.replace(i * fixed, v[i].size(), v[i]);
    put_raw(f, name, type, {v.size()}, buf.data());
  } else {
    std::vector<const char*> p;
    for (auto& s : v) p.push_back(s.c_str());
    put_raw(f, name, type, {v.size()}, p.data());
  }
  H5Tclose(type);
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = scratch_dir(std::string("hostile_") +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    outdir = dir + "/out";
    ASSERT_EQ(std::system(("mkdir -p '" + outdir + "'").c_str()), 0);
  }
  // detect on `input`: exit 2, `needle` in a one-line message, and an empty output directory.
  void expect_rejected(const std::string& input, const std::string& needle,
                       const std::string& extra = "") {
    const std::string out = outdir + "/out.h5";
    auto r = run_chorus("detect --quiet --input '" + input + "' --out '" + out + "' " + extra, dir);
    EXPECT_NE(r.code, 124) << "chorus hung on this input";
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "message was: " << r.err;
    EXPECT_EQ(r.err.rfind("chorus: error:", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_TRUE(list_dir(outdir).empty()) << "something was left in the output directory";
    // `chorus info` reads the same layer and must not crash either (it may accept the layout).
    auto i = run_chorus("info '" + input + "'", dir);
    EXPECT_TRUE(i.code == 0 || i.code == 2) << "info: " << i.code << " " << i.err;
    // nor `chorus export`, which reads results files through the same layer
    auto x = run_chorus("export '" + input + "' --format csv --out '" + outdir + "/csv'", dir);
    EXPECT_EQ(x.code, 2) << "export: " << x.err;
  }
  void expect_accepted(const std::string& input, const std::string& extra = "") {
    auto r = run_chorus(
        "detect --quiet --input '" + input + "' --out '" + outdir + "/ok.h5' " + extra, dir);
    EXPECT_EQ(r.code, 0) << r.err;
  }
  template <typename F>
  std::string make(const std::string& name, F&& tweak) {
    const std::string p = dir + "/" + name + ".h5";
    h5::handle f = h5::create(p);
    tweak(f);
    return p;
  }
  std::string good(std::int64_t n = 2000, std::int64_t d = 64) {
    return make("good", [&](const h5::handle& f) {
      h5::write_vector(f, "/accounts/id", iota_ids(n));
      put_matrix(f, "/embedding", n, d);
    });
  }
  std::string dir, outdir;
};

// ---- bytes that are not (whole) HDF5 files -------------------------------------------------

TEST_F(Hostile, RandomBytes) {
  std::string b(8192, '\0');
  std::mt19937_64 rng(7);
  for (auto& c : b) c = static_cast<char>(rng());
  write_bytes(dir + "/rand.h5", b);
  expect_rejected(dir + "/rand.h5", "is not an HDF5 file");
}

TEST_F(Hostile, SignatureThenGarbage) {
  std::string b = "\x89HDF\r\n\x1a\n";
  std::mt19937_64 rng(11);
  for (int i = 0; i < 4096; ++i) b += static_cast<char>(rng());
  write_bytes(dir + "/sig.h5", b);
  expect_rejected(dir + "/sig.h5", "cannot open HDF5 file");
}

TEST_F(Hostile, SuperblockWithZeroedBody) {
  std::string b = read_bytes(good(100, 8));
  std::fill(b.begin() + 96, b.end(), '\0');
  write_bytes(dir + "/zeroed.h5", b);
  expect_rejected(dir + "/zeroed.h5", "HDF5");
}

TEST_F(Hostile, TruncatedAtManyLengths) {
  const std::string full = read_bytes(good());
  ASSERT_GT(full.size(), 100000u);
  for (std::size_t len : {std::size_t(8), std::size_t(40), std::size_t(200), std::size_t(2048),
                          full.size() / 4, full.size() - 1}) {
    SCOPED_TRACE(len);
    write_bytes(dir + "/cut.h5", full.substr(0, len));
    // a cut inside the superblock is "not an HDF5 file"; a later one "truncated"
    const std::string needle = len < 48 ? "HDF5" : "is truncated";
    expect_rejected(dir + "/cut.h5", needle);
  }
}

TEST_F(Hostile, InputIsADirectory) { expect_rejected(outdir, "is a directory"); }

TEST_F(Hostile, CorruptCompressedChunk) {
  const std::string p = make("chunk", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(4000));
    std::vector<float> x(4000 * 16);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.37f * float(i));
    auto ds = h5::create_dataset<float>(f, "/embedding", {4000, 16}, 1000, 6);
    h5::write_rows(ds, 0, 4000, x.data());
  });
  haddr_t addr = 0;
  hsize_t size = 0;
  {
    h5::handle f = h5::open_read(p);
    auto ds = h5::open_dataset(f, "/embedding");
    hsize_t off[2] = {1000, 0};
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(ds.get(), off, &mask, &addr, &size), 0);
  }
  std::string b = read_bytes(p);
  ASSERT_LT(addr + size, b.size());
  for (hsize_t k = size / 4; k < size; ++k) b[addr + k] = static_cast<char>(0xA5 ^ k);
  write_bytes(p, b);
  expect_rejected(p, "cannot read /embedding rows");
}

// ---- wrong ranks, dtypes, object kinds -----------------------------------------------------

TEST_F(Hostile, EmbeddingAsStrings) {
  auto p = make("s", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    const char buf[3 * 2 * 4] = "abc";
    put_raw(f, "/embedding", t, {3, 2}, buf);
    H5Tclose(t);
  });
  expect_rejected(p, "/embedding has unsupported dtype string");
}

TEST_F(Hostile, ActivityAsCompound) {
  auto p = make("c", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    hid_t t = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(t, "a", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(t, "b", 4, H5T_NATIVE_FLOAT);
    std::vector<float> x(3 * 5 * 2, 1.0f);
    put_raw(f, "/activity", t, {3, 5}, x.data());
    H5Tclose(t);
  });
  expect_rejected(p, "/activity has unsupported dtype compound");
}

TEST_F(Hostile, IdsAsFloat) {
  auto p = make("idf", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", std::vector<double>{1, 2, 3});
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/accounts/id must be a rank-1 integer dataset, found float64 [3]");
}

TEST_F(Hostile, IdsRank2) {
  auto p = make("id2", [](const h5::handle& f) {
    std::vector<std::int64_t> ids{1, 2, 3, 4, 5, 6};
    put_raw(f, "/accounts/id", H5T_NATIVE_INT64, {3, 2}, ids.data());
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/accounts/id must be a rank-1 integer dataset, found int64 [3, 2]");
}

TEST_F(Hostile, IdsScalar) {
  auto p = make("id0", [](const h5::handle& f) {
    std::int64_t id = 1;
    put_raw(f, "/accounts/id", H5T_NATIVE_INT64, {}, &id);
    put_matrix(f, "/embedding", 1, 4);
  });
  expect_rejected(p, "/accounts/id must be a rank-1 integer dataset, found int64 []");
}

TEST_F(Hostile, EmbeddingRank3) {
  auto p = make("e3", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2));
    std::vector<float> x(2 * 3 * 4, 0.5f);
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {2, 3, 4}, x.data());
  });
  expect_rejected(p, "/embedding must be rank 2 [N, d], found rank 3 [2, 3, 4]");
}

TEST_F(Hostile, EmbeddingIsAGroup) {
  auto p = make("grp", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2));
    h5::create_group(f, "/embedding");
  });
  expect_rejected(p, "'/embedding' is not a dataset");
}

TEST_F(Hostile, EmbeddingIsADanglingLink) {
  auto p = make("dangle", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2));
    H5Lcreate_soft("/nowhere", f.get(), "/embedding", H5P_DEFAULT, H5P_DEFAULT);
  });
  expect_rejected(p, "'/embedding' is not a dataset");
}

TEST_F(Hostile, EmbeddingIsAnExternalLinkToNothing) {
  auto p = make("ext", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2));
    H5Lcreate_external("/nonexistent/file.h5", "/embedding", f.get(), "/embedding", H5P_DEFAULT,
                       H5P_DEFAULT);
  });
  expect_rejected(p, "'/embedding' is not a dataset");
}

TEST_F(Hostile, HandleAsIntegers) {
  auto p = make("hint", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    h5::write_vector(f, "/accounts/handle", iota_ids(3));
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/accounts/handle must be rank-1 strings");
}

TEST_F(Hostile, TruthAsFloat) {
  auto p = make("tf", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    h5::write_vector(f, "/truth/cluster", std::vector<float>{0, 1, -1});
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/truth/cluster must be a rank-1 integer dataset");
}

TEST_F(Hostile, UnsignedIdsAboveInt64) {
  auto p = make("u64", [](const h5::handle& f) {
    std::vector<std::uint64_t> ids{1, 2,
                                   3, std::numeric_limits<std::uint64_t>::max(),
                                   5, std::numeric_limits<std::uint64_t>::max() - 1};
    put_raw(f, "/accounts/id", H5T_NATIVE_UINT64, {ids.size()}, ids.data());
    put_matrix(f, "/embedding", 6, 4);
  });
  // without the check HDF5 saturates both to 2^63-1 and the message is a bogus duplicate
  expect_rejected(p, "/accounts/id row 3 holds 18446744073709551615, which does not fit");
}

// ---- lengths and extents -------------------------------------------------------------------

TEST_F(Hostile, ActivityLengthMismatch) {
  auto p = make("am", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(10));
    put_matrix(f, "/embedding", 10, 4);
    put_matrix(f, "/activity", 9, 6);
  });
  expect_rejected(p, "/activity has 9 rows but /accounts/id has 10");
}

TEST_F(Hostile, HandleLengthMismatch) {
  auto p = make("hm", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    put_strings(f, "/accounts/handle", {"a", "b"});
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/accounts/handle has 2 rows but /accounts/id has 3");
}

TEST_F(Hostile, TruthLengthMismatch) {
  auto p = make("tm", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(3));
    h5::write_vector(f, "/truth/cluster", std::vector<std::int64_t>{0, 1, -1, 2});
    put_matrix(f, "/embedding", 3, 4);
  });
  expect_rejected(p, "/truth/cluster has 4 rows but /accounts/id has 3");
}

TEST_F(Hostile, ZeroColumns) {
  auto p = make("d0", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(10));
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {10, 0}, nullptr);
  });
  expect_rejected(p, "/embedding has zero columns");
  auto q = make("n0d0", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{});
    put_raw(f, "/activity", H5T_NATIVE_FLOAT, {0, 0}, nullptr);
  });
  expect_rejected(q, "/activity has zero columns");
}

TEST_F(Hostile, TooManyColumns) {
  auto p = make("wide", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2));
    const hsize_t chunk[2] = {1, 4096};
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {2, hsize_t(1) << 21}, nullptr, nullptr, chunk);
  });
  expect_rejected(p, "/embedding declares 2097152 columns");
}

// Chunked, unlimited datasets with huge declared extents and nothing written: a file of a few KB
// that would need terabytes. Refused before any allocation.
TEST_F(Hostile, HugeDeclaredExtent) {
  const hsize_t n = hsize_t(1) << 40, unl[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
  auto p = make("huge", [&](const h5::handle& f) {
    const hsize_t c1[1] = {4096}, c2[2] = {64, 384};
    put_raw(f, "/accounts/id", H5T_NATIVE_INT64, {n}, nullptr, unl, c1);
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {n, 384}, nullptr, unl, c2);
  });
  EXPECT_LT(read_bytes(p).size(), 100000u);
  expect_rejected(p, "declares 1099511627776 accounts x 384 embedding: loading it needs at least");
}

TEST_F(Hostile, DeclaredExtentOverflows) {
  const hsize_t n = (hsize_t(1) << 61) - 1, unl[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
  auto p = make("overflow", [&](const h5::handle& f) {
    const hsize_t c1[1] = {4096}, c2[2] = {64, 8};
    put_raw(f, "/accounts/id", H5T_NATIVE_INT64, {n}, nullptr, unl, c1);
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {n, 8}, nullptr, unl, c2);
  });
  expect_rejected(p, "/embedding is too large");
}

TEST_F(Hostile, IdsLongerThanAnyInput) {
  const hsize_t n = hsize_t(1) << 62, unl[1] = {H5S_UNLIMITED};
  auto p = make("idlong", [&](const h5::handle& f) {
    const hsize_t c1[1] = {4096};
    put_raw(f, "/accounts/id", H5T_NATIVE_INT64, {n}, nullptr, unl, c1);
  });
  expect_rejected(p, "/accounts/id declares an impossible length");
}

// ---- values --------------------------------------------------------------------------------

TEST_F(Hostile, NegativeInfinityInFloat64) {
  auto p = make("ninf", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(6));
    std::vector<double> x(6 * 3, 0.25);
    x[3 * 3 + 2] = -INFINITY;
    put_raw(f, "/embedding", H5T_NATIVE_DOUBLE, {6, 3}, x.data());
  });
  expect_rejected(p, "/embedding row 3 (account id 4) contains NaN or Inf");
}

TEST_F(Hostile, NanInALaterBlockNamesTheFirst) {
  const std::int64_t n = 20000, d = 3;
  auto p = make("late", [&](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(n));
    std::vector<float> x(n * d, 1.0f);
    for (std::int64_t i = 0; i < n; ++i) x[i * d + i % d] = 2.0f;
    x[19990 * d] = NAN;
    x[16390 * d + 2] = NAN;
    auto ds = h5::create_dataset<float>(f, "/embedding", {std::uint64_t(n), std::uint64_t(d)});
    h5::write_rows(ds, 0, n, x.data());
  });
  expect_rejected(p, "/embedding row 16390 (account id 16391) contains NaN or Inf");
}

TEST_F(Hostile, NanInActivityWithLog1p) {
  auto p = make("alog", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(5));
    std::vector<double> x(5 * 4, 1.0);
    x[2 * 4 + 1] = NAN;
    put_raw(f, "/activity", H5T_NATIVE_DOUBLE, {5, 4}, x.data());
  });
  expect_rejected(p, "/activity row 2 (account id 3) contains NaN or Inf",
                  "--activity-transform log1p");
}

TEST_F(Hostile, DuplicateIdsFirstAndLast) {
  auto p = make("dupfl", [](const h5::handle& f) {
    auto ids = iota_ids(40);
    ids.back() = ids.front();
    h5::write_vector(f, "/accounts/id", ids);
    put_matrix(f, "/embedding", 40, 4);
  });
  expect_rejected(p, "duplicate account id 1 at rows 0 and 39");
}

TEST_F(Hostile, DuplicateNegativeInt8Ids) {
  auto p = make("dup8", [](const h5::handle& f) {
    std::vector<std::int8_t> ids{-5, 3, -128, 7, -128};
    put_raw(f, "/accounts/id", H5T_NATIVE_INT8, {ids.size()}, ids.data());
    put_matrix(f, "/embedding", 5, 4);
  });
  expect_rejected(p, "duplicate account id -128 at rows 2 and 4");
}

// ---- handles -------------------------------------------------------------------------------

TEST_F(Hostile, InvalidUtf8VariableLengthHandle) {
  auto p = make("u8v", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(10));
    std::vector<std::string> h(10, "ok_handle");
    h[7] = "bad\xff\xfe";
    put_strings(f, "/accounts/handle", h);
    put_matrix(f, "/embedding", 10, 4);
  });
  expect_rejected(p,
                  "/accounts/handle row 7 (account id 8) is not valid UTF-8 (bad byte at "
                  "offset 3)");
}

TEST_F(Hostile, InvalidUtf8FixedLengthHandle) {
  for (const std::string bad : {"ab\xc3", "\xc0\xaf", "x\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    SCOPED_TRACE(bad.size());
    auto p = make("u8f", [&](const h5::handle& f) {
      h5::write_vector(f, "/accounts/id", iota_ids(4));
      put_strings(f, "/accounts/handle", {"a", "b", bad, "d"}, 8);
      put_matrix(f, "/embedding", 4, 4);
    });
    expect_rejected(p, "/accounts/handle row 2 (account id 3) is not valid UTF-8");
  }
}

TEST_F(Hostile, ValidUtf8HandlesAreAccepted) {
  auto p = make("u8ok", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(5));
    put_strings(f, "/accounts/handle",
                {"plain", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80", ""});
    put_matrix(f, "/embedding", 5, 4);
  });
  expect_accepted(p);
}

// ---- results files and empty inputs --------------------------------------------------------

TEST_F(Hostile, ResultsFileWithoutEdgesGroup) {
  auto p = make("res", [](const h5::handle& f) {
    h5::set_attr(f, "chorus_results", std::int64_t{1});
    h5::write_vector(f, "/accounts/id", iota_ids(4));
    h5::write_vector(f, "/labels", std::vector<std::int64_t>{0, 0, -1, -1});
    put_matrix(f, "/embedding", 4, 4);
  });
  expect_rejected(p, "is a chorus results file");
}

TEST_F(Hostile, EmptyInputGivesEmptyResults) {
  auto p = make("empty", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{});
    put_raw(f, "/embedding", H5T_NATIVE_FLOAT, {0, 16}, nullptr);
    put_raw(f, "/activity", H5T_NATIVE_INT32, {0, 24}, nullptr);
  });
  expect_accepted(p);
  auto r = read_results(outdir + "/ok.h5");
  EXPECT_TRUE(r.labels.empty());
  EXPECT_TRUE(r.src.empty());
}

// ---- numeric edge cases through run_detect ------------------------------------------------

class Numeric : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = scratch_dir(std::string("numeric_") +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  detect_options opts(const std::string& in, const std::string& view) {
    detect_options o;
    o.input = in;
    o.output = dir + "/res" + std::to_string(runs++) + ".h5";
    o.view = view;
    return o;
  }
  std::string dir;
  int runs = 0;
};

dense rows(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  dense m{n, d, std::vector<double>(n * d)};
  for (auto& v : m.x) v = std::round(8 * g(rng)) / 8;  // exactly representable in fp32
  return m;
}

TEST_F(Numeric, EmptyAndSingleAccount) {
  for (std::int64_t n : {0, 1}) {
    SCOPED_TRACE(n);
    dense e = rows(n, 8, 1), a = activity_counts(n, 12, 2);
    write_input(dir + "/in.h5", n, &e, &a);
    for (const char* view : {"embedding", "activity", "both", "fused"}) {
      auto o = opts(dir + "/in.h5", view);
      o.threshold = o.threshold_activity = -1;
      auto s = run_detect(o);
      EXPECT_EQ(s.accounts, n);
      EXPECT_EQ(s.pairs, 0);
      EXPECT_EQ(s.edges, 0);
      EXPECT_EQ(s.clusters, 0);
      auto r = read_results(o.output);
      EXPECT_EQ(r.labels, std::vector<std::int64_t>(n, -1));
    }
  }
}

TEST_F(Numeric, ZeroAndConstantRowsNeverGetEdges) {
  const std::int64_t n = 40;
  dense e = rows(n, 6, 3), a = activity_counts(n, 10, 4);
  for (std::int64_t k = 0; k < 6; ++k) e.x[5 * 6 + k] = e.x[30 * 6 + k] = 0;       // zero norm
  for (std::int64_t k = 0; k < 10; ++k) a.x[7 * 10 + k] = 3, a.x[8 * 10 + k] = 3;  // constant
  write_input(dir + "/in.h5", n, &e, &a);
  for (const char* view : {"embedding", "activity", "both", "fused"}) {
    SCOPED_TRACE(view);
    auto o = opts(dir + "/in.h5", view);
    o.threshold = o.threshold_activity = -1;
    auto s = run_detect(o);
    auto r = read_results(o.output);
    const bool ue = std::string(view) != "activity", ua = std::string(view) != "embedding";
    std::vector<char> bad(n, 0);
    if (ue) bad[5] = bad[30] = 1;
    if (ua) bad[7] = bad[8] = 1;
    if (ue) EXPECT_EQ(s.invalid_embedding, 2);
    if (ua) EXPECT_GE(s.invalid_activity, 2);  // activity_counts plants constant rows too
    for (std::size_t k = 0; k < r.src.size(); ++k) {
      EXPECT_FALSE(bad[r.src[k]]) << r.src[k];
      EXPECT_FALSE(bad[r.dst[k]]) << r.dst[k];
    }
    for (std::int64_t i = 0; i < n; ++i)
      if (bad[i]) EXPECT_EQ(r.labels[i], -1) << i;
    // and every other pair is an edge: exactly the reference's graph at threshold -1
    oracle::params p;
    p.mode = oracle::view_of(view);
    p.thr = p.thr_act = -1;
    const oracle::rows er{e.n, e.d, e.x}, ar{a.n, a.d, a.x};
    const oracle::graph ref = oracle::decide_all(p, &er, &ar);
    if (ue) EXPECT_EQ(s.invalid_embedding, ref.invalid_embedding);
    if (ua) EXPECT_EQ(s.invalid_activity, ref.invalid_activity);
    const auto problems = oracle::compare(ref, r.src, r.dst, r.labels);
    EXPECT_TRUE(problems.empty()) << oracle::join(problems);
    EXPECT_GT(r.src.size(), std::size_t(n * (n - 1) / 4));
  }
}

// Threshold -1 keeps every pair of valid rows, for every view (the similarity of a valid pair
// is >= -1 up to rounding; see README, exactness).
TEST_F(Numeric, ThresholdMinusOneKeepsEveryValidPair) {
  const std::int64_t n = 30;
  dense e = rows(n, 5, 5), a = activity_counts(n, 9, 6);
  // an exactly antipodal pair, the worst case for ">= -1"
  for (std::int64_t k = 0; k < 5; ++k) e.x[11 * 5 + k] = -e.x[10 * 5 + k];
  write_input(dir + "/in.h5", n, &e, &a);
  for (const char* view : {"embedding", "activity", "both", "fused"}) {
    SCOPED_TRACE(view);
    auto o = opts(dir + "/in.h5", view);
    o.threshold = o.threshold_activity = -1;
    auto s = run_detect(o);
    const std::string v = view;
    std::int64_t valid = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      bool ok = true;
      if (v != "activity") ok &= !std::isnan(sim64(e, i, i, false));
      if (v != "embedding") ok &= !std::isnan(sim64(a, i, i, true));
      valid += ok;
    }
    EXPECT_EQ(s.edges, valid * (valid - 1) / 2);
  }
}

// Threshold 1 keeps a pair only when its float64 similarity is >= 1 (after the exact re-check);
// pairs more than 1e-5 below 1 are never kept, and exact duplicates lie inside the contract's
// band, so whether they are kept depends on rounding.
TEST_F(Numeric, ThresholdOneKeepsSameDirectionPairsOnly) {
  const std::int64_t n = 24, d = 7;
  dense e = rows(n, d, 7);
  for (std::int64_t k = 0; k < d; ++k) {
    e.x[3 * d + k] = e.x[2 * d + k];             // exact duplicate
    e.x[9 * d + k] = 4 * e.x[2 * d + k];         // same direction (power-of-two scale)
    e.x[15 * d + k] = e.x[14 * d + k] * 1.0001;  // nearly a duplicate, sim exactly 1 in reals
  }
  e.x[20 * d] = e.x[19 * d] + 0.5;  // sim well below 1 - 1e-5 (checked below)
  for (std::int64_t k = 1; k < d; ++k) e.x[20 * d + k] = e.x[19 * d + k];
  write_input(dir + "/in.h5", n, &e, nullptr);
  auto o = opts(dir + "/in.h5", "embedding");
  o.threshold = 1;
  run_detect(o);
  auto r = read_results(o.output);
  for (std::size_t k = 0; k < r.src.size(); ++k) {
    const double s = sim64(e, r.src[k], r.dst[k], false);
    EXPECT_GE(s, 1 - 1e-5) << r.src[k] << "-" << r.dst[k];
    EXPECT_GE(r.se[k], 1.0f - 1e-5f);
  }
  // rows pointing exactly the same way (a duplicate, a power-of-two multiple) are kept: they
  // are normalised to identical stored rows, whose re-checked similarity is clamped to 1
  std::set<std::pair<std::int64_t, std::int64_t>> got;
  for (std::size_t k = 0; k < r.src.size(); ++k) got.insert({r.src[k], r.dst[k]});
  for (auto pr : {std::pair<std::int64_t, std::int64_t>{2, 3}, {2, 9}, {3, 9}})
    EXPECT_TRUE(got.count(pr)) << pr.first << "-" << pr.second << " should be kept";
  EXPECT_EQ(r.labels[2], r.labels[9]);
  EXPECT_NE(r.labels[2], -1);
  ASSERT_LT(sim64(e, 19, 20, false), 1 - 1e-5);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j)
      if (sim64(e, i, j, false) < 1 - 1e-5) {
        for (std::size_t k = 0; k < r.src.size(); ++k)
          EXPECT_FALSE(r.src[k] == i && r.dst[k] == j) << i << "-" << j;
      }
}

// More columns than rows (d > N) and float64 rows whose squares overflow or underflow.
TEST_F(Numeric, WideRowsAndExtremeMagnitudes) {
  const std::int64_t n = 6, d = 700;
  dense e = rows(n, d, 9);
  for (std::int64_t k = 0; k < d; ++k) e.x[1 * d + k] = e.x[0 * d + k];
  write_input(dir + "/in.h5", n, &e, nullptr);
  auto o = opts(dir + "/in.h5", "embedding");
  o.threshold = -1;
  auto s = run_detect(o);
  EXPECT_EQ(s.edges, n * (n - 1) / 2);
  auto r = read_results(o.output);
  for (std::size_t k = 0; k < r.src.size(); ++k)
    EXPECT_NEAR(r.se[k], sim64(e, r.src[k], r.dst[k], false), 1e-6);

  // the same direction at 1e200, 1e-200 and 1: all valid, all mutually similar
  const std::string p = dir + "/extreme.h5";
  {
    h5::handle f = h5::create(p);
    h5::write_vector(f, "/accounts/id", iota_ids(4));
    std::vector<double> x(4 * 3);
    const double base[3] = {0.5, -1.25, 2.0}, scale[4] = {1e200, 1e-200, 1.0, 1e-310};
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 3; ++k) x[i * 3 + k] = base[k] * scale[i];
    put_raw(f, "/embedding", H5T_NATIVE_DOUBLE, {4, 3}, x.data());
  }
  auto o2 = opts(p, "embedding");
  o2.threshold = 0.999;
  auto s2 = run_detect(o2);
  EXPECT_EQ(s2.invalid_embedding, 0);
  EXPECT_EQ(s2.edges, 6);
  EXPECT_EQ(s2.clusters, 1);
}

// Library-level: load_input's errors are chorus::input_error (the CLI maps them to exit 2).
TEST(HostileLibrary, LoadInputThrowsInputError) {
  const std::string dir = scratch_dir("hostile_library");
  write_bytes(dir + "/x.h5", "\x89HDF\r\n\x1a\n");
  EXPECT_THROW(load_input(dir + "/x.h5", load_options{}), input_error);
  EXPECT_THROW(inspect_input(dir + "/missing.h5"), input_error);
}

// A job inspects its input once and hands the input_info on: loading with it gives what loading
// by path gives, and an info that no longer describes the file (rewritten in between, here with
// wider rows that would overrun buffers sized by the info) is refused, not trusted.
TEST(HostileLibrary, LoadInputWithAnInspectedInfo) {
  const std::string dir = scratch_dir("hostile_info");
  const std::string p = dir + "/in.h5";
  auto write = [&](std::int64_t cols, bool handles) {
    h5::handle f = h5::create(p);
    h5::write_vector(f, "/accounts/id", iota_ids(4));
    put_matrix(f, "/embedding", 4, cols);
    if (handles) h5::write_strings(f, "/accounts/handle", {"a", "b", "c", "d"});
  };
  write(3, true);
  const input_info info = inspect_input(p);
  load_options lo;
  lo.activity = false;
  const loaded_input a = load_input(info, lo), b = load_input(p, lo);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.embedding.data, b.embedding.data);
  EXPECT_EQ(a.checksum, b.checksum);
  write(5, true);
  EXPECT_EQ(message_of([&] { load_input(info, lo); }),
            "'" + p +
                "' changed since it was inspected (/embedding): run again on a file that is not "
                "being written");
  write(3, false);
  EXPECT_THROW(open_input(info, lo), input_error);
  write(3, true);
  EXPECT_NO_THROW(open_input(info, lo));
}

}  // namespace

// A 9 KB file found by the fuzzer that crashes HDF5 1.10.8 itself (SEGV in H5F__accum_read while
// looking up a link): chorus reads metadata in a child process first, so it reports the file as
// damaged with exit code 2 instead of crashing.
TEST_F(Hostile, FileThatCrashesHdf5ItselfIsReportedAsDamaged) {
  const std::string bad = std::string(CHORUS_SOURCE_DIR) + "/tests/hostile/hdf5_metadata_crash.h5";
  expect_rejected(bad, "is damaged");
  // passed to export or report as a results file, it is refused the same way
  for (const std::string cmd : {"export '" + bad + "' --format csv --out '" + outdir + "/csv'",
                                "report '" + bad + "' --out '" + outdir + "/r.html'"}) {
    auto r = run_chorus(cmd, dir);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("is damaged"), std::string::npos) << r.err;
  }
}
