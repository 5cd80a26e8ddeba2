// chorus: the CUDA backend's device-memory plan (chorus/scan/gpu_plan.hpp).
#include "chorus/scan/gpu_plan.hpp"

#include <algorithm>
#include <vector>

#include "chorus/core/error.hpp"

namespace chorus {
namespace {

constexpr std::uint64_t kMaxCandidates = 1ull << 22;
/// Pairs of one fused 128 x 128 tile: a split batch always fits at least one tile.
constexpr std::uint64_t kFusedTilePairs = 128 * 128;
constexpr std::uint64_t kMiB = 1ull << 20;

std::uint64_t mib(std::uint64_t b) { return (b + kMiB - 1) / kMiB; }

// The parts every path has: parents and the scratch rows.
gpu_plan base(const gpu_plan_request& rq, std::int64_t scratch_rows) {
  gpu_plan p;
  p.parent_bytes = static_cast<std::uint64_t>(rq.n) * 8;
  p.scratch_rows = scratch_rows;
  p.scratch_bytes = static_cast<std::uint64_t>(scratch_rows) * rq.scratch_row_bytes;
  p.finish_bytes = static_cast<std::uint64_t>(rq.n) * kGpuFinishBytesPerRow + kGpuFinishFixedBytes;
  return p;
}

void total(gpu_plan& p) {
  p.scan_bytes = p.parent_bytes + p.scratch_bytes + p.block_bytes + p.tile_bytes + p.cand_bytes +
                 p.blas_workspace + p.kernel_workspace;
}

// The fused kernel: one block of every row, no tile, no cuBLAS workspace.
bool plan_fused(const gpu_plan_request& rq, gpu_plan p, gpu_plan& out) {
  p.route = gpu_plan::path::fused;
  p.kernel_workspace = rq.kernel_workspace;
  p.blocks = 1;
  p.block_rows = rq.rows;
  p.block_bytes = static_cast<std::uint64_t>(rq.rows) * rq.row_bytes;
  const std::uint64_t first =
      rq.force_cand_cap ? std::max(rq.force_cand_cap, kFusedTilePairs) : kMaxCandidates;
  for (std::uint64_t cap = first; cap >= kFusedTilePairs; cap /= 2) {
    p.cand_cap = cap;
    p.cand_bytes = 2 * cap * kGpuCandidateBytes;
    total(p);
    if (p.scan_bytes <= rq.budget) {
      out = p;
      return true;
    }
  }
  return false;
}

// cuBLAS tiles of side t with every row resident (streamed = false) or row blocks streamed.
bool plan_cublas(const gpu_plan_request& rq, gpu_plan p, std::int64_t t, bool streamed,
                 gpu_plan& out) {
  p.tile = t;
  p.tile_bytes = static_cast<std::uint64_t>(t) * t * 4;
  p.blas_workspace = kGpuBlasWorkspace;
  const std::uint64_t rb = std::max<std::uint64_t>(rq.row_bytes, 1);
  // a tile splits by columns when its candidates overflow: a buffer holds one column at least
  const std::uint64_t tt = static_cast<std::uint64_t>(t);
  const std::uint64_t first =
      rq.force_cand_cap ? std::max(rq.force_cand_cap, tt) : std::min(tt * tt, kMaxCandidates);
  for (std::uint64_t cap = first; cap >= tt; cap /= 2) {
    p.cand_cap = cap;
    p.cand_bytes = 2 * cap * kGpuCandidateBytes;
    p.block_bytes = 0;
    total(p);
    if (p.scan_bytes >= rq.budget) continue;
    const std::uint64_t left = rq.budget - p.scan_bytes;
    if (!streamed) {
      if (static_cast<std::uint64_t>(rq.rows) * rb > left) return false;
      p.route = gpu_plan::path::resident;
      p.blocks = 1;
      p.block_rows = rq.rows;
    } else {
      std::int64_t b = rq.force_block_rows > 0
                           ? std::max<std::int64_t>(rq.force_block_rows / t * t, t)
                           : static_cast<std::int64_t>(left / (3 * rb)) / t * t;
      b = std::min(b, (rq.rows + t - 1) / t * t);
      if (b < t || 3 * static_cast<std::uint64_t>(b) * rb > left) continue;
      p.route = gpu_plan::path::streamed;
      p.blocks = 3;
      p.block_rows = b;
    }
    p.block_bytes = static_cast<std::uint64_t>(p.blocks) * p.block_rows * rq.row_bytes;
    total(p);
    out = p;
    return true;
  }
  return false;
}

}  // namespace

std::uint64_t gpu_row_bytes(std::uint64_t fp_bytes, bool int8, std::int64_t d_embedding,
                            std::int64_t d_activity) {
  std::uint64_t b = fp_bytes + (int8 ? 16 : 0);
  for (std::int64_t d : {d_embedding, d_activity})
    if (d > 0) b += static_cast<std::uint64_t>(d) * 4 + 8 + 1;
  return b;
}

std::uint64_t gpu_budget(std::uint64_t free_bytes, int share, std::uint64_t cap, double fraction) {
  auto b =
      static_cast<std::uint64_t>(static_cast<double>(free_bytes) * fraction / std::max(share, 1));
  return cap > 0 ? std::min(b, cap) : b;
}

gpu_plan plan_gpu_memory(const gpu_plan_request& rq) {
  CHORUS_ENSURES(rq.rows >= 0 && rq.rows <= rq.n, "gpu plan: ", rq.rows, " rows of ", rq.n);
  const gpu_plan first = base(rq, 0);
  CHORUS_EXPECTS(first.finish_bytes <= rq.budget, "--backend cuda: labelling ", rq.n,
                 " rows needs ", mib(first.finish_bytes), " MiB of device memory, more than the ",
                 "budget of ", rq.budget / kMiB,
                 " MiB (free memory shared by the processes on this device, or --gpu-memory); "
                 "raise --gpu-memory, run fewer processes per device or use --backend cpu");
  const std::int64_t tiles[] = {16384, 8192, 4096, 2048, 1024, 512, 256};
  const std::int64_t most = std::max<std::int64_t>(rq.n, 1);
  gpu_plan out;
  // fewer scratch rows only when the larger count leaves nothing that fits
  for (std::int64_t sr : {std::int64_t{4096}, std::int64_t{256}}) {
    const gpu_plan p = base(rq, rq.scratch_row_bytes ? std::min(rq.rows, sr) : 0);
    if (rq.force_block_rows <= 0) {
      if (rq.fused && plan_fused(rq, p, out)) return out;
      for (std::int64_t t : tiles)
        if (plan_cublas(rq, p, std::min(t, most), false, out)) return out;
    }
    for (std::int64_t t : tiles) {
      if (rq.force_block_rows > 0 && t > rq.force_block_rows && t != 256) continue;
      if (plan_cublas(rq, p, std::min(t, most), true, out)) return out;
    }
  }
  CHORUS_THROW(input_error, "--backend cuda: not even one tile fits the device memory budget of ",
               rq.budget / kMiB,
               " MiB (free memory shared by the processes on this device, or --gpu-memory); "
               "raise --gpu-memory or use --backend cpu");
}

void split_until_fits(std::int64_t t0, std::int64_t t1, std::uint64_t hits, std::uint64_t capacity,
                      const std::function<std::uint64_t(std::int64_t, std::int64_t)>& run,
                      const std::function<void(std::int64_t, std::int64_t, std::uint64_t)>& take) {
  struct part {
    std::int64_t a, b;
    bool counted;  // hits known (the buffer holds this part's run)
    std::uint64_t hits;
  };
  std::vector<part> todo{{t0, t1, true, hits}};  // a stack: the first half on top
  while (!todo.empty()) {
    part p = todo.back();
    todo.pop_back();
    if (p.b <= p.a) continue;
    if (!p.counted) p.hits = run(p.a, p.b);
    if (p.hits <= capacity) {
      take(p.a, p.b, p.hits);
      continue;
    }
    CHORUS_ENSURES(p.b - p.a > 1, "one step of the scan has ", p.hits,
                   " candidates, more than the buffer of ", capacity);
    const std::int64_t mid = p.a + (p.b - p.a) / 2;
    todo.push_back({mid, p.b, false, 0});
    todo.push_back({p.a, mid, false, 0});
  }
}

int stream_schedule::holding(std::int64_t b) const {
  for (int k = 0; k < 3; ++k)
    if (held_[k] == b) return k;
  return -1;
}

// A device block for row block b that is neither keep1 nor keep2: the first such.
int stream_schedule::place(std::int64_t b, int keep1, int keep2) {
  for (int k = 0; k < 3; ++k)
    if (k != keep1 && k != keep2) {
      held_[k] = b;
      return k;
    }
  return -1;
}

std::vector<stream_schedule::step> stream_schedule::unit(std::int64_t I) {
  std::vector<step> steps;
  // a block a step needs: where it is, else loaded into a block the step does not keep
  const auto need = [&](std::int64_t b, int keep) {
    const int k = holding(b);
    if (k >= 0) return k;
    ++sync_loads_;
    return place(b, keep, -1);
  };
  const auto background = [&](step& st, std::int64_t b) {
    if (b < 0 || holding(b) >= 0) return;
    st.load = b;
    st.load_slot = place(b, st.row_slot, st.col_slot);
    ++background_loads_;
  };
  step diag;
  diag.row = diag.col = I;
  diag.row_slot = diag.col_slot = need(I, -1);
  background(diag, I + 1 < nb_ ? nb_ - 1 : -1);
  steps.push_back(diag);
  for (std::int64_t J = nb_ - 1; J > I; --J) {
    step st;
    st.row = I, st.col = J;
    st.row_slot = diag.row_slot;
    st.col_slot = need(J, st.row_slot);
    // the next column block; after I+1 (the next unit's row block), the next unit's first
    background(st, J - 1 > I ? J - 1 : nb_ - 1 > I + 1 && I + 1 < units_ ? nb_ - 1 : -1);
    steps.push_back(st);
  }
  return steps;
}

std::string gpu_plan::describe() const {
  switch (route) {
    case path::fused:
      return "fused kernel, every row resident (" + std::to_string(block_rows) + " rows), " +
             std::to_string(mib(scan_bytes)) + " MiB";
    case path::resident:
      return "cuBLAS tiles of " + std::to_string(tile) + ", every row resident (" +
             std::to_string(block_rows) + " rows), " + std::to_string(mib(scan_bytes)) + " MiB";
    case path::streamed:
      break;
  }
  return "cuBLAS tiles of " + std::to_string(tile) + ", streamed in blocks of " +
         std::to_string(block_rows) + " rows, " + std::to_string(mib(scan_bytes)) + " MiB";
}

}  // namespace chorus
