// chorus: the backend interface and the scan driver around it.
//
// As in FAISS (a public `search` that pages, around a backend's `searchImpl_`), one driver runs
// every scan: it owns the work units and their order, waiting for rows that are still being
// read, batches, checkpoint resume and save, stop requests, --max-edges, the edge sink, progress
// and the final sort (host/scan/driver.cpp). A backend only scores: it cuts the run into work
// units (`plan_`), prepares first-pass rows as they arrive (`rows_ready_`) and scores batches of
// units (`submit_` / `collect_`). One interface, CPU and CUDA implementations chosen at run time;
// the CPU backend is the oracle every accelerated path is compared against.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"

namespace chorus {

class edge_store;

/// Knobs of one scoring run.
struct score_options {
  /// When set, edges go here as they are found (it may spill to disk past its cap) and
  /// find_edges returns an empty vector.
  edge_store* sink = nullptr;
  precision prec = precision::automatic;
  int threads = 0;                               ///< 0: all cores
  std::int64_t max_edges = defaults::max_edges;  ///< stop with limit_error beyond this
  std::int64_t tile_rows = defaults::tile_rows;  ///< rows per tile (accounts)
  std::int64_t tile_cols = defaults::tile_cols;  ///< columns per tile, a multiple of tile_rows
  std::string checkpoint_dir;                    ///< empty: no checkpoints
  double checkpoint_interval = defaults::checkpoint_interval;  ///< seconds (0: every batch)
  bool resume = false;                                         ///< continue from checkpoint_dir
  std::string identity;  ///< input identity + parameters, recorded in checkpoints
  int device = 0;        ///< CUDA device ordinal (--device)
  gpu_kernel kernel = gpu_kernel::automatic;  ///< CUDA first-pass kernel (--gpu-kernel)
  std::uint64_t gpu_memory = 0;               ///< cap on device memory in bytes (0: what is free)
  /// Processes of this job that use the same device (MPI ranks on one node sharing a GPU): the
  /// free device memory is shared among them.
  int device_share = 1;
  /// Test hook (CHORUS_TEST_GPU_BLOCK_ROWS): the CUDA backend streams row blocks of about this
  /// many rows whatever its memory budget allows (0: its plan decides).
  std::int64_t gpu_block_rows = 0;
  /// Test hook (CHORUS_TEST_GPU_CAND_CAP): the CUDA backend's candidate buffers hold about this
  /// many pairs, so that small jobs overflow them (0: its memory plan decides).
  std::uint64_t gpu_candidate_cap = 0;
  /// Rows this run decides (one rank's share of a multi-process job): pairs (i, j) with
  /// row_begin <= i < row_end and i < j < n. row_end < 0 means n. The views need rows
  /// [row_begin, n) only.
  std::int64_t row_begin = 0, row_end = -1;
  /// Called now and then from one thread with (pairs decided so far, total pairs).
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Whether the run should stop (SIGINT/SIGTERM, a failed peer rank): polled by the driver
  /// between batches and by a backend inside long work units. Unset: never. It comes with the
  /// options, like progress, because a backend plugin (libchorus_cuda.so) has its own copy of
  /// the library's globals and would never see the executable's stop flag.
  std::function<bool()> stop;
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

/// The rows one scan decides: pairs (i, j) with begin <= i < end and i < j < n.
struct scan_range {
  std::int64_t begin = 0, end = 0, n = 0;
};

/// How a backend cuts one scan into work units. Units are numbered 0..units-1; the driver runs
/// them in batches, in number order or, while rows are still arriving, in order of the rows they
/// need. A unit is atomic for checkpoints: its edges are saved with it.
struct scan_plan {
  std::int64_t units = 0;
  std::int64_t batch_units = 1;  ///< units handed to one submit_
  /// What a unit is, recorded in checkpoints: a resume must find the same geometry.
  std::string geometry;
  /// Empty when the units are checkpointable; else why --checkpoint cannot serve this scan.
  std::string no_checkpoint;
  /// Batches the backend may keep in flight beyond the one just submitted: with 1, the driver
  /// submits batch k+1 before it collects batch k (0: each batch completes before the next).
  int depth = 0;
  /// Unit u reads rows below rows_upto(u) (at most n). Unset: every unit needs every row.
  std::function<std::int64_t(std::int64_t)> rows_upto;
  /// Pairs unit u decides (progress, and the pairs a resumed checkpoint already covered).
  std::function<std::int64_t(std::int64_t)> pairs;
};

/// Where a backend reports what it finds: the scan driver's handler (as FAISS's result handlers
/// take a backend's hits). Both calls are thread-safe and may come from any thread.
class scan_results {
 public:
  virtual ~scan_results() = default;
  /// Edges found in batch `batch` (any order, any number of calls per unit); `edges` is
  /// emptied. Returns false once the scan has more edges than --max-edges allows: the backend
  /// may then skip the rest of the batch (the scan fails).
  virtual bool add_edges(std::int64_t batch, std::vector<edge>& edges) = 0;
  /// Unit `unit` of batch `batch` is scored and all its edges were added; `candidates` pairs
  /// went to its exact re-check.
  virtual void unit_done(std::int64_t batch, std::int64_t unit, std::int64_t candidates) = 0;
};

/// One batch of work units for a backend.
struct scan_batch {
  std::int64_t id = 0;  ///< batch sequence number, for scan_results
  std::vector<std::int64_t> units;
  scan_results* results = nullptr;
};

/// A scoring backend. Call find_edges; the protected hooks are what a backend implements.
class backend {
 public:
  virtual ~backend() = default;
  virtual std::string name() const = 0;

  /// Decide every pair i < j of the rows opt.row_begin..opt.row_end and return the edges sorted
  /// by (src, dst), or hand them to opt.sink and return an empty vector. The scan driver
  /// (host/scan/driver.cpp) around the hooks below.
  std::vector<edge> find_edges(const score_problem& problem, const score_options& opt,
                               score_stats& stats);

 protected:
  /// Check that this backend can run the scan; choose precision and kernel; set stats.used and
  /// stats.detail. Allocates nothing.
  virtual void configure_(const score_problem& pb, const score_options& opt,
                          const scan_range& range, score_stats& stats) = 0;
  /// Allocate and cut the scan into work units (called only when it has pairs to decide).
  virtual scan_plan plan_() = 0;
  /// View rows [from, to) are readable now: build their first-pass rows. Called with
  /// increasing, adjacent ranges that end at n, before any batch whose units read those rows.
  virtual void rows_ready_(std::int64_t from, std::int64_t to) = 0;
  /// Edges of units completed by an earlier run (a resumed checkpoint). They are part of the
  /// result already; a backend that builds components while scoring takes them in here.
  virtual void absorb_(const std::vector<edge>& edges) { (void)edges; }
  /// Start scoring a batch; it reports to batch.results. It may return before the batch is done
  /// (see scan_plan::depth).
  virtual void submit_(const scan_batch& batch) = 0;
  /// Wait until the oldest batch not yet collected has reported all it found.
  virtual void collect_() {}
  /// After the last batch: component roots and labels when the backend computed them.
  virtual void finish_(score_stats& stats) { (void)stats; }

 private:
  struct scan;
};

/// The CPU backend (oneDNN tiles, exact float64 re-check).
std::unique_ptr<backend> make_cpu_backend();
/// The CUDA backend (cuBLAS tiles, threshold/compaction, exact re-check and union-find kernels).
/// Throws input_error when chorus was built without CUDA or no device is usable.
std::unique_ptr<backend> make_cuda_backend();

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
