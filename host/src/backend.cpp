// chorus: backend selection at run time.
#include "chorus/backend.hpp"

#include "chorus/error.hpp"

#ifdef CHORUS_HAVE_CUDA
extern "C" int chorus_cuda_device_count_impl();
#endif

namespace chorus {

int cuda_device_count() {
#ifdef CHORUS_HAVE_CUDA
  return chorus_cuda_device_count_impl();
#else
  return 0;
#endif
}

std::unique_ptr<backend> make_backend(backend_kind kind) {
  switch (kind) {
    case backend_kind::cpu:
    case backend_kind::automatic:
      // The CUDA scoring backend is not part of this build yet; auto falls back to the CPU.
      return make_cpu_backend();
    case backend_kind::cuda: {
#ifndef CHORUS_HAVE_CUDA
      CHORUS_THROW(input_error,
                   "--backend cuda: this chorus was built without CUDA (CHORUS_CUDA=OFF or no "
                   "nvcc); use --backend cpu");
#else
      const int devices = cuda_device_count();
      CHORUS_EXPECTS(devices > 0,
                     "--backend cuda: no CUDA device is visible (no GPU, or the driver is "
                     "missing or too old); use --backend cpu");
      CHORUS_THROW(input_error,
                   "--backend cuda: the CUDA scoring backend is not implemented in "
                   "this version (",
                   devices, " device(s) found); use --backend cpu");
#endif
    }
  }
  return make_cpu_backend();
}

}  // namespace chorus
