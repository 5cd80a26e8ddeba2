// chorus: checked CUDA and cuBLAS calls and RAII owners (host code; compiles with g++ or nvcc).
// Every failure becomes a chorus::cuda_error carrying file:line; nothing here aborts.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "chorus/core/error.hpp"

/// Check a CUDA runtime call; throws chorus::cuda_error with the call, the error and file:line.
#define CHORUS_CUDA_TRY(call)                                        \
  do {                                                               \
    const cudaError_t chorus_err_ = (call);                          \
    if (chorus_err_ != cudaSuccess) {                                \
      cudaGetLastError();                                            \
      CHORUS_THROW(::chorus::cuda_error, "CUDA: ", #call,            \
                   " failed: ", cudaGetErrorName(chorus_err_), " (", \
                   cudaGetErrorString(chorus_err_), ")");            \
    }                                                                \
  } while (0)

/// Check a cuBLAS call.
#define CHORUS_CUBLAS_TRY(call)                                                                 \
  do {                                                                                          \
    const cublasStatus_t chorus_st_ = (call);                                                   \
    if (chorus_st_ != CUBLAS_STATUS_SUCCESS)                                                    \
      CHORUS_THROW(::chorus::cuda_error, "cuBLAS: ", #call, " failed: status ",                 \
                   static_cast<int>(chorus_st_), " (", cublasGetStatusString(chorus_st_), ")"); \
  } while (0)

/// Check the last kernel launch (launch errors; execution errors surface at the next sync).
#define CHORUS_CUDA_CHECK_LAUNCH() CHORUS_CUDA_TRY(cudaGetLastError())

namespace chorus::cuda {

/// Device memory for `count` elements of T; freed on destruction. Sizes are 64-bit.
template <typename T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(std::size_t count) { resize(count); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~device_buffer() { release(); }
  /// Reallocate (contents are not kept).
  void resize(std::size_t count) {
    release();
    if (count) CHORUS_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&p_), count * sizeof(T)));
    n_ = count;
  }
  T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::size_t bytes() const noexcept { return n_ * sizeof(T); }

 private:
  void release() noexcept {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

/// Pinned host memory (for asynchronous copies).
template <typename T>
class pinned_buffer {
 public:
  pinned_buffer() = default;
  explicit pinned_buffer(std::size_t count) {
    if (count) CHORUS_CUDA_TRY(cudaMallocHost(reinterpret_cast<void**>(&p_), count * sizeof(T)));
    n_ = count;
  }
  pinned_buffer(const pinned_buffer&) = delete;
  pinned_buffer& operator=(const pinned_buffer&) = delete;
  pinned_buffer(pinned_buffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  pinned_buffer& operator=(pinned_buffer&& o) noexcept {
    if (this != &o) {
      if (p_) cudaFreeHost(p_);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~pinned_buffer() {
    if (p_) cudaFreeHost(p_);
  }
  T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

/// A non-blocking CUDA stream.
class stream {
 public:
  stream() { CHORUS_CUDA_TRY(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() {
    if (s_) cudaStreamDestroy(s_);
  }
  cudaStream_t get() const noexcept { return s_; }
  void sync() const { CHORUS_CUDA_TRY(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

/// A CUDA event (timing enabled).
class event {
 public:
  event() { CHORUS_CUDA_TRY(cudaEventCreate(&e_)); }
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() {
    if (e_) cudaEventDestroy(e_);
  }
  cudaEvent_t get() const noexcept { return e_; }
  void record(cudaStream_t s) { CHORUS_CUDA_TRY(cudaEventRecord(e_, s)); }
  /// Milliseconds from `start` to this event (both recorded and complete).
  float since(const event& start) const {
    float ms = 0;
    CHORUS_CUDA_TRY(cudaEventSynchronize(e_));
    CHORUS_CUDA_TRY(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

/// A cuBLAS handle bound to a stream.
class blas_handle {
 public:
  explicit blas_handle(cudaStream_t s) {
    CHORUS_CUBLAS_TRY(cublasCreate(&h_));
    CHORUS_CUBLAS_TRY(cublasSetStream(h_, s));
  }
  blas_handle(const blas_handle&) = delete;
  blas_handle& operator=(const blas_handle&) = delete;
  ~blas_handle() {
    if (h_) cublasDestroy(h_);
  }
  cublasHandle_t get() const noexcept { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

}  // namespace chorus::cuda
