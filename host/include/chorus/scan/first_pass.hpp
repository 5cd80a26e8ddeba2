// chorus: one element of an account's first-pass row (shared host/device: the CPU backend and
// the CUDA backend's device-side first pass build the same rows).
#pragma once

#include <cmath>
#include <cstdint>

#include "chorus/core/decision.hpp"
#include "chorus/core/hd.hpp"
#include "chorus/core/types.hpp"

namespace chorus {

/// Scales of the two halves of a fused first-pass row: we = sqrt(w), wa = sqrt(1 - w) in fp32,
/// so that the row's dot product is w * embedding + (1 - w) * activity.
struct fused_weights {
  float we = 1, wa = 0;
};
CHORUS_HD fused_weights fused_row_weights(double w) {
  return {static_cast<float>(sqrt(w)), static_cast<float>(sqrt(1.0 - w))};
}

/// Element k of the first-pass row of an account whose embedding row is `e` (de floats, `ev`:
/// valid) and activity row `a` (da floats, `av`): the embedding row (embedding, both), the
/// activity row (activity), or for fused the concatenation [we * e, wa * a] with we = sqrt(w),
/// wa = sqrt(1 - w) in fp32, zero unless both rows are valid. Zero past the row's width (padding).
CHORUS_HD float first_pass_value(view_mode mode, std::int64_t k, const float* e, std::int64_t de,
                                 bool ev, const float* a, std::int64_t da, bool av, float we,
                                 float wa) {
  switch (mode) {
    case view_mode::activity:
      return k < da ? a[k] : 0.0f;
    case view_mode::fused:
      if (!(ev && av)) return 0.0f;
      return k < de ? we * e[k] : k < de + da ? wa * a[k - de] : 0.0f;
    default:  // embedding, both
      return k < de ? e[k] : 0.0f;
  }
}

/// Width of the first-pass rows: d, T, or d + T for the fused view.
std::int64_t first_pass_width(const score_problem& pb);
/// Row i of the first-pass operand in fp32: the view's row, or for --view fused the
/// concatenation [sqrt(w) x_emb, sqrt(1-w) x_act] (zero when either row is invalid).
void first_pass_row(const score_problem& pb, std::int64_t i, float* out);
}  // namespace chorus
