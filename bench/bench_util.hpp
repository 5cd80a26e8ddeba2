// Helpers shared by the benchmark programs: random unit rows with a few near-duplicates.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "chorus/io/input.hpp"

namespace chorus::bench {

/// n unit rows of dimension d around n/200 centres (10 near-duplicates each), fp32 row-major.
inline std::vector<float> unit_rows(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::vector<float> x(static_cast<std::size_t>(n * d));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> centre(d);
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 200 == 0)
      for (auto& c : centre) c = g(rng);
    const float noise = (i % 200 < 10) ? 0.2f : 3.0f;
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      x[i * d + k] = centre[k] + noise * g(rng);
      s += double(x[i * d + k]) * x[i * d + k];
    }
    for (std::int64_t k = 0; k < d; ++k) x[i * d + k] = float(x[i * d + k] / std::sqrt(s));
  }
  return x;
}

/// The same rows as a prepared view (unit rows, float64 inverse norms of the stored rows).
inline view_matrix unit_view(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  view_matrix v;
  v.n = n;
  v.d = d;
  v.data = unit_rows(n, d, seed);
  v.inv_norm.resize(n);
  v.valid.assign(n, 1);
  for (std::int64_t i = 0; i < n; ++i) {
    double s2 = 0;
    for (std::int64_t k = 0; k < d; ++k) s2 += double(v.data[i * d + k]) * v.data[i * d + k];
    v.inv_norm[i] = 1 / std::sqrt(s2);
  }
  return v;
}

}  // namespace chorus::bench
