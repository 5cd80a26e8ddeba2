// chorus: FNV-1a 64, the one byte hash chorus stores (checkpoint shard sums, string account ids).
#pragma once

#include <cstddef>
#include <cstdint>

namespace chorus {

/// FNV-1a 64 of `n` bytes (offset basis 14695981039346656037, prime 1099511628211).
inline std::uint64_t fnv1a64(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace chorus
