// chorus ingest: the content vectors. Sublinear TF-IDF of the account x feature counts and a
// deterministic randomised truncated SVD (LSA), streaming over a count matrix that may be on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "chorus/ingest/count_matrix.hpp"

namespace chorus::ingest {

/// Parameters of lsa_embed.
struct lsa_options {
  int dim = 256;             ///< output dimensions (lowered to the rank bound, see lsa_embed)
  int oversample = 16;       ///< extra columns of the random range finder
  int power_iterations = 2;  ///< passes of (A A^T) applied to the range (2 matrix passes each)
  std::uint64_t seed = 1;    ///< seed of the random test matrix
  int threads = 0;           ///< 0: all cores (omp_get_max_threads)
};

/// The embedding of every row of the count matrix.
struct lsa_result {
  std::vector<float> vectors;  ///< rows x dim, row-major; each row L2-normalised, empty rows zero
  int dim = 0;                 ///< the dimension actually used
  std::vector<double> singular_values;  ///< dim values, descending (zero past the numerical rank)
  std::int64_t empty_rows = 0;          ///< rows without any feature
};

/// Embeds the rows of `m` with LSA.
///
/// TF-IDF with sublinear tf: w = (1 + ln count) * idf, idf = ln((1 + n) / (1 + df)) + 1
/// (scikit-learn's smooth_idf), df = rows with the feature; each row L2-normalised. Then a
/// randomised truncated SVD (Halko, Martinsson, Tropp 2011): a Gaussian range finder with
/// `power_iterations` power iterations, orthonormalised on both sides between them, and
/// vectors = U_k * Sigma_k with rows L2-normalised; each column's sign makes its largest-magnitude
/// entry (before row normalisation) positive. dim is lowered to min(dim, rows, features with
/// df > 0). The result depends on the data, the options and the seed only: it is byte-identical
/// for any thread count and any block size of `m`. `m` is read only through for_each_block
/// (2 * power_iterations + 3 passes). Memory: about rows x (dim + oversample) floats plus
/// features x (dim + oversample) x 12 bytes, 12 bytes per entry of the largest block, and about
/// 4096 x (dim + oversample) doubles per thread.
///
/// progress(fraction in [0, 1]) is called from the calling thread between blocks; it may throw
/// to cancel. Throws input_error for bad options or a malformed matrix.
lsa_result lsa_embed(const count_matrix& m, const lsa_options& opt,
                     const std::function<void(double)>& progress = {});

}  // namespace chorus::ingest
