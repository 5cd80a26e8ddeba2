// chorus: backend selection at run time.
#include "chorus/backend.hpp"

#include "chorus/error.hpp"

namespace chorus {

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
