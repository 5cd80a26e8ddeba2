// chorus: the CUDA backend's device-memory plan, on the host (no CUDA needed, CPU-tested).
//
// Everything the CUDA backend puts on the device during a scan and after it is sized here, from
// one budget: resident or streamed row blocks, the fp32 scratch rows of the device-side bf16/int8
// first pass, the union-find parents, the two candidate/edge buffers the pipelined batches
// alternate between, the cuBLAS tile and workspace (cuBLAS paths only), and, after the scan, the
// labels and Thrust temporaries of the relabelling. The backend allocates exactly what the plan
// lists, so the plan is the memory the run can use.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chorus {

/// What a CUDA scan needs from the device, per row and in total.
struct gpu_plan_request {
  std::int64_t n = 0;                   ///< rows of the scan: pairs i < j < n
  std::int64_t rows = 0;                ///< rows the device holds: [begin, n)
  std::uint64_t row_bytes = 0;          ///< device bytes per resident row (see gpu_row_bytes)
  std::uint64_t scratch_row_bytes = 0;  ///< fp32 scratch bytes per row (bf16/int8 first pass)
  bool fused = false;                   ///< the fused kernel may serve (every row resident)
  std::uint64_t budget = 0;             ///< device bytes this process may use
  /// Test hook (CHORUS_TEST_GPU_BLOCK_ROWS): stream row blocks of about this many rows through
  /// cuBLAS tiles, whatever the budget allows. 0: the plan decides.
  std::int64_t force_block_rows = 0;
  /// Test hook (CHORUS_TEST_GPU_CAND_CAP): candidate buffers of about this many pairs (at
  /// least one fused tile or one cuBLAS tile column), so that small jobs overflow them and the
  /// split re-runs are exercised. 0: the plan decides.
  std::uint64_t force_cand_cap = 0;
  /// Device workspace of the kernel that serves the fused path (CUTLASS's), in bytes.
  std::uint64_t kernel_workspace = 0;
};

/// How the scan runs and what it allocates.
struct gpu_plan {
  enum class path { fused, resident, streamed };
  path route = path::fused;
  std::int64_t tile = 0;               ///< cuBLAS tile side (0 on the fused path)
  std::uint64_t cand_cap = 0;          ///< candidates per buffer; there are two buffers
  std::int64_t block_rows = 0;         ///< rows per device block
  std::int64_t blocks = 0;             ///< device blocks (1 resident, 3 streamed)
  std::int64_t scratch_rows = 0;       ///< fp32 scratch rows (0: none)
  std::uint64_t blas_workspace = 0;    ///< cuBLAS workspace bytes (cuBLAS paths)
  std::uint64_t kernel_workspace = 0;  ///< the fused path's kernel workspace (CUTLASS)
  // Bytes, by use. scan_bytes is their sum; finish_bytes is the relabelling's peak after the
  // scan's buffers are released.
  std::uint64_t parent_bytes = 0, scratch_bytes = 0, block_bytes = 0, tile_bytes = 0,
                cand_bytes = 0, scan_bytes = 0, finish_bytes = 0;
  /// One line for logs and stats.detail, e.g. "fused kernel, 1 block of 3001 rows".
  std::string describe() const;
};

/// Device bytes per candidate slot: a pair64 (16) and an edge (24).
constexpr std::uint64_t kGpuCandidateBytes = 40;
/// cuBLAS workspace given to the handle on cuBLAS paths (cublasSetWorkspace; the size NVIDIA
/// recommends for Hopper), so that cuBLAS allocates nothing the plan does not count.
constexpr std::uint64_t kGpuBlasWorkspace = 32ull << 20;
/// Relabelling after the scan: parent, labels and Thrust's count, order and id arrays (8 bytes
/// each per row) plus the sort's temporary (at most 16 bytes per row), and a fixed allowance.
constexpr std::uint64_t kGpuFinishBytesPerRow = 56;
constexpr std::uint64_t kGpuFinishFixedBytes = 1ull << 20;

/// Device bytes per resident row: the first-pass row (`fp_bytes`, 0 when a view's fp32 rows
/// serve), int8 bounds (16 bytes when `int8`), and per view the re-check needs its fp32 row,
/// 1 / norm (float64) and valid flag (dims 0 when not needed).
std::uint64_t gpu_row_bytes(std::uint64_t fp_bytes, bool int8, std::int64_t d_embedding,
                            std::int64_t d_activity);

/// Plan one scan. Throws input_error when not even one tile fits the budget.
gpu_plan plan_gpu_memory(const gpu_plan_request& rq);

/// The budget of one process: `fraction` of the device's free bytes shared by the `share`
/// processes using the device, capped by `cap` (--gpu-memory; 0: none).
std::uint64_t gpu_budget(std::uint64_t free_bytes, int share, std::uint64_t cap,
                         double fraction = 0.92);

/// Candidates of a range of work [t0, t1) (fused tiles, or columns of a cuBLAS tile) that
/// overflowed a buffer of `capacity` (`hits` were counted, only `capacity` kept): the range is
/// halved until each part fits, in order. `run(a, b)` scores [a, b) into the buffer and returns
/// the candidates it counted; `take(a, b, hits)` consumes the buffer right after the run of
/// [a, b). A single step (b - a == 1) that overflows is an internal error: the plan sizes the
/// buffer for one step. Memory never grows, whatever the threshold.
void split_until_fits(std::int64_t t0, std::int64_t t1, std::uint64_t hits, std::uint64_t capacity,
                      const std::function<std::uint64_t(std::int64_t, std::int64_t)>& run,
                      const std::function<void(std::int64_t, std::int64_t, std::uint64_t)>& take);

/// The order of the streamed path (three device blocks, row blocks of equal size), kept on the
/// host so that the CPU tests can check it. Unit I scores row block I against itself and then
/// against column blocks nb-1 down to I+1; while one pair of blocks is scored the next column
/// block loads into the third device block. The last column block of unit I is I+1, which is
/// the row block of unit I+1, so a row block is never loaded twice in a row.
class stream_schedule {
 public:
  /// One pair of row blocks to score, in device blocks row_slot and col_slot (equal on the
  /// diagonal), and the row block to load in the background meanwhile (-1: none) into
  /// load_slot, which neither of the pair uses.
  struct step {
    std::int64_t row = 0, col = 0;
    int row_slot = 0, col_slot = 0;
    std::int64_t load = -1;
    int load_slot = -1;
  };
  /// `nb` row blocks; `units` of them are row blocks of this run (a rank's share: the first
  /// `units`), so no unit loads ahead for a unit that will not run.
  stream_schedule(std::int64_t nb, std::int64_t units) : nb_(nb), units_(units) {}
  /// The steps of unit I. A block a step needs and no earlier step loaded is loaded by the
  /// caller before the step (then counted in sync_loads()).
  std::vector<step> unit(std::int64_t I);
  /// Row blocks loaded before the step that needed them (the device waited for them).
  std::int64_t sync_loads() const { return sync_loads_; }
  /// Row blocks loaded in the background.
  std::int64_t background_loads() const { return background_loads_; }

 private:
  int holding(std::int64_t b) const;
  int place(std::int64_t b, int keep1, int keep2);
  std::int64_t nb_, units_;
  std::int64_t held_[3] = {-1, -1, -1};
  std::int64_t sync_loads_ = 0, background_loads_ = 0;
};

}  // namespace chorus
