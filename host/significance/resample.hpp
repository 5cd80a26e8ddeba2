// chorus significance, internal: the resampling streams and the per-cluster bookkeeping the
// null models share.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "chorus/significance/significance.hpp"

namespace chorus::significance::detail {

/// SplitMix64 finaliser: a 64-bit mix with full avalanche.
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// A small counter-based generator: stream (seed, key, r) is the same on any thread count.
struct stream {
  std::uint64_t state;
  stream(std::uint64_t seed, std::uint64_t key, std::uint64_t r)
      : state(mix(seed + 0x9E3779B97F4A7C15ULL) ^ mix(key ^ 0xD1B54A32D192ED03ULL) ^
              mix(r * 0xA24BAED4963EE407ULL + 1)) {}
  std::uint64_t next() {
    state += 0x9E3779B97F4A7C15ULL;
    return mix(state);
  }
  /// Uniform in [0, n), n > 0, without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    std::uint64_t low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t floor = (0 - n) % n;
      while (low < floor) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }
  /// Standard normal (Box-Muller).
  double normal() {
    const double u1 = (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

/// A model's result sized for `clusters` clusters and `k` resamples (the samples of the first
/// `keep`), NaN throughout.
model_result empty_result(const char* model, const char* statistic, std::int64_t clusters,
                          std::int64_t k, std::int64_t keep);

/// Fill cluster c's figures from its observed statistic and its k resampled statistics `s`
/// (kept in r.samples when c is among the first r.kept clusters).
void summarise_cluster(model_result& r, std::int64_t c, double observed, const float* s,
                       std::int64_t k);

/// OpenMP threads for `threads` (0: the default).
int thread_count(int threads);

}  // namespace chorus::significance::detail
