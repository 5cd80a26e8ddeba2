// chorus: fault injection and measurement switches for the test suite, in one place.
//
// Tests drive the real `chorus` executable, so the hooks come from the environment. They are
// read once, here and nowhere else, and only when chorus is built with CHORUS_TEST_HOOKS=ON
// (the default build, which is the one the tests use); with OFF they keep their defaults and
// the environment is never read. README.md, "Testing", lists them.
#pragma once

#include <cstdint>

namespace chorus {

/// The hooks in effect for this process.
struct test_hook_values {
  /// CHORUS_TEST_CRASH_AT=n: the process ends abruptly (_exit(9)) half-way through its n-th
  /// atomic checkpoint write (crash-safety tests). -1: never.
  int crash_at_write = -1;
  /// CHORUS_TEST_FAIL_RANK=r: rank r of a multi-process job fails when it starts scoring (error
  /// agreement tests). -1: none.
  int fail_rank = -1;
  /// CHORUS_TEST_PROGRESS_DELAY_MS=t: every progress report of the scan sleeps t ms, so that a
  /// peer's failure reaches a rank in the middle of its scan (error agreement races).
  int progress_delay_ms = 0;
  /// CHORUS_TEST_READ_BLOCK_ROWS=k: the input is read k rows at a time (the reader/scorer
  /// handshake with many small blocks). 0: the reader's own block size.
  std::int64_t read_block_rows = 0;
  /// CHORUS_READ_OVERLAP=0: read every row before scoring (for measurements of the overlap).
  bool read_overlap = true;
  /// CHORUS_TEST_GPU_BLOCK_ROWS=k: the CUDA backend streams row blocks of about k rows (its
  /// streamed path on a small job). 0: its memory plan decides.
  std::int64_t gpu_block_rows = 0;
  /// CHORUS_TEST_GPU_CAND_CAP=k: the CUDA backend's candidate buffers hold about k pairs (small
  /// jobs then overflow them and split their batches). 0: its memory plan decides.
  std::uint64_t gpu_candidate_cap = 0;
};

/// The hooks, read from the environment on first use.
const test_hook_values& test_hooks();

}  // namespace chorus
