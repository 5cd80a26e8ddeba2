// Helpers shared by the GPU benchmark programs: device check and random unit rows on the host.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "bench_util.hpp"
#include "cuda_check.hpp"

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

/// Runs `once` (work it enqueues on stream `s`) for each benchmark iteration, timed with CUDA
/// events, as the iteration's manual time. Returns the total seconds of all iterations.
template <typename F>
double time_on_stream(benchmark::State& state, cudaStream_t s, F&& once) {
  cuda::event start, stop;
  double total = 0;
  for (auto _ : state) {
    start.record(s);
    once();
    stop.record(s);
    const double sec = stop.since(start) / 1e3;
    state.SetIterationTime(sec);
    total += sec;
  }
  return total;
}

}  // namespace chorus::bench
