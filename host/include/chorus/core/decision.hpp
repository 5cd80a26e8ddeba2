// chorus: the pair decision of each view mode (shared host/device).
#pragma once

#include "chorus/core/hd.hpp"

namespace chorus {

/// How pairs are scored (see README, "Views").
enum class view_mode : int {
  embedding = 0,  ///< cosine of L2-normalised embedding rows >= threshold
  activity = 1,   ///< Pearson correlation of activity rows >= threshold_activity
  both = 2,       ///< embedding >= threshold AND activity >= threshold_activity
  fused = 3,      ///< w * embedding + (1 - w) * activity >= threshold
};

/// Thresholds of one run.
struct decision_params {
  view_mode mode = view_mode::both;
  double threshold = 0.8;           ///< embedding (or fused) threshold
  double threshold_activity = 0.8;  ///< activity threshold
  double weight = 0.5;              ///< fused weight of the embedding view
};

/// The exact decision for a pair with float64 similarities se (embedding) and sa (activity).
CHORUS_HD bool decide(const decision_params& p, double se, double sa) {
  switch (p.mode) {
    case view_mode::embedding:
      return se >= p.threshold;
    case view_mode::activity:
      return sa >= p.threshold_activity;
    case view_mode::both:
      return se >= p.threshold && sa >= p.threshold_activity;
    case view_mode::fused:
      return p.weight * se + (1.0 - p.weight) * sa >= p.threshold;
  }
  return false;
}

/// Edge strength used by --topk: the similarity the mode thresholds (min of both for `both`).
CHORUS_HD double strength(const decision_params& p, double se, double sa) {
  switch (p.mode) {
    case view_mode::embedding:
      return se;
    case view_mode::activity:
      return sa;
    case view_mode::both:
      return se < sa ? se : sa;
    case view_mode::fused:
      return p.weight * se + (1.0 - p.weight) * sa;
  }
  return 0.0;
}

}  // namespace chorus
