// chorus: CUDA device discovery (host code compiled by nvcc; runs without a GPU present).
#include <cuda_runtime.h>

/// Number of visible CUDA devices; 0 when there is no device or the driver is absent/too old.
extern "C" int chorus_cuda_device_count_impl() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error state for later calls
    return 0;
  }
  return count;
}
