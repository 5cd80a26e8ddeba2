// The CUTLASS epilogue node's arithmetic (chorus/scan/cutlass_node.hpp), checked on the CPU: the
// strip-local index from CUTLASS's residue, the candidate test over padded tiles and a strip
// plan (every pair i < j once), the int8 score's field mapping, the warp-aggregated append
// (slots a bijection, counting past capacity) and the strip checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "chorus/scan/cutlass_node.hpp"

using namespace chorus::cutlass_node;

namespace {

// CUTLASS gives each thread its first element's local coordinate p (hidden), a relative
// coordinate r per accumulator, and residue = extent - p; the local index must be p + r.
TEST(CutlassNode, LocalIndexFromResidue) {
  for (std::int64_t extent : {std::int64_t{1}, std::int64_t{63}, std::int64_t{64}, std::int64_t{65},
                              std::int64_t{16384}, std::int64_t{2147483647}})
    for (std::int64_t tile = 0; tile * 64 < extent + 64; tile += 1 + tile * 7) {
      for (std::int64_t thread_off : {0, 1, 7, 33}) {
        const std::int64_t p = tile * 64 + thread_off;
        for (std::int64_t rel : {0, 1, 8, 30}) {
          const std::int64_t residue = extent - p;
          EXPECT_EQ(local_index(extent, residue, rel), p + rel);
          // CUTLASS's own bound (rel < residue) agrees with local < extent
          EXPECT_EQ(rel < residue, local_index(extent, residue, rel) < extent);
        }
      }
    }
}

// The pairs a strip appends, visiting its GEMM padded to whole tiles (as the kernel visits
// residue accumulators of partial tiles).
std::set<std::pair<std::int64_t, std::int64_t>> strip_pairs(const strip_window& w, int tm, int tn) {
  std::set<std::pair<std::int64_t, std::int64_t>> out;
  const std::int64_t pm = (w.m + tm - 1) / tm * tm, pn = (w.cols + tn - 1) / tn * tn;
  for (std::int64_t lm = 0; lm < pm; ++lm)
    for (std::int64_t ln = 0; ln < pn; ++ln)
      if (strip_pair(w, lm, ln)) out.insert({w.r0 + lm, w.c0 + ln});
  return out;
}

TEST(CutlassNode, StripPairsAreExactlyTheUpperTriangleOfTheStrip) {
  std::mt19937_64 rng(19);
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % 300);
    strip_window w;
    w.n = n;
    w.r0 = static_cast<std::int64_t>(rng() % n);
    w.m = 1 + static_cast<std::int64_t>(rng() % (n - w.r0));
    w.c0 = static_cast<std::int64_t>(rng() % n);
    w.cols = 1 + static_cast<std::int64_t>(rng() % (n - w.c0));
    w.re = w.r0 + static_cast<std::int64_t>(rng() % (n - w.r0 + 1));
    std::set<std::pair<std::int64_t, std::int64_t>> want;
    for (std::int64_t i = w.r0; i < w.r0 + w.m; ++i)
      for (std::int64_t j = w.c0; j < w.c0 + w.cols; ++j)
        if (i < j && i < w.re && j < n) want.insert({i, j});
    EXPECT_EQ(strip_pairs(w, 64, 256), want) << "trial " << trial;
  }
  // out-of-range local indices never count
  const strip_window w{0, 0, 10, 10, 5, 5};
  EXPECT_FALSE(strip_pair(w, -1, 3));
  EXPECT_FALSE(strip_pair(w, 0, 5));
  EXPECT_FALSE(strip_pair(w, 5, 7));
  EXPECT_TRUE(strip_pair(w, 0, 4));
  EXPECT_FALSE(strip_pair(w, 3, 3));  // the diagonal
}

// The kernel's per-thread form (bounds per tile, 32-bit compares of relative coordinates)
// against the direct rule, for threads anywhere in padded tiles, strips past 2^24 rows included.
TEST(CutlassNode, ThreadLimitsAgreeWithTheDirectRule) {
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 3000; ++trial) {
    const bool huge = trial % 3 == 0;
    const std::int64_t n = huge ? (std::int64_t{1} << 34) + static_cast<std::int64_t>(rng() % 1000)
                                : 1 + static_cast<std::int64_t>(rng() % 2000);
    strip_window w;
    w.n = n;
    w.m = 1 + static_cast<std::int64_t>(rng() % std::min<std::int64_t>(n, 20000));
    w.r0 = static_cast<std::int64_t>(rng() % (n - w.m + 1));
    w.cols = 1 + static_cast<std::int64_t>(rng() % std::min<std::int64_t>(n, 3000000));
    w.c0 = static_cast<std::int64_t>(rng() % (n - w.cols + 1));
    if (trial % 2) w.c0 = std::min(w.r0, n - w.cols);  // near the diagonal
    w.re = w.r0 + static_cast<std::int64_t>(rng() % (n - w.r0 + 1));
    if (trial % 5 == 1) w.cols += 1 + static_cast<std::int64_t>(rng() % 300);  // past n
    // a thread's first element: in a tile of 128 x 256 that may hang past the strip
    const std::int64_t base_m = static_cast<std::int64_t>(rng() % ((w.m + 127) / 128)) * 128 +
                                static_cast<std::int64_t>(rng() % 64);
    const std::int64_t base_n = static_cast<std::int64_t>(rng() % ((w.cols + 255) / 256)) * 256 +
                                static_cast<std::int64_t>(rng() % 8);
    const thread_limits t = thread_limits_of(w, base_m, base_n);
    for (int rm = 0; rm < 72; rm += 1 + rm % 5)
      for (int rn = 0; rn < 256; rn += 1 + rn % 7)
        ASSERT_EQ(thread_pair(t, rm, rn), strip_pair(w, base_m + rm, base_n + rn))
            << "trial " << trial << " rm=" << rm << " rn=" << rn;
  }
}

// Strips of Mc rows against columns [r0, n) (the host plan of issue #19), with rows [rb, re)
// in the pass: every pair i < j < n with rb <= i < re exactly once.
TEST(CutlassNode, StripPlanCoversEachPairOnce) {
  for (std::int64_t n : {1, 2, 3, 64, 257, 331})
    for (std::int64_t mc : {1, 5, 64, 128, 1000})
      for (std::int64_t rb : {std::int64_t{0}, n / 3}) {
        const std::int64_t re = rb + (n - rb) * 2 / 3 + (n - rb) % 2;
        std::map<std::pair<std::int64_t, std::int64_t>, int> seen;
        for (std::int64_t r0 = rb; r0 < re; r0 += mc) {
          const strip_window w{r0, r0, re, n, std::min(mc, n - r0), n - r0};
          for (const auto& p : strip_pairs(w, 64, 64)) ++seen[p];
        }
        std::int64_t want = 0;
        for (std::int64_t i = rb; i < re; ++i)
          for (std::int64_t j = i + 1; j < n; ++j) {
            ++want;
            ASSERT_EQ(seen[std::make_pair(i, j)], 1)
                << "n=" << n << " mc=" << mc << " (" << i << "," << j << ")";
          }
        EXPECT_EQ(static_cast<std::int64_t>(seen.size()), want);
      }
}

// Exact binary fractions, so the float arithmetic is exact and each field's place shows:
// dot*s_i*s_j = 1000*0.5*0.25 = 125, n_i*e_j = 2*0.125 = 0.25, e_i*m_j = 0.0625*4 = 0.25.
TEST(CutlassNode, Int8ScoreUsesEachRowsFields) {
  const row_side r{0.5f, 2.0f, 0.0625f};  // scale, rnorm, err of row i
  const col_side c{0.25f, 0.125f, 4.0f};  // scale, err, qnorm of row j
  EXPECT_EQ(int8_pair_score(1000, r, c), 125.5f);
  EXPECT_EQ(int8_pair_score(-1000, r, c), -124.5f);
  EXPECT_EQ(int8_pair_score(0, r, c), 0.5f);
  // an int32 dot past 2^24 is rounded to float once, as the CPU epilogue does
  const row_side one{1.0f, 0.0f, 0.0f};
  const col_side onec{1.0f, 0.0f, 0.0f};
  EXPECT_EQ(int8_pair_score((1 << 24) + 1, one, onec), 16777216.0f);
  EXPECT_EQ(int8_pair_score(127 * 127 * 1024, one, onec), 16516096.0f);
}

TEST(CutlassNode, AppendLeaderAndRanks) {
  std::mt19937 rng(7);
  for (int t = 0; t < 5000; ++t) {
    const std::uint32_t mask = static_cast<std::uint32_t>(rng()) | (t == 0 ? 0x80000000u : 0u);
    if (mask == 0) continue;
    int lowest = 0;
    while (!((mask >> lowest) & 1u)) ++lowest;
    EXPECT_EQ(append_leader(mask), lowest);
    int next = 0;
    for (int lane = 0; lane < 32; ++lane)
      if ((mask >> lane) & 1u) {
        EXPECT_EQ(append_rank(mask, lane), next++) << "lane " << lane;
      }
    EXPECT_EQ(popcount32(mask), next);
  }
  EXPECT_EQ(append_rank(0xffffffffu, 31), 31);
  EXPECT_EQ(append_leader(0x80000000u), 31);
}

// Warps (and partial warps: converged subsets) appending in turn with the node's rule: the
// leader reserves popcount slots, each hit takes base + rank; pairs past capacity are dropped
// but counted. The written slots are exactly [0, min(total, capacity)), each once.
TEST(CutlassNode, AppendFillsSlotsOnceAndCountsPastCapacity) {
  std::mt19937 rng(11);
  for (unsigned long long capacity : {0ull, 1ull, 37ull, 100000ull}) {
    unsigned long long count = 0;
    std::vector<int> written(capacity, 0);
    std::set<std::int64_t> ids_written;
    std::int64_t id = 0, total = 0;
    for (int round = 0; round < 300; ++round) {
      const std::uint32_t active = static_cast<std::uint32_t>(rng()) | 1u;  // converged lanes
      const std::uint32_t hits =
          static_cast<std::uint32_t>(rng()) & static_cast<std::uint32_t>(rng()) & active;
      if (hits == 0) continue;
      const unsigned long long base = count;  // the leader's atomicAdd
      count += static_cast<unsigned long long>(popcount32(hits));
      ASSERT_TRUE((active >> append_leader(hits)) & 1u);
      for (int lane = 0; lane < 32; ++lane) {
        if (!((hits >> lane) & 1u)) continue;
        const unsigned long long slot =
            base + static_cast<unsigned long long>(append_rank(hits, lane));
        ++total;
        if (slot < capacity) {
          ++written[slot];
          ids_written.insert(id);
        }
        ++id;
      }
    }
    EXPECT_EQ(count, static_cast<unsigned long long>(total));
    const unsigned long long filled = std::min<unsigned long long>(count, capacity);
    for (unsigned long long s = 0; s < capacity; ++s) EXPECT_EQ(written[s], s < filled ? 1 : 0);
    EXPECT_EQ(ids_written.size(), filled);
  }
}

// The node's one-atomic-per-warp append: per-lane hit counts (0..32) over converged subsets of
// lanes, their six ballot planes; each lane's first slot is the sum of the lower lanes' counts
// (computed here directly), the total is the warp's, and the written slots are exactly
// [0, min(total, capacity)), each once.
TEST(CutlassNode, CountPlanesGiveEachLaneItsSlots) {
  std::mt19937 rng(13);
  for (unsigned long long capacity : {0ull, 5ull, 700ull, 1000000ull}) {
    unsigned long long count = 0;
    std::vector<int> written(capacity, 0);
    for (int round = 0; round < 400; ++round) {
      const std::uint32_t active = static_cast<std::uint32_t>(rng()) | (round % 2 ? ~0u : 1u);
      int cnt[32] = {};
      for (int l = 0; l < 32; ++l)
        if ((active >> l) & 1u) cnt[l] = rng() % 4 == 0 ? static_cast<int>(rng() % 33) : 0;
      std::uint32_t planes[kCountPlanes] = {};
      for (int b = 0; b < kCountPlanes; ++b)
        for (int l = 0; l < 32; ++l)
          if ((active >> l) & 1u) planes[b] |= static_cast<std::uint32_t>((cnt[l] >> b) & 1) << l;
      int lower = 0;
      for (int l = 0; l < 32; ++l) {
        if (!((active >> l) & 1u)) continue;
        ASSERT_EQ(count_prefix(planes, l), lower) << "lane " << l;
        for (int k = 0; k < cnt[l]; ++k) {
          const unsigned long long slot = count + static_cast<unsigned long long>(lower + k);
          if (slot < capacity) ++written[slot];
        }
        lower += cnt[l];
      }
      ASSERT_EQ(count_total(planes), lower);
      count += static_cast<unsigned long long>(lower);  // the leader's atomicAdd
    }
    const unsigned long long filled = std::min<unsigned long long>(count, capacity);
    for (unsigned long long s2 = 0; s2 < capacity; ++s2)
      ASSERT_EQ(written[s2], s2 < filled ? 1 : 0) << "slot " << s2;
  }
}

TEST(CutlassNode, StripProblemRejectsBadStrips) {
  EXPECT_EQ(strip_problem(0, 100, 100, 64, 0, 100, 0, 100), nullptr);
  EXPECT_EQ(strip_problem(10, 50, 100, 128, 10, 16, 10, 100), nullptr);
  EXPECT_NE(strip_problem(0, 100, 100, 48, 0, 10, 0, 100), nullptr);    // ld not a multiple of 64
  EXPECT_NE(strip_problem(0, 100, 100, 0, 0, 10, 0, 100), nullptr);     // ld zero
  EXPECT_NE(strip_problem(0, 100, 100, 64, 0, 0, 0, 100), nullptr);     // empty
  EXPECT_NE(strip_problem(0, 100, 100, 64, 95, 10, 0, 100), nullptr);   // rows past n
  EXPECT_NE(strip_problem(10, 100, 100, 64, 5, 10, 10, 100), nullptr);  // r0 before rb
  EXPECT_NE(strip_problem(10, 100, 100, 64, 10, 10, 5, 100), nullptr);  // c0 before rb
  EXPECT_NE(strip_problem(0, 100, 100, 64, 0, 10, 0, 101), nullptr);    // columns past n
  EXPECT_NE(strip_problem(0, 120, 100, 64, 0, 10, 0, 100), nullptr);    // re past n
  EXPECT_NE(strip_problem(0, 1, 3000000000LL, 64, 0, 1, 0, 2200000000LL), nullptr);  // > int32
}

}  // namespace
