// chorus: backend selection at run time.
#include "chorus/backend.hpp"

#include "chorus/error.hpp"

#ifdef CHORUS_HAVE_CUDA
extern "C" int chorus_cuda_device_count_impl();
#define CHORUS_CUDA_BUILT 1
#else
#define CHORUS_CUDA_BUILT 0
#endif

namespace chorus {

int cuda_device_count() {
#ifdef CHORUS_HAVE_CUDA
  return chorus_cuda_device_count_impl();
#else
  return 0;
#endif
}

#ifndef CHORUS_HAVE_CUDA
std::unique_ptr<backend> make_cuda_backend() {
  CHORUS_THROW(input_error,
               "--backend cuda: this chorus was built without CUDA (CHORUS_CUDA=OFF or no nvcc); "
               "use --backend cpu");
}
#endif

std::unique_ptr<backend> make_backend(backend_kind kind) {
  switch (kind) {
    case backend_kind::cpu:
      return make_cpu_backend();
    case backend_kind::automatic:
      return cuda_device_count() > 0 ? make_cuda_backend() : make_cpu_backend();
    case backend_kind::cuda: {
      CHORUS_EXPECTS(cuda_device_count() > 0 || !CHORUS_CUDA_BUILT,
                     "--backend cuda: no CUDA device is visible (no GPU, or the driver is missing "
                     "or too old); use --backend cpu");
      return make_cuda_backend();
    }
  }
  return make_cpu_backend();
}

}  // namespace chorus
