// chorus: marks functions that host and device share; plain inline functions without nvcc.
#pragma once

#if defined(__CUDACC__)
#define CHORUS_HD __host__ __device__ inline
#else
#define CHORUS_HD inline
#endif
