// chorus: `--edges EXPR`, a small expression over views that decides which pairs are edges,
// e.g. "co_repost>=5 | (embedding & activity)".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/coaction/coaction.hpp"

namespace chorus {

/// One term of an edge expression: a view and the value it must reach.
struct edge_term {
  std::string view;       ///< "embedding", "activity" or a co-action view ("co_repost", ...)
  bool coaction = false;  ///< a co-action view (threshold is then a minimum weight)
  coaction::view_kind kind = coaction::view_kind::repost;  ///< when coaction
  double threshold = 0;  ///< cosine / correlation threshold, or the minimum co-action weight
  bool inline_threshold = false;  ///< written in the expression (`co_repost>=5`)
  std::string text() const;       ///< "co_repost>=5", "embedding>=0.95"
};

/// A parsed expression: its distinct terms (bit k of a mask is term k) and its disjunctive normal
/// form (a pair is an edge when every term of some conjunct holds).
struct edge_expression {
  std::string text;  ///< canonical, fully parenthesised
  std::vector<edge_term> terms;
  std::vector<std::vector<int>> conjuncts;  ///< term indices; each sorted, none empty
  /// True when the terms whose bits are set in `held` make the expression true.
  bool holds(std::uint64_t held) const;
  bool uses_coaction() const;
  bool uses(const std::string& view) const;
};

/// Defaults for terms without an inline threshold.
struct term_defaults {
  double embedding = 0, activity = 0;
  std::int64_t min_weight = 1;
};

/// Parses `text`: terms are view names with an optional `>=value`, combined by `&` (and), `|`
/// (or) and parentheses; `&` binds tighter. Throws input_error with the position of a mistake,
/// an unknown view, a threshold out of range, more than 16 distinct terms or more than 256
/// conjuncts.
edge_expression parse_edge_expression(const std::string& text, const term_defaults& d);

}  // namespace chorus
