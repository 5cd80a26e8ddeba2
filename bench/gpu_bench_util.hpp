// Helpers shared by the GPU benchmark programs: device check and random unit rows on the host.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "bench_util.hpp"

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

}  // namespace chorus::bench
