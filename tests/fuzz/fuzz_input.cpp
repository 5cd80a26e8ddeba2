// libFuzzer target for chorus's input-validation layer: the fuzz bytes become a file that
// chorus::inspect_input and chorus::load_input read. A chorus::error is the expected answer to a
// bad file; anything else (a crash, an abort, another exception, a leak, undefined behaviour)
// is a finding.
//
// Build: CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCHORUS_FUZZ=ON -DCHORUS_CUDA=OFF
//          -DCHORUS_SANITIZE=address,undefined -DCHORUS_BUILD_TESTS=OFF -DCHORUS_BUILD_BENCH=OFF
// Run:   build-fuzz/tests/fuzz/fuzz_input -max_total_time=60 build-fuzz/corpus tests/fuzz/corpus
// (see .ci/sanitize.sh; the seeds in tests/fuzz/corpus are tiny valid inputs).
#include <omp.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"

namespace {

std::string& scratch_path() {
  static std::string p;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  chorus::h5::quiet();
  omp_set_num_threads(1);  // threads only add noise to a fuzzing run
  const char* tmp = std::getenv("TMPDIR");
  scratch_path() =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/chorus_fuzz_" + std::to_string(getpid()) + ".h5";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    const chorus::input_info info = chorus::inspect_input(path);
    // Harness policy, not chorus's: load only inputs that declare at most 2^22 values, so a
    // mutated extent does not run into libFuzzer's RSS limit (2 GiB) while staying far below
    // chorus's own memory bound (tested in test_hostile_inputs.cpp, HugeDeclaredExtent).
    std::int64_t values = 0;
    const bool overflow = __builtin_mul_overflow(info.n, info.dim + info.bins + 4, &values);
    if (!overflow && values <= (std::int64_t{1} << 22)) {
      chorus::load_options lo;
      lo.embedding = info.has_embedding;
      lo.activity = info.has_activity;
      lo.block_rows = 5;  // many blocks on tiny inputs: exercises the block boundaries
      lo.transform = static_cast<chorus::activity_transform>(size % 3);
      chorus::load_input(info, lo);  // as a job does: the file is inspected once
    }
  } catch (const chorus::error&) {
    // expected: a clear message for a bad file
  }
  std::remove(path.c_str());
  return 0;
}
