// chorus: the test hooks, read once from the environment (chorus/core/test_hooks.hpp).
#include "chorus/core/test_hooks.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace chorus {

const test_hook_values& test_hooks() {
  static const test_hook_values hooks = [] {
    test_hook_values h;
#if CHORUS_TEST_HOOKS
    if (const char* e = std::getenv("CHORUS_TEST_CRASH_AT")) h.crash_at_write = std::atoi(e);
    if (const char* e = std::getenv("CHORUS_TEST_FAIL_RANK")) h.fail_rank = std::atoi(e);
    if (const char* e = std::getenv("CHORUS_TEST_PROGRESS_DELAY_MS"))
      h.progress_delay_ms = std::max(0, std::atoi(e));
    if (const char* e = std::getenv("CHORUS_TEST_READ_BLOCK_ROWS"))
      h.read_block_rows = std::max(1, std::atoi(e));
    if (const char* e = std::getenv("CHORUS_READ_OVERLAP")) h.read_overlap = std::strcmp(e, "0");
    if (const char* e = std::getenv("CHORUS_TEST_GPU_BLOCK_ROWS"))
      h.gpu_block_rows = std::max(0, std::atoi(e));
    if (const char* e = std::getenv("CHORUS_TEST_GPU_CAND_CAP"))
      h.gpu_candidate_cap = static_cast<std::uint64_t>(std::max(0, std::atoi(e)));
#endif
    return h;
  }();
  return hooks;
}

}  // namespace chorus
