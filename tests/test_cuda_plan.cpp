// The CUDA backend's host-side logic, on the CPU: its device-memory plan for every view and
// precision (what it allocates, summed here from first principles, stays within the budget),
// the split of a batch whose candidates overflow their buffer, and the order of the streamed
// path's row blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/scan/cutlass_table.hpp"
#include "chorus/scan/gpu_plan.hpp"

using namespace chorus;

namespace {

// A job as the CUDA backend sees it: the views' widths and the precision.
struct job {
  std::string view;  // embedding, activity, both, fused
  std::string prec;  // fp32, bf16, int8
  std::int64_t de = 384, da = 168;
};

bool uses_e(const job& j) { return j.view != "activity"; }
bool uses_a(const job& j) { return j.view != "embedding"; }

// First-pass width and bytes per row, from the kernels' rules: the fused view concatenates both
// rows; the fused kernels pad K to 32 bf16 or 64 int8; fp32 of one view reads the view itself.
std::int64_t width(const job& j) {
  return j.view == "fused" ? j.de + j.da : j.view == "activity" ? j.da : j.de;
}
std::int64_t padded(std::int64_t k, std::int64_t to) { return (k + to - 1) / to * to; }
std::uint64_t fp_row_bytes(const job& j) {
  if (j.prec == "fp32") return j.view == "fused" ? width(j) * sizeof(float) : 0;
  if (j.prec == "bf16") return padded(width(j), 32) * 2;
  return padded(width(j), 64);
}
std::uint64_t view_bytes(std::int64_t d) { return d * sizeof(float) + sizeof(double) + 1; }
std::uint64_t row_bytes(const job& j) {
  return fp_row_bytes(j) + (j.prec == "int8" ? 4 * sizeof(float) : 0) +
         (uses_e(j) ? view_bytes(j.de) : 0) + (uses_a(j) ? view_bytes(j.da) : 0);
}

gpu_plan_request request(const job& j, std::int64_t n, std::uint64_t budget) {
  gpu_plan_request rq;
  rq.n = n;
  rq.rows = n;
  rq.row_bytes =
      gpu_row_bytes(fp_row_bytes(j), j.prec == "int8", uses_e(j) ? j.de : 0, uses_a(j) ? j.da : 0);
  rq.scratch_row_bytes = fp_row_bytes(j) == 0 || j.prec == "fp32" ? 0 : padded(width(j), 64) * 4;
  rq.fused = j.prec != "fp32";
  rq.budget = budget;
  return rq;
}

// What the backend allocates for plan p, summed from its parts: parents (int64), scratch
// rows, row blocks, the cuBLAS tile (fp32) and workspace, two candidate buffers of pairs (two
// int64) and edges (two int64, two float) with their counters.
std::uint64_t allocated(const job& j, const gpu_plan_request& rq, const gpu_plan& p) {
  std::uint64_t b = rq.n * sizeof(std::int64_t);
  b += p.scratch_rows * rq.scratch_row_bytes;
  b += p.blocks * p.block_rows * row_bytes(j);
  b += p.tile * p.tile * sizeof(float) + p.blas_workspace;
  b += 2 * p.cand_cap * (2 * sizeof(std::int64_t) + 2 * sizeof(std::int64_t) + 2 * sizeof(float));
  return b;
}

TEST(GpuPlan, RowBytesFollowTheViews) {
  for (const char* view : {"embedding", "activity", "both", "fused"})
    for (const char* prec : {"fp32", "bf16", "int8"}) {
      const job j{view, prec};
      EXPECT_EQ(request(j, 10, 1).row_bytes, row_bytes(j)) << view << " " << prec;
    }
}

TEST(GpuPlan, EveryViewAndPrecisionStaysWithinItsBudget) {
  int fused = 0, resident = 0, streamed = 0;
  for (const char* view : {"embedding", "activity", "both", "fused"})
    for (const char* prec : {"fp32", "bf16", "int8"})
      for (std::int64_t n : {3001, 1'000'000, 100'000'000})
        for (std::uint64_t budget : {200ull << 20, 8ull << 30, 130ull << 30}) {
          const job j{view, prec};
          SCOPED_TRACE(std::string(view) + " " + prec + " n=" + std::to_string(n) +
                       " budget=" + std::to_string(budget >> 20) + " MiB");
          const gpu_plan_request rq = request(j, n, budget);
          gpu_plan p;
          try {
            p = plan_gpu_memory(rq);
          } catch (const input_error&) {
            // refused only when even relabelling or one tile and three thin blocks do not fit
            EXPECT_TRUE(n * 56 > budget || 3 * 256 * row_bytes(j) + (32ull << 20) > budget / 2);
            continue;
          }
          EXPECT_LE(allocated(j, rq, p), budget);
          EXPECT_EQ(allocated(j, rq, p), p.scan_bytes);
          EXPECT_LE(p.finish_bytes, budget);
          EXPECT_GE(p.finish_bytes, n * 7 * sizeof(std::int64_t));  // parent, labels, 3 Thrust
          if (p.route == gpu_plan::path::fused) {
            ++fused;
            EXPECT_TRUE(rq.fused);
            EXPECT_EQ(p.tile, 0);  // no fp32 tile on the fused path
            EXPECT_EQ(p.blas_workspace, 0u);
            EXPECT_GE(p.cand_cap, 128u * 128u);  // a split reaches single tiles that fit
            EXPECT_EQ(p.block_rows, n);
          } else {
            EXPECT_GE(p.cand_cap, static_cast<std::uint64_t>(p.tile));  // one tile column
            EXPECT_GT(p.blas_workspace, 0u);
            if (p.route == gpu_plan::path::resident) {
              ++resident;
              EXPECT_EQ(p.block_rows, n);
            } else {
              ++streamed;
              EXPECT_EQ(p.blocks, 3);
              EXPECT_EQ(p.block_rows % p.tile, 0);
              EXPECT_LT(p.block_rows, n);
            }
          }
        }
  EXPECT_GT(fused, 0);
  EXPECT_GT(resident, 0);
  EXPECT_GT(streamed, 0);
}

// Defect: the GPU test's 3.6 MB found no plan at all ("not even one tile fits"). It fits now,
// and a budget that cannot hold the scratch rows of every row falls back to fewer of them.
TEST(GpuPlan, SmallBudgetFallsBackToFewerScratchRows) {
  const job j{"both", "bf16", 33, 40};
  const gpu_plan roomy = plan_gpu_memory(request(j, 3001, 3'600'000));
  EXPECT_EQ(roomy.route, gpu_plan::path::fused);
  EXPECT_EQ(roomy.scratch_rows, 3001);
  EXPECT_LE(roomy.scan_bytes, 3'600'000u);
  const gpu_plan tight = plan_gpu_memory(request(j, 3001, 3'000'000));
  EXPECT_EQ(tight.route, gpu_plan::path::fused);
  EXPECT_EQ(tight.scratch_rows, 256);
  EXPECT_LE(tight.scan_bytes, 3'000'000u);
}

TEST(GpuPlan, TestHookForcesStreamedBlocks) {
  for (const char* view : {"embedding", "both", "fused"}) {
    const job j{view, "bf16", 33, 40};
    gpu_plan_request rq = request(j, 3001, 0);
    rq.budget = 8ull << 30;
    rq.force_block_rows = 1024;
    const gpu_plan p = plan_gpu_memory(rq);
    EXPECT_EQ(p.route, gpu_plan::path::streamed) << view;
    EXPECT_EQ(p.tile, 1024) << view;
    EXPECT_EQ(p.block_rows, 1024) << view;
    EXPECT_LE(p.scan_bytes, rq.budget);
    rq.force_block_rows = 300;  // below the smallest tile: tiles and blocks of 256
    EXPECT_EQ(plan_gpu_memory(rq).block_rows, 256) << view;
  }
}

TEST(GpuPlan, RanksSharingADeviceShareItsFreeMemory) {
  EXPECT_EQ(gpu_budget(100'000'000'000ull, 1, 0), 92'000'000'000ull);
  EXPECT_EQ(gpu_budget(100'000'000'000ull, 4, 0), 23'000'000'000ull);
  EXPECT_EQ(gpu_budget(100'000'000'000ull, 4, 1'000'000'000ull), 1'000'000'000ull);
  EXPECT_EQ(gpu_budget(100'000'000'000ull, 0, 0), 92'000'000'000ull);
  // 10 M rows fit resident alone, not when four ranks share the device
  const job j{"embedding", "bf16"};
  const auto alone = plan_gpu_memory(request(j, 10'000'000, gpu_budget(140ull << 30, 1, 0)));
  const auto shared = plan_gpu_memory(request(j, 10'000'000, gpu_budget(140ull << 30, 4, 0)));
  EXPECT_EQ(alone.route, gpu_plan::path::fused);
  EXPECT_LE(shared.scan_bytes, gpu_budget(140ull << 30, 4, 0));
  EXPECT_LE(alone.scan_bytes, gpu_budget(140ull << 30, 1, 0));
}

TEST(GpuPlan, TooSmallABudgetIsAClearError) {
  const job j{"embedding", "bf16"};
  try {
    plan_gpu_memory(request(j, 3001, 100'000));
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("--gpu-memory"), std::string::npos) << e.what();
  }
  try {
    plan_gpu_memory(request(j, 100'000'000, 1ull << 30));  // relabelling alone needs 5.6 GB
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("labelling"), std::string::npos) << e.what();
  }
}

// A fake first pass: tile t has hits[t] candidates; the buffer holds the last run's only.
struct fake_pass {
  std::vector<std::uint64_t> hits;
  std::int64_t run_a = -1, run_b = -1;  // what the buffer holds
  std::vector<int> taken;               // per tile
  std::int64_t last_taken = -1;
  int runs = 0;
  std::uint64_t capacity = 0;
  std::uint64_t count(std::int64_t a, std::int64_t b) const {
    std::uint64_t h = 0;
    for (std::int64_t t = a; t < b; ++t) h += hits[t];
    return h;
  }
};

void split(fake_pass& f, std::int64_t t0, std::int64_t t1) {
  f.taken.assign(f.hits.size(), 0);
  f.run_a = t0, f.run_b = t1;  // the first run happened in the pipeline
  split_until_fits(
      t0, t1, f.count(t0, t1), f.capacity,
      [&](std::int64_t a, std::int64_t b) {
        ++f.runs;
        f.run_a = a, f.run_b = b;
        return f.count(a, b);
      },
      [&](std::int64_t a, std::int64_t b, std::uint64_t h) {
        ASSERT_EQ(a, f.run_a) << "the buffer holds another range";
        ASSERT_EQ(b, f.run_b);
        ASSERT_LE(h, f.capacity);
        ASSERT_EQ(h, f.count(a, b));
        ASSERT_EQ(a, f.last_taken + 1) << "ranges taken out of order";
        f.last_taken = b - 1;
        for (std::int64_t t = a; t < b; ++t) ++f.taken[t];
      });
}

TEST(SplitUntilFits, EveryTileOnceInOrderWithinTheBuffer) {
  for (std::uint64_t cap : {1000ull, 5000ull, 1'000'000ull}) {
    fake_pass f;
    f.capacity = cap;
    for (int t = 0; t < 16384; ++t) f.hits.push_back((t * 7919) % 1000 == 0 ? 900 : t % 3);
    split(f, 0, 16384);
    for (int t = 0; t < 16384; ++t) ASSERT_EQ(f.taken[t], 1) << "tile " << t << " cap " << cap;
    if (cap >= f.count(0, 16384))
      EXPECT_EQ(f.runs, 0) << "it fitted: no re-run";
    else
      EXPECT_GT(f.runs, 1);
  }
}

TEST(SplitUntilFits, OneTileOverTheBufferIsAnInternalError) {
  fake_pass f;
  f.capacity = 100;
  f.hits = {10, 101, 10};
  EXPECT_THROW(split(f, 0, 3), runtime_failure);
}

// The streamed order: every pair of row blocks (I <= J) scored exactly once; the blocks a step
// scores are held; a background load never lands in a block the step reads; one load only
// waits (the very first), and each unit's row block is the previous unit's last column block.
TEST(StreamSchedule, EveryBlockPairOnceFromHeldBlocks) {
  for (std::int64_t nb = 1; nb <= 12; ++nb) {
    SCOPED_TRACE("nb=" + std::to_string(nb));
    stream_schedule sched(nb, nb);
    std::int64_t held[3] = {-1, -1, -1};
    std::map<std::pair<std::int64_t, std::int64_t>, int> scored;
    std::int64_t sync = 0;
    for (std::int64_t I = 0; I < nb; ++I) {
      for (const auto& st : sched.unit(I)) {
        ASSERT_EQ(st.row, I);
        for (auto [slot, blk] : {std::pair<int, std::int64_t>{st.row_slot, st.row},
                                 std::pair<int, std::int64_t>{st.col_slot, st.col}}) {
          ASSERT_TRUE(slot >= 0 && slot < 3);
          if (held[slot] != blk) ++sync, held[slot] = blk;
        }
        ASSERT_EQ(held[st.row_slot], st.row);
        ASSERT_EQ(held[st.col_slot], st.col);
        ASSERT_TRUE(st.row == st.col ? st.row_slot == st.col_slot : st.row_slot != st.col_slot);
        if (st.load >= 0) {
          ASSERT_NE(st.load_slot, st.row_slot) << "overwrites the row block being scored";
          ASSERT_NE(st.load_slot, st.col_slot) << "overwrites the column block being scored";
          held[st.load_slot] = st.load;
        }
        ++scored[{st.row, st.col}];
      }
    }
    for (std::int64_t I = 0; I < nb; ++I)
      for (std::int64_t J = I; J < nb; ++J) EXPECT_EQ((scored[{I, J}]), 1) << I << "," << J;
    EXPECT_EQ(scored.size(), static_cast<std::size_t>(nb * (nb + 1) / 2));
    EXPECT_EQ(sync, 1);
    EXPECT_EQ(sched.sync_loads(), 1);
    // every block at least once; at most block 0 and then each unit's column blocks once, which
    // is fewer than reloading each unit's row block (the order this replaced) from nb = 2 on
    const std::int64_t loads = sched.sync_loads() + sched.background_loads();
    EXPECT_GE(loads, nb);
    EXPECT_LE(loads, 1 + nb * (nb - 1) / 2);
    if (nb >= 2) EXPECT_LT(loads, nb + nb * (nb - 1) / 2);
  }
}

// A rank's share (the first `units` row blocks of nb): its pairs once each, and no block
// loaded in the background that no later step scores.
TEST(StreamSchedule, ARanksShareLoadsNothingItDoesNotScore) {
  for (std::int64_t nb = 2; nb <= 9; ++nb)
    for (std::int64_t units = 1; units < nb; ++units) {
      SCOPED_TRACE("nb=" + std::to_string(nb) + " units=" + std::to_string(units));
      stream_schedule sched(nb, units);
      std::vector<std::vector<stream_schedule::step>> all;
      for (std::int64_t I = 0; I < units; ++I) all.push_back(sched.unit(I));
      std::map<std::pair<std::int64_t, std::int64_t>, int> scored;
      std::vector<std::int64_t> loaded;  // background loads not yet scored
      for (const auto& steps : all)
        for (const auto& st : steps) {
          loaded.erase(std::remove(loaded.begin(), loaded.end(), st.col), loaded.end());
          loaded.erase(std::remove(loaded.begin(), loaded.end(), st.row), loaded.end());
          ++scored[{st.row, st.col}];
          if (st.load >= 0) loaded.push_back(st.load);
        }
      EXPECT_TRUE(loaded.empty()) << "loaded and never scored: block " << loaded.front();
      for (std::int64_t I = 0; I < units; ++I)
        for (std::int64_t J = I; J < nb; ++J) EXPECT_EQ((scored[{I, J}]), 1) << I << "," << J;
    }
}

TEST(GpuPlan, TestHookCapsTheCandidateBuffers) {
  const job j{"embedding", "bf16", 33, 0};
  gpu_plan_request rq = request(j, 3001, 8ull << 30);
  rq.force_cand_cap = 65536;
  EXPECT_EQ(plan_gpu_memory(rq).cand_cap, 65536u);
  rq.force_cand_cap = 100;  // never below one fused tile
  EXPECT_EQ(plan_gpu_memory(rq).cand_cap, 128u * 128u);
  rq.force_block_rows = 1024;
  EXPECT_EQ(plan_gpu_memory(rq).cand_cap, 1024u);  // never below one cuBLAS tile column
}

}  // namespace

namespace {

// The CUTLASS variant table: every width of either precision has a variant of that precision,
// and a CUTLASS box's column (the smallest part of a split launch) fits the smallest candidate
// buffer the memory plan allows (one fused tile, 128 x 128).
TEST(CutlassTable, EveryWidthHasAVariantOfItsPrecision) {
  for (bool int8 : {false, true})
    for (std::int64_t k = 1; k <= 4096; ++k) {
      const char* v = cutlass_table::variant_for(k, int8);
      ASSERT_NE(v, nullptr) << k;
      EXPECT_EQ(std::string(v).rfind(int8 ? "int8 " : "bf16 ", 0), 0u) << k << " " << v;
    }
  EXPECT_LE(cutlass_table::kBoxRows, 128 * 128);
  std::int64_t last[2] = {0, 0};
  for (const auto& e : cutlass_table::kTable) {  // rows in increasing max_k per precision
    EXPECT_GT(e.max_k, last[e.int8]) << e.variant;
    last[e.int8] = e.max_k;
  }
}

TEST(GpuPlan, KernelWorkspaceIsCounted) {
  const job j{"embedding", "bf16"};
  gpu_plan_request rq = request(j, 100'000, 8ull << 30);
  const gpu_plan without = plan_gpu_memory(rq);
  rq.kernel_workspace = 3 << 20;
  const gpu_plan with = plan_gpu_memory(rq);
  EXPECT_EQ(with.route, gpu_plan::path::fused);
  EXPECT_EQ(with.kernel_workspace, 3u << 20);
  EXPECT_EQ(with.scan_bytes, without.scan_bytes + (3u << 20));
}

}  // namespace
