// chorus ingest: per-account feature counts in bounded memory, and row selection.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/feature_counts.hpp"

namespace {

using chorus::ingest::count_block;
using chorus::ingest::count_matrix;
using chorus::ingest::feature_counts;
using cell_map = std::map<std::pair<std::int64_t, std::uint32_t>, std::uint64_t>;

struct batch {
  std::vector<std::uint32_t> accounts;
  std::vector<std::int64_t> offsets{0};
  std::vector<std::uint32_t> feats;
};

/// Random batches with skewed accounts and features (so counts repeat within and across
/// batches), plus the reference counts accumulated in a std::map.
std::vector<batch> random_batches(int n_batches, int posts, std::uint32_t n_accounts, int hash_bits,
                                  cell_map& ref, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<batch> out(static_cast<std::size_t>(n_batches));
  for (auto& b : out) {
    for (int p = 0; p < posts; ++p) {
      const auto acc = static_cast<std::uint32_t>(rng() % n_accounts * (rng() % 4 + 1) / 4);
      b.accounts.push_back(acc);
      const int nf = static_cast<int>(rng() % 40);
      for (int j = 0; j < nf; ++j) {
        const std::uint32_t f =
            static_cast<std::uint32_t>((rng() % (1u << hash_bits)) * (rng() % 8 + 1) / 8);
        b.feats.push_back(f);
        ++ref[{acc, f}];
      }
      b.offsets.push_back(static_cast<std::int64_t>(b.feats.size()));
    }
  }
  return out;
}

/// Reads a matrix back into a map, checking the block contract on the way.
cell_map read_back(const count_matrix& m) {
  cell_map got;
  std::int64_t next_row = 0, nnz = 0;
  m.for_each_block([&](const count_block& b) {
    EXPECT_EQ(b.row_begin, next_row);
    EXPECT_GT(b.row_end, b.row_begin);
    EXPECT_EQ(b.offsets[0], 0);
    for (std::int64_t r = b.row_begin; r < b.row_end; ++r) {
      const std::int64_t lo = b.offsets[r - b.row_begin], hi = b.offsets[r - b.row_begin + 1];
      EXPECT_LE(lo, hi);
      for (std::int64_t j = lo; j < hi; ++j) {
        EXPECT_GT(b.counts[j], 0u);
        EXPECT_LT(b.cols[j], static_cast<std::uint64_t>(m.cols()));
        if (j > lo) {
          EXPECT_LT(b.cols[j - 1], b.cols[j]);
        }
        got[{r, b.cols[j]}] = b.counts[j];
      }
      nnz += hi - lo;
    }
    next_row = b.row_end;
  });
  EXPECT_EQ(next_row, m.rows());
  EXPECT_EQ(nnz, m.nnz());
  return got;
}

/// A fresh empty directory for spill files.
std::string make_spill_dir() {
  char tmpl[] = "/tmp/chorus-test-counts-XXXXXX";
  const char* d = mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d == nullptr ? std::string("/tmp") : std::string(d);
}

int entries_in(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (const dirent* e = readdir(d))
    n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
  closedir(d);
  return n;
}

TEST(IngestCounts, MatchesMapReferenceForAnyBudgetAndThreadCount) {
  const int hash_bits = 11;
  const std::uint32_t n_accounts = 3000;
  cell_map ref;
  const auto batches = random_batches(8, 4000, n_accounts, hash_bits, ref, 42);
  const std::string dir = make_spill_dir();
  struct setup {
    std::size_t budget;
    int threads;
    bool expect_spill;
  };
  const std::vector<setup> setups = {{std::size_t{1} << 32, 1, false},
                                     {std::size_t{1} << 32, 4, false},
                                     {1, 1, true},
                                     {1, 4, true},
                                     {std::size_t{3} << 20, 2, true}};
  for (const auto& s : setups) {
    SCOPED_TRACE("budget " + std::to_string(s.budget) + " threads " + std::to_string(s.threads));
    feature_counts acc(hash_bits, s.budget, dir, s.threads);
    for (const auto& b : batches) acc.add_batch(b.accounts, b.offsets, b.feats);
    const auto m = acc.finish(n_accounts + 5);
    EXPECT_EQ(acc.bytes_spilled() > 0, s.expect_spill);
    EXPECT_EQ(m->rows(), n_accounts + 5);
    EXPECT_EQ(m->cols(), 1 << hash_bits);
    EXPECT_EQ(m->nnz(), static_cast<std::int64_t>(ref.size()));
    EXPECT_TRUE(read_back(*m) == ref);
    EXPECT_TRUE(read_back(*m) == ref);  // a second pass reads the same
    EXPECT_EQ(entries_in(dir), 0);      // temporary files never show in the directory
  }
  EXPECT_EQ(rmdir(dir.c_str()), 0);
}

TEST(IngestCounts, ManySpilledRunsAreMergedInLevels) {
  // 40 tiny batches with a 1-byte budget: 40 spills, more than one merge fan-in
  const int hash_bits = 6;
  cell_map ref;
  const auto batches = random_batches(40, 50, 20, hash_bits, ref, 3);
  const std::string dir = make_spill_dir();
  feature_counts acc(hash_bits, 1, dir, 2);
  for (const auto& b : batches) acc.add_batch(b.accounts, b.offsets, b.feats);
  EXPECT_EQ(acc.entries_in_memory(), 0);
  const auto m = acc.finish(20);
  EXPECT_TRUE(read_back(*m) == ref);
  EXPECT_EQ(rmdir(dir.c_str()), 0);  // empty
}

TEST(IngestCounts, OnDiskResultSpansManyBlocksAndLongRows) {
  // 250k rows (more than one block of rows), every third one empty, and one row of 100k
  // distinct features (more entries than a block holds): on disk with a 1-byte budget
  const int hash_bits = 18;
  const std::uint32_t n_accounts = 250000;
  batch b;
  cell_map ref;
  std::mt19937_64 rng(5);
  for (std::uint32_t a = 0; a < n_accounts; ++a) {
    if (a % 3 == 1) continue;
    b.accounts.push_back(a);
    const int nf = a == 100000 ? 100000 : static_cast<int>(rng() % 5) + 1;
    for (int j = 0; j < nf; ++j) {
      const auto f = static_cast<std::uint32_t>(a == 100000 ? 2 * j + 1 : rng() % (1u << 18));
      b.feats.push_back(f);
      ++ref[{a, f}];
    }
    b.offsets.push_back(static_cast<std::int64_t>(b.feats.size()));
  }
  for (const std::size_t budget : {std::size_t{1}, std::size_t{1} << 30}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    feature_counts acc(hash_bits, budget, "/tmp", 2);
    acc.add_batch(b.accounts, b.offsets, b.feats);
    acc.add_batch(b.accounts, b.offsets, b.feats);  // every count doubles
    const auto m = acc.finish(n_accounts + 1);
    EXPECT_EQ(acc.bytes_spilled() > 0, budget == 1);
    int blocks = 0;
    m->for_each_block([&](const count_block&) { ++blocks; });
    EXPECT_GE(blocks, 4);
    cell_map want;
    for (const auto& [cell, count] : ref) want[cell] = 2 * count;
    EXPECT_TRUE(read_back(*m) == want);
  }
}

TEST(IngestCounts, WideFeatureSpacesMatchMapReference) {
  // more than 20 hash bits: rows are summed by sorting, not in a dense array
  for (const int hash_bits : {21, 32}) {
    SCOPED_TRACE("hash bits " + std::to_string(hash_bits));
    cell_map ref;
    auto batches = random_batches(4, 3000, 700, 12, ref, 9);
    cell_map wide;  // spread the features over the whole space, keeping them distinct
    for (auto& b : batches)
      for (auto& f : b.feats) f = f * 4099u % (1u << 12) << (hash_bits - 12) | (f & 1);
    for (const auto& b : batches)
      for (std::size_t p = 0; p + 1 < b.offsets.size(); ++p)
        for (std::int64_t j = b.offsets[p]; j < b.offsets[p + 1]; ++j)
          ++wide[{b.accounts[p], b.feats[static_cast<std::size_t>(j)]}];
    EXPECT_EQ(wide.size(), ref.size());
    for (const std::size_t budget : {std::size_t{1}, std::size_t{1} << 30}) {
      feature_counts acc(hash_bits, budget, "/tmp", 2);
      for (const auto& b : batches) acc.add_batch(b.accounts, b.offsets, b.feats);
      const auto m = acc.finish(700);
      EXPECT_EQ(m->cols(), std::int64_t{1} << hash_bits);
      EXPECT_TRUE(read_back(*m) == wide);
    }
  }
}

TEST(IngestCounts, UnseenAccountsGetEmptyRowsAndTooFewAccountsIsAnError) {
  feature_counts acc(4, 1 << 20, "/tmp", 1);
  acc.add_batch({7, 2, 7}, {0, 2, 3, 5}, {1, 1, 15, 1, 0});
  const auto m = acc.finish(9);
  const cell_map want = {{{2, 15}, 1}, {{7, 0}, 1}, {{7, 1}, 3}};
  EXPECT_TRUE(read_back(*m) == want);
  EXPECT_EQ(m->rows(), 9);

  feature_counts small(4, 1 << 20, "/tmp", 1);
  small.add_batch({7}, {0, 1}, {3});
  EXPECT_THROW(small.finish(7), chorus::input_error);
}

TEST(IngestCounts, BadBatchesAreInputErrors) {
  feature_counts acc(4, 1 << 20, "/tmp", 1);
  EXPECT_THROW(acc.add_batch({1}, {0, 1}, {16}), chorus::input_error);    // feature >= 2^4
  EXPECT_THROW(acc.add_batch({1, 2}, {0, 1}, {3}), chorus::input_error);  // offsets too short
  EXPECT_THROW(acc.add_batch({1}, {0, 2}, {3}), chorus::input_error);     // end != feats
  EXPECT_THROW(feature_counts(0, 1, "/tmp", 1), chorus::input_error);
  EXPECT_THROW(feature_counts(4, 1, "/tmp", 0), chorus::input_error);
  feature_counts nowhere(4, 1, "/nonexistent/chorus-spill", 1);
  EXPECT_THROW(nowhere.add_batch({1}, {0, 1}, {3}), chorus::input_error);
}

TEST(IngestCounts, SelectRowsRenumbersKeptRows) {
  cell_map ref;
  const auto batches = random_batches(3, 2000, 500, 8, ref, 11);
  for (const std::size_t budget : {std::size_t{1}, std::size_t{1} << 30}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    feature_counts acc(8, budget, "/tmp", 2);
    for (const auto& b : batches) acc.add_batch(b.accounts, b.offsets, b.feats);
    std::shared_ptr<const count_matrix> m = acc.finish(500);
    const std::vector<std::int64_t> keep = {0, 3, 4, 250, 251, 499};
    const auto sel = chorus::ingest::select_rows(m, keep);
    cell_map want;
    std::int64_t want_nnz = 0;
    for (const auto& [cell, count] : ref)
      for (std::size_t i = 0; i < keep.size(); ++i)
        if (cell.first == keep[i]) {
          want[{static_cast<std::int64_t>(i), cell.second}] = count;
          ++want_nnz;
        }
    EXPECT_EQ(sel->rows(), 6);
    EXPECT_EQ(sel->cols(), 256);
    EXPECT_EQ(sel->nnz(), want_nnz);
    EXPECT_TRUE(read_back(*sel) == want);
    EXPECT_THROW(chorus::ingest::select_rows(m, {3, 3}), chorus::input_error);
    EXPECT_THROW(chorus::ingest::select_rows(m, {5, 500}), chorus::input_error);
    EXPECT_EQ(chorus::ingest::select_rows(m, {})->nnz(), 0);
  }
}

}  // namespace
