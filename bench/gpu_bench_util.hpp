// Helpers shared by the GPU benchmark programs: device check and random unit rows on the host.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "bench_util.hpp"
#include "chorus/scan/tiling.hpp"
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

/// Times `launch` (work over the i<j pairs of n rows that counts its candidates in `count`,
/// reset before each run) and reports its rate over those pairs under `name` (2 d operations a
/// pair), pairs/s, the candidates and, when `ceiling` > 0, the ratio to it (vs_cuBLAS).
template <typename F>
void report_pairs(benchmark::State& state, cudaStream_t s, std::int64_t n, std::int64_t d,
                  unsigned long long* count, F&& launch, double ceiling, const char* name) {
  auto once = [&] {
    CHORUS_CUDA_TRY(cudaMemsetAsync(count, 0, sizeof *count, s));
    launch();
  };
  once();  // warm-up (and first-launch set-up)
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  const double total = time_on_stream(state, s, once);
  unsigned long long hits = 0;
  CHORUS_CUDA_TRY(cudaMemcpyAsync(&hits, count, sizeof hits, cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  const double pairs = double(tiling::pair_count(n)) * double(state.iterations());
  const double rate = 2.0 * double(d) * pairs / total / 1e12;
  state.counters[name] = rate;
  state.counters["pairs/s"] = pairs / total;
  state.counters["candidates"] = double(hits);
  if (ceiling > 0) state.counters["vs_cuBLAS"] = rate / ceiling;
}

}  // namespace chorus::bench
