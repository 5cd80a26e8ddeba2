// chorus: rounding-error margins of the first (reduced-precision) pass (shared host/device).
//
// The first pass scores every pair cheaply; a pair whose exact similarity is >= the threshold
// must never be missed, so it is a candidate when `first-pass score >= threshold - margin`,
// and candidates are re-scored exactly. The derivation is in README.md ("Exactness contract").
//
// Notation: x_i is row i after normalisation, stored in fp32, with ||x_i|| = n_i (1 +- 1e-6).
// The exact re-check computes r_ij = x_i.x_j / (n_i n_j) in float64, so r_ij differs from
// x_i.x_j by at most |r| * |1 - n_i n_j| <= 3e-7; `kSlack` covers that and the fp32 rounding
// of the first-pass epilogue.
#pragma once

#include <cstdint>

#include "chorus/core/hd.hpp"

namespace chorus::margin {

/// Absolute slack added to every margin: normalisation error of the stored rows (<= 3e-7)
/// plus fp32 rounding of the epilogue (a few ulps of values <= 1.01), rounded up generously.
constexpr double kSlack = 2e-6;

/// Unit roundoff of fp32 (round to nearest).
constexpr double kU32 = 1.0 / 16777216.0;  // 2^-24

/// fp32 GEMM first pass: any summation order of d products obeys
/// |fl(x.y) - x.y| <= gamma_d * sum_k |x_k y_k| <= gamma_d * n_i * n_j,
/// with gamma_d = d u / (1 - d u) (Higham, Accuracy and Stability, Thm 3.1 / Lemma 3.1).
/// `norm_bound` bounds n_i * n_j. Returns +inf-like 4 when d u >= 0.5 (no useful bound).
CHORUS_HD double fp32_gemm(std::int64_t d, double norm_bound = 1.0 + 1e-5) {
  const double du = static_cast<double>(d) * kU32;
  if (du >= 0.5) return 4.0;
  // one more u for the products themselves (each product rounds once before it is summed)
  const double gamma = (du + kU32) / (1.0 - du - kU32);
  return gamma * norm_bound + kSlack;
}

/// int8 first pass with a per-row scale: q_i = s_i * k_i, k_i integer in [-127, 127], and the
/// integer dot k_i.k_j is exact (int32 accumulation). With e_i = ||x_i - q_i|| (computed in
/// float64, rounded up) and m_i = ||q_i||:
///   x_i.x_j - q_i.q_j = x_i.(x_j - q_j) + (x_i - q_i).q_j
///   |x_i.x_j - q_i.q_j| <= n_i e_j + e_i m_j            (Cauchy-Schwarz, twice)
/// so the per-pair margin is n_i e_j + e_i m_j + kSlack.
CHORUS_HD double int8_pair(double n_i, double e_i, double e_j, double m_j) {
  return n_i * e_j + e_i * m_j + kSlack;
}

/// The int8 first-pass score of a pair, margin included: the dot of the dequantised rows
/// (int32 dot times both scales) plus the per-pair bound n_i e_j + e_i m_j (kSlack is folded
/// into the cut). Shared by the CPU epilogue and the fused GPU kernel; fp32 throughout.
CHORUS_HD float int8_score(std::int32_t dot, float s_i, float s_j, float n_i, float e_i, float e_j,
                           float m_j) {
  return static_cast<float>(dot) * s_i * s_j + n_i * e_j + e_i * m_j;
}

/// bf16 first pass (inputs rounded to bf16, products exact in fp32, fp32 accumulation):
/// each input rounds with relative error <= u = 2^-8, so a product carries (1+u)^2 - 1, then the
/// fp32 sum adds gamma_d: |fl(x^.y^) - x.y| <= ((1+u)^2 - 1 + gamma_d (1+u)^2) n_i n_j.
/// `acc_unit` is the relative error of one accumulation step: 2^-24 for IEEE fp32 adds; GPU
/// tensor cores align and truncate inside their block FMAs, for which chorus uses 4 x 2^-24.
CHORUS_HD double bf16_gemm(std::int64_t d, double norm_bound = 1.0 + 1e-5, double acc_unit = kU32) {
  const double ub = 1.0 / 256.0;  // bf16 keeps 8 significand bits: u = 2^-8
  const double du = static_cast<double>(d) * acc_unit;
  if (du >= 0.5) return 4.0;
  const double gamma = du / (1.0 - du);
  const double p = (1.0 + ub) * (1.0 + ub);
  return ((p - 1.0) + gamma * p) * norm_bound + kSlack;
}

}  // namespace chorus::margin
