// Helpers shared by the GPU benchmark programs: device check and random unit rows on the host.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace chorus::bench {

/// True when a CUDA device is present; otherwise marks the benchmark skipped with a reason.
inline bool need_gpu(benchmark::State& state) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    state.SkipWithError("no CUDA device");
    return false;
  }
  return true;
}

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

}  // namespace chorus::bench
