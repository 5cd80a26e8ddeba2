// chorus: int8 quantisation of first-pass rows with a per-row scale (shared host/device: the CPU
// backend and the CUDA backend's device-side first pass run the same code).
#pragma once

#include <cmath>
#include <cstdint>

#include "chorus/core/hd.hpp"

namespace chorus {

/// int8 row with a per-row scale s = max|x| / 127: q = round(x / s), clamped to [-127, 127].
/// Returns s and adds to the float64 sums the margins need: ||x - s q||^2, ||s q||^2, ||x||^2.
/// Any rounding of x / s is valid (the margins use the error actually made); the magic-number
/// round-to-nearest keeps the loop vectorisable, and eight partial sums let it vectorise in
/// float64 without reassociation by the compiler.
CHORUS_HD float quantize_row_int8(const float* x, std::int64_t k, std::int8_t* q, double& e2,
                                  double& q2, double& r2) {
  float amax = 0;
  for (std::int64_t t = 0; t < k; ++t) {  // comparisons, not fmaxf: they vectorise as max
    const float a = fabsf(x[t]);
    amax = a > amax ? a : amax;
  }
  const float s = amax / 127.0f;
  const float inv = s > 0 ? 1.0f / s : 0.0f;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: x + kMagic - kMagic rounds to an integer
  double se[8] = {0}, sq[8] = {0}, sr[8] = {0};
  std::int64_t t = 0;
  for (; t + 8 <= k; t += 8)
    for (int l = 0; l < 8; ++l) {
      float v = (x[t + l] * inv + kMagic) - kMagic;
      v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
      q[t + l] = static_cast<std::int8_t>(v);
      const double qv = static_cast<double>(s) * static_cast<double>(v);
      const double xv = static_cast<double>(x[t + l]);
      se[l] += (xv - qv) * (xv - qv);
      sq[l] += qv * qv;
      sr[l] += xv * xv;
    }
  for (; t < k; ++t) {
    float v = (x[t] * inv + kMagic) - kMagic;
    v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
    q[t] = static_cast<std::int8_t>(v);
    const double qv = static_cast<double>(s) * static_cast<double>(v);
    const double xv = static_cast<double>(x[t]);
    se[0] += (xv - qv) * (xv - qv);
    sq[0] += qv * qv;
    sr[0] += xv * xv;
  }
  for (int l = 0; l < 8; ++l) e2 += se[l], q2 += sq[l], r2 += sr[l];
  return s;
}

/// The per-row bounds the int8 margin uses (chorus::margin::int8_score) from quantize_row_int8's
/// sums: e = ||x - s q||, m = ||s q||, n = ||x||, each rounded up generously (they bound errors,
/// so they may only grow).
CHORUS_HD float int8_bound_up(double v) {
  return nextafterf(static_cast<float>(sqrt(v) * (1 + 1e-12)), INFINITY);
}
CHORUS_HD void int8_row_bounds(double e2, double q2, double r2, float* e, float* m, float* n) {
  *e = int8_bound_up(e2);
  *m = int8_bound_up(q2);
  *n = int8_bound_up(r2);
}

}  // namespace chorus
