// Every bad input gets a clear one-line error, exit code 2, and no output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "chorus/io/h5.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

struct run_result {
  int code;
  std::string err;
};

// Run the chorus binary with `args`; capture stderr.
run_result run_chorus(const std::string& args, const std::string& dir) {
  const std::string err = dir + "/stderr.txt";
  const std::string cmd = std::string(CHORUS_BINARY) + " " + args + " >/dev/null 2>'" + err + "'";
  const int st = std::system(cmd.c_str());
  std::ifstream f(err);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, text};
}

bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // detect on `input`; expects exit 2, `needle` in the message, and no results file.
  void expect_rejected(const std::string& input, const std::string& needle,
                       const std::string& extra = "") {
    const std::string out = dir + "/out.h5";
    auto r = run_chorus("detect --quiet --input '" + input + "' --out '" + out + "' " + extra, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "message was: " << r.err;
    EXPECT_NE(r.err.find("chorus: error:"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_FALSE(exists(out)) << "a results file was left behind";
  }
  // A valid small input with the given tweak applied to the open file.
  template <typename F>
  std::string make(const std::string& name, F&& tweak) {
    const std::string p = dir + "/" + name + ".h5";
    h5::handle f = h5::create(p);
    tweak(f);
    return p;
  }
  std::string dir;
};

std::vector<std::int64_t> iota_ids(std::int64_t n) {
  std::vector<std::int64_t> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = i + 1;
  return v;
}

void put_matrix(const h5::handle& f, const std::string& name, std::int64_t n, std::int64_t d,
                float fill_nan_row = -1) {
  std::vector<float> x(n * d);
  for (std::int64_t i = 0; i < n * d; ++i) x[i] = std::sin(0.1f * float(i)) + 0.5f;
  if (fill_nan_row >= 0) x[static_cast<std::int64_t>(fill_nan_row) * d + 1] = NAN;
  auto ds = h5::create_dataset<float>(f, name, {std::uint64_t(n), std::uint64_t(d)});
  h5::write_rows(ds, 0, n, x.data());
}

TEST_F(BadInput, MissingFile) { expect_rejected(dir + "/nope.h5", "no such file"); }

TEST_F(BadInput, ZeroByteFile) {
  std::ofstream(dir + "/empty.h5").close();
  expect_rejected(dir + "/empty.h5", "not an HDF5 file");
}

TEST_F(BadInput, NotHdf5) {
  std::ofstream(dir + "/text.h5") << "id,embedding\n1,0.5\n";
  expect_rejected(dir + "/text.h5", "not an HDF5 file");
}

TEST_F(BadInput, TruncatedFile) {
  auto p = make("full", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(2000));
    put_matrix(f, "/embedding", 2000, 64);
  });
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.h5", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_rejected(dir + "/cut.h5", "HDF5");
}

TEST_F(BadInput, MissingIds) {
  auto p = make("noid", [](const h5::handle& f) { put_matrix(f, "/embedding", 10, 4); });
  expect_rejected(p, "/accounts/id");
}

TEST_F(BadInput, NoViewAtAll) {
  auto p = make("noview",
                [](const h5::handle& f) { h5::write_vector(f, "/accounts/id", iota_ids(10)); });
  expect_rejected(p, "neither /embedding nor /activity");
}

TEST_F(BadInput, WrongRank) {
  auto p = make("rank", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(10));
    h5::write_vector(f, "/embedding", std::vector<float>(10, 1.0f));
  });
  expect_rejected(p, "/embedding must be rank 2");
}

TEST_F(BadInput, LengthMismatch) {
  auto p = make("mismatch", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(10));
    put_matrix(f, "/embedding", 12, 4);
  });
  expect_rejected(p, "/embedding has 12 rows but /accounts/id has 10");
}

TEST_F(BadInput, UnsupportedDtype) {
  auto p = make("dtype", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(4));
    auto ds = h5::create_dataset<std::int32_t>(f, "/embedding", {4, 3});
    std::vector<std::int32_t> x(12, 1);
    h5::write_rows(ds, 0, 4, x.data());
  });
  expect_rejected(p, "unsupported dtype int32");
}

TEST_F(BadInput, NanNamesTheFirstBadRow) {
  auto p = make("nan", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(50));
    put_matrix(f, "/embedding", 50, 8, 37);
  });
  expect_rejected(p, "/embedding row 37 (account id 38) contains NaN or Inf");
}

TEST_F(BadInput, InfInActivity) {
  auto p = make("inf", [](const h5::handle& f) {
    h5::write_vector(f, "/accounts/id", iota_ids(20));
    std::vector<float> x(20 * 6, 1.0f);
    x[5 * 6 + 2] = INFINITY;
    auto ds = h5::create_dataset<float>(f, "/activity", {20, 6});
    h5::write_rows(ds, 0, 20, x.data());
  });
  expect_rejected(p, "/activity row 5");
}

TEST_F(BadInput, DuplicateIds) {
  auto p = make("dup", [](const h5::handle& f) {
    auto ids = iota_ids(30);
    ids[21] = ids[4];
    h5::write_vector(f, "/accounts/id", ids);
    put_matrix(f, "/embedding", 30, 4);
  });
  expect_rejected(p, "duplicate account id 5 at rows 4 and 21");
}

class BadParams : public BadInput {
 protected:
  std::string good() {
    return make("good", [](const h5::handle& f) {
      h5::write_vector(f, "/accounts/id", iota_ids(20));
      put_matrix(f, "/embedding", 20, 4);
    });
  }
};

TEST_F(BadParams, ThresholdOutOfRange) {
  expect_rejected(good(), "--threshold must lie in [-1, 1]", "--threshold 1.5");
}
TEST_F(BadParams, ActivityThresholdOutOfRange) {
  expect_rejected(good(), "--threshold-activity must lie in [-1, 1]", "--threshold-activity -2");
}
TEST_F(BadParams, ViewNeedsMissingDataset) {
  expect_rejected(good(), "--view both needs /activity", "--view both");
}
TEST_F(BadParams, UnknownView) { expect_rejected(good(), "unknown view", "--view content"); }
TEST_F(BadParams, CudaBackendWithoutDevice) {
  if (chorus::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  expect_rejected(good(), "--backend cuda", "--backend cuda");
}

TEST_F(BadParams, UnwritableOutput) {
  const std::string in = good();
  auto r = run_chorus("detect --quiet --input '" + in + "' --out /nonexistent-dir/x/out.h5", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = run_chorus("detect --quiet --input '" + in + "' --out '" + dir + "'", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

TEST_F(BadParams, ExistingOutputNeedsForce) {
  const std::string in = good(), out = dir + "/res.h5";
  std::ofstream(out) << "precious";
  auto r = run_chorus("detect --quiet --input '" + in + "' --out '" + out + "'", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  std::ifstream f(out);
  std::string kept((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "precious") << "an existing file must stay untouched";
  r = run_chorus("detect --quiet --force --input '" + in + "' --out '" + out + "'", dir);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(BadParams, ResultsFileAsInput) {
  const std::string in = good(), out = dir + "/res.h5";
  ASSERT_EQ(run_chorus("detect --quiet --input '" + in + "' --out '" + out + "'", dir).code, 0);
  expect_rejected(out, "is a chorus results file");
}

TEST_F(BadParams, UsageErrorsExitTwo) {
  auto r = run_chorus("detect --input", dir);
  EXPECT_EQ(r.code, 2);
  r = run_chorus("frobnicate", dir);
  EXPECT_EQ(r.code, 2);
}

}  // namespace
