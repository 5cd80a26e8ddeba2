// chorus: the backend interface. One interface, CPU and CUDA implementations chosen at run time;
// the CPU backend is the oracle that every accelerated path is compared against.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chorus/core/decision.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/io/input.hpp"

namespace chorus {

/// One edge: rows src < dst and the float64-exact similarity per view (NaN for a view not used).
struct edge {
  std::int64_t src = 0, dst = 0;
  float sim_embedding = 0, sim_activity = 0;
};

enum class backend_kind { automatic, cpu, cuda };
/// CUDA first-pass kernel: the fused tensor-core kernel (bf16, threshold in registers) or cuBLAS
/// tiles plus a threshold kernel; automatic takes fused for bf16 jobs whose rows stay resident.
enum class gpu_kernel { automatic, fused, cublas };
/// First-pass precision. Every precision gives the same edges: candidates are re-scored exactly.
enum class precision { automatic, fp32, bf16, int8 };

const char* to_string(backend_kind k);
const char* to_string(precision p);

/// What to score: the prepared views (null when the mode does not use them) and the decision.
struct score_problem {
  const view_matrix* embedding = nullptr;
  const view_matrix* activity = nullptr;
  decision_params params;
  /// Set while the views are still being read (chorus/io/row_feed.hpp): rows at or past
  /// feed->ready() must not be touched before feed->wait() covers them. Null: all rows are there.
  const row_feed* feed = nullptr;
  std::int64_t n() const { return embedding ? embedding->n : activity ? activity->n : 0; }
};

class edge_store;

/// Knobs of one scoring run.
struct score_options {
  /// When set, edges go here as they are found (it may spill to disk past its cap) and
  /// find_edges returns an empty vector.
  edge_store* sink = nullptr;
  precision prec = precision::automatic;
  int threads = 0;                       ///< 0: all cores
  std::int64_t max_edges = 200'000'000;  ///< stop with limit_error beyond this
  std::int64_t tile_rows = 512;          ///< rows per tile (accounts)
  std::int64_t tile_cols = 2048;         ///< columns per tile, a multiple of tile_rows
  std::string checkpoint_dir;            ///< empty: no checkpoints
  double checkpoint_interval = 300;      ///< seconds between checkpoints (0: after every batch)
  bool resume = false;                   ///< continue from checkpoint_dir
  std::string identity;                  ///< input identity + parameters, recorded in checkpoints
  int device = 0;                        ///< CUDA device ordinal (--device)
  gpu_kernel kernel = gpu_kernel::automatic;  ///< CUDA first-pass kernel (--gpu-kernel)
  std::uint64_t gpu_memory = 0;               ///< cap on device memory in bytes (0: what is free)
  /// Rows this run decides (one rank's share of a multi-process job): pairs (i, j) with
  /// row_begin <= i < row_end and i < j < n. row_end < 0 means n. The views need rows
  /// [row_begin, n) only.
  std::int64_t row_begin = 0, row_end = -1;
  /// Called now and then from one thread with (pairs decided so far, total pairs).
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// What a scoring run did.
struct score_stats {
  precision used = precision::fp32;
  std::int64_t pairs = 0;       ///< pairs i<j decided (in this run's row range)
  std::int64_t candidates = 0;  ///< pairs the first pass sent to the exact re-check
  std::int64_t edges = 0;
  double seconds = 0;
  std::string detail;  ///< e.g. the GEMM library and ISA
  /// Component roots (smallest row of each component) when the backend computed them while
  /// scoring (the CUDA backend's union-find); empty otherwise.
  std::vector<std::int64_t> roots;
  /// Canonical labels and their cluster count, when the backend computed them (CUDA: Thrust).
  std::vector<std::int64_t> labels;
  std::int64_t clusters = -1;
  std::int64_t resumed_units = 0;  ///< work units taken from a checkpoint
  std::int64_t checkpoints = 0;    ///< checkpoints written
};

/// A scoring backend: decides every pair i < j and returns the edges, sorted by (src, dst).
class backend {
 public:
  virtual ~backend() = default;
  virtual std::string name() const = 0;
  virtual std::vector<edge> find_edges(const score_problem& problem, const score_options& opt,
                                       score_stats& stats) = 0;
};

/// The CPU backend (oneDNN tiles, exact float64 re-check).
std::unique_ptr<backend> make_cpu_backend();
/// The CUDA backend (cuBLAS tiles, threshold/compaction, exact re-check and union-find kernels).
/// Throws input_error when chorus was built without CUDA or no device is usable.
std::unique_ptr<backend> make_cuda_backend();

/// Width of the first-pass rows: d, T, or d + T for the fused view.
std::int64_t first_pass_width(const score_problem& pb);
/// The threshold the first pass compares against (the activity threshold for --view activity).
double first_pass_threshold(const score_problem& pb);
/// Row i of the first-pass operand in fp32: the view's row, or for --view fused the
/// concatenation [sqrt(w) x_emb, sqrt(1-w) x_act] (zero when either row is invalid).
void first_pass_row(const score_problem& pb, std::int64_t i, float* out);
/// Pick a backend: `cuda` throws input_error when no usable CUDA backend exists; `automatic`
/// takes CUDA when a device and the CUDA backend are present, else the CPU.
std::unique_ptr<backend> make_backend(backend_kind kind);

/// Number of CUDA devices visible (0 when chorus was built without CUDA or no driver/device).
int cuda_device_count();

/// The limit_error of a run whose graph has more edges than `max_edges` (--max-edges), with the
/// user's ways out; thrown by both backends and by a multi-process job's total.
[[noreturn]] void throw_too_many_edges(std::int64_t max_edges);

/// Exact float64 similarity of two prepared rows (cosine of the stored fp32 rows).
double exact_similarity(const view_matrix& v, std::int64_t i, std::int64_t j);

}  // namespace chorus
