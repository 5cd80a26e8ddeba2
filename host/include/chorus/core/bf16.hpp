// chorus: fp32 -> bf16 rounding to nearest even (shared host/device); inputs are finite.
#pragma once

#include <cstdint>
#include <cstring>

#include "chorus/core/hd.hpp"

namespace chorus {

/// The bf16 bit pattern nearest to x (ties to even), as __float2bfloat16_rn computes it.
CHORUS_HD std::uint16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

}  // namespace chorus
