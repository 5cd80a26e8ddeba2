// chorus: the pair decision of each view mode (shared host/device).
#pragma once

#include "chorus/core/defaults.hpp"
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
  double threshold = defaults::threshold;                    ///< embedding (or fused)
  double threshold_activity = defaults::threshold_activity;  ///< activity threshold
  double weight = defaults::weight;                          ///< fused weight of embedding
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

/// A cosine from the float64 dot of two stored rows and their float64 inverse norms, clamped to
/// [-1, 1] (rounding may overshoot by ~1e-16). The norms are multiplied first, so that the value
/// is the same whichever row comes first: an incremental run (chorus/job/update.hpp) scores
/// pairs in another orientation than a full run and must decide them alike.
CHORUS_HD double cosine_of(double dot, double inv_a, double inv_b) {
  const double r = dot * (inv_a * inv_b);
  return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
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

/// The threshold the first pass compares against: the activity threshold for the activity view,
/// else the embedding (or fused) threshold.
CHORUS_HD double first_pass_threshold(const decision_params& p) {
  return p.mode == view_mode::activity ? p.threshold_activity : p.threshold;
}

/// The exact decision of one candidate pair, shared by the CPU re-check and the CUDA re-check
/// kernel. `valid_e()` / `valid_a()` say whether both rows of the pair are valid in that view;
/// `sim_e()` / `sim_a()` return its float64 similarity. Each is called only when the mode needs
/// it, in this order (a `both` pair below the embedding threshold never scores its activity).
/// On true, *se and *sa hold the similarities (left as they were for a view the mode ignores).
template <class ValidE, class SimE, class ValidA, class SimA>
CHORUS_HD bool decide_pair(const decision_params& p, ValidE valid_e, SimE sim_e, ValidA valid_a,
                           SimA sim_a, double* se, double* sa) {
  if (p.mode != view_mode::activity) {
    if (!valid_e()) return false;
    *se = sim_e();
    if (p.mode == view_mode::both && *se < p.threshold) return false;
  }
  if (p.mode != view_mode::embedding) {
    if (!valid_a()) return false;
    *sa = sim_a();
  }
  return decide(p, *se, *sa);
}

}  // namespace chorus
