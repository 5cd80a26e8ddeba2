// chorus: the core types every layer shares: an edge, the scoring problem (views and decision)
// and the run-time choices of backend, kernel and precision. Low-level units include this, not
// the backend interface.
#pragma once

#include <cstdint>
#include <vector>

#include "chorus/core/decision.hpp"
#include "chorus/core/defaults.hpp"

namespace chorus {

/// Transform of activity counts before the Pearson correlation.
enum class activity_transform { none, log1p, tfidf };

/// One view, prepared: row i is the normalised vector (L2 norm 1 up to fp32 rounding) of
/// account i, or all zeros when the account's row has zero norm (zero variance for activity).
/// A rank of a multi-process job may hold only rows [first, n): `data` then starts at row
/// `first`, and rows before it are marked invalid.
struct view_matrix {
  std::int64_t n = 0;               ///< rows (accounts)
  std::int64_t d = 0;               ///< columns (embedding dimension or time bins)
  std::int64_t first = 0;           ///< first row held in `data`
  std::vector<float> data;          ///< row-major (n - first) x d
  std::vector<double> inv_norm;     ///< 1 / ||stored fp32 row|| in float64, 0 for invalid rows
  std::vector<std::uint8_t> valid;  ///< 1 when the row can get edges
  std::int64_t invalid_rows = 0;    ///< rows with zero norm / zero variance
  bool present() const { return d > 0; }
  const float* row(std::int64_t i) const { return data.data() + (i - first) * d; }
};

/// One edge: rows src < dst and the float64-exact similarity per view (NaN for a view not used).
struct edge {
  std::int64_t src = 0, dst = 0;
  float sim_embedding = 0, sim_activity = 0;
};

/// Edges in (src, dst) order, the order of every edge list chorus hands on.
inline bool edge_order(const edge& a, const edge& b) {
  return a.src != b.src ? a.src < b.src : a.dst < b.dst;
}

enum class backend_kind { automatic, cpu, cuda };
/// CUDA first-pass kernel: the hand-written fused tensor-core kernel (bf16/int8, threshold in
/// registers), the CUTLASS 3 Hopper kernel (sm_90, the same contract with TMA and wgmma), or
/// cuBLAS tiles plus a threshold kernel; automatic takes CUTLASS on sm_90 where it was built,
/// else fused, for bf16/int8 jobs whose rows stay resident.
enum class gpu_kernel { automatic, fused, cutlass, cublas };
/// First-pass precision. Every precision gives the same edges: candidates are re-scored exactly.
enum class precision { automatic, fp32, bf16, int8 };

const char* to_string(backend_kind k);
const char* to_string(precision p);

class row_feed;

/// What to score: the prepared views (null when the mode does not use them) and the decision.
struct score_problem {
  const view_matrix* embedding = nullptr;
  const view_matrix* activity = nullptr;
  decision_params params;
  /// Set while the views are still being read (chorus/io/row_feed.hpp): rows at or past
  /// feed->ready() must not be touched before feed->wait() covers them. Null: all rows are there.
  const row_feed* feed = nullptr;
  std::int64_t n() const { return embedding ? embedding->n : activity ? activity->n : 0; }
  bool uses_embedding() const { return params.mode != view_mode::activity; }
  bool uses_activity() const { return params.mode != view_mode::embedding; }
};

}  // namespace chorus
