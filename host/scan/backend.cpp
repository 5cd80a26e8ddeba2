// chorus: backend selection at run time.
#include "chorus/scan/backend.hpp"

#include "chorus/core/error.hpp"

namespace chorus {

void throw_too_many_edges(std::int64_t max_edges) {
  CHORUS_THROW(limit_error, "the graph has more than ", max_edges,
               " edges (--max-edges) at these thresholds; raise the threshold(s), keep the "
               "strongest edges per account with --topk k, or raise --max-edges (each edge needs "
               "about 24 bytes of memory)");
}

std::unique_ptr<backend> make_backend(backend_kind kind) {
  switch (kind) {
    case backend_kind::cpu:
      return make_cpu_backend();
    case backend_kind::automatic:
      return cuda_device_count() > 0 ? make_cuda_backend() : make_cpu_backend();
    case backend_kind::cuda: {
      CHORUS_EXPECTS(cuda_device_count() > 0,
                     "--backend cuda: no CUDA device is visible (no GPU, or the driver is missing "
                     "or too old); use --backend cpu");
      return make_cuda_backend();
    }
  }
  return make_cpu_backend();
}

}  // namespace chorus
