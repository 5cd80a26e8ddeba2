// chorus: the first-pass operand, shared by the CPU and CUDA backends.
#include "chorus/scan/first_pass.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace chorus {

std::int64_t first_pass_width(const score_problem& pb) {
  switch (pb.params.mode) {
    case view_mode::activity:
      return pb.activity->d;
    case view_mode::fused:
      return pb.embedding->d + pb.activity->d;
    default:
      return pb.embedding->d;
  }
}

void first_pass_row(const score_problem& pb, std::int64_t i, float* out) {
  const auto& p = pb.params;
  const bool ue = p.mode != view_mode::activity,
             ua = p.mode != view_mode::embedding && p.mode != view_mode::both;
  const float* e = ue ? pb.embedding->row(i) : nullptr;
  const float* a = ua ? pb.activity->row(i) : nullptr;
  const std::int64_t de = ue ? pb.embedding->d : 0, da = ua ? pb.activity->d : 0;
  const bool ev = ue && pb.embedding->valid[i], av = ua && pb.activity->valid[i];
  const fused_weights fw = fused_row_weights(p.weight);
  const float we = fw.we, wa = fw.wa;
  const std::int64_t k = first_pass_width(pb);
  const auto fill = [&](auto mode) {
    for (std::int64_t t = 0; t < k; ++t)
      out[t] = first_pass_value(mode(), t, e, de, ev, a, da, av, we, wa);
  };
  // the mode as a constant, so that each loop compiles to a plain copy or scale (a run-time
  // mode inside the loop made this 3.5x slower)
  switch (p.mode) {
    case view_mode::activity:
      fill(std::integral_constant<view_mode, view_mode::activity>{});
      break;
    case view_mode::fused:
      fill(std::integral_constant<view_mode, view_mode::fused>{});
      break;
    default:  // embedding, both
      fill(std::integral_constant<view_mode, view_mode::embedding>{});
  }
}

}  // namespace chorus
