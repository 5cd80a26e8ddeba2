// chorus: the first-pass operand, shared by the CPU and CUDA backends.
#include <algorithm>
#include <cmath>

#include "chorus/backend.hpp"

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

double first_pass_threshold(const score_problem& pb) {
  return pb.params.mode == view_mode::activity ? pb.params.threshold_activity : pb.params.threshold;
}

void first_pass_row(const score_problem& pb, std::int64_t i, float* out) {
  const auto& p = pb.params;
  switch (p.mode) {
    case view_mode::embedding:
    case view_mode::both:
      std::copy(pb.embedding->row(i), pb.embedding->row(i) + pb.embedding->d, out);
      break;
    case view_mode::activity:
      std::copy(pb.activity->row(i), pb.activity->row(i) + pb.activity->d, out);
      break;
    case view_mode::fused: {
      const auto& e = *pb.embedding;
      const auto& a = *pb.activity;
      const bool ok = e.valid[i] && a.valid[i];
      const float we = static_cast<float>(std::sqrt(p.weight));
      const float wa = static_cast<float>(std::sqrt(1.0 - p.weight));
      for (std::int64_t t = 0; t < e.d; ++t) out[t] = ok ? we * e.row(i)[t] : 0.0f;
      for (std::int64_t t = 0; t < a.d; ++t) out[e.d + t] = ok ? wa * a.row(i)[t] : 0.0f;
      break;
    }
  }
}

}  // namespace chorus
