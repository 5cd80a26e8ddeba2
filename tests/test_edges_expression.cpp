// --edges expressions: parse, disjunctive normal form and truth tables worked out by hand.
#include <gtest/gtest.h>

#include <string>

#include "chorus/combine/expression.hpp"
#include "chorus/core/error.hpp"
#include "test_support.hpp"

namespace {

using chorus::edge_expression;
using chorus::parse_edge_expression;
using chorus::term_defaults;

term_defaults defaults() {
  term_defaults d;
  d.embedding = 0.9, d.activity = 0.6, d.min_weight = 3;
  return d;
}

TEST(EdgesExpression, AndBindsTighterThanOr) {
  const edge_expression e = parse_edge_expression("co_repost | embedding & activity", defaults());
  ASSERT_EQ(e.terms.size(), 3u);
  EXPECT_EQ(e.terms[0].view, "co_repost");
  EXPECT_TRUE(e.terms[0].coaction);
  EXPECT_EQ(e.terms[0].threshold, 3);
  EXPECT_EQ(e.terms[1].threshold, 0.9);
  EXPECT_EQ(e.terms[2].threshold, 0.6);
  EXPECT_EQ(e.text, "co_repost>=3 | (embedding>=0.9 & activity>=0.6)");
  // truth table: bit 0 co_repost, 1 embedding, 2 activity
  const bool want[8] = {false, true, false, true, false, true, true, true};
  for (std::uint64_t m = 0; m < 8; ++m) EXPECT_EQ(e.holds(m), want[m]) << m;
  EXPECT_TRUE(e.uses_coaction());
  EXPECT_TRUE(e.uses("activity"));
  EXPECT_FALSE(e.uses("co_link"));
}

TEST(EdgesExpression, ParenthesesDistributeAndRedundantAlternativesGo) {
  const edge_expression e =
      parse_edge_expression("(co_link>=2 | co_text) & (embedding>=0.5 | co_link>=2)", defaults());
  // terms: co_link>=2 (0), co_text>=3 (1), embedding>=0.5 (2);
  // (0 & 2) | (0) | (1 & 2) | (1 & 0)  ->  0 | (1 & 2)
  ASSERT_EQ(e.terms.size(), 3u);
  ASSERT_EQ(e.conjuncts.size(), 2u);
  EXPECT_EQ(e.conjuncts[0], (std::vector<int>{0}));
  EXPECT_EQ(e.conjuncts[1], (std::vector<int>{1, 2}));
  EXPECT_EQ(e.text, "co_link>=2 | (co_text>=3 & embedding>=0.5)");
  EXPECT_TRUE(e.terms[0].inline_threshold);
  EXPECT_FALSE(e.terms[1].inline_threshold);
}

TEST(EdgesExpression, TheSameTermTwiceIsOneTerm) {
  const edge_expression e =
      parse_edge_expression("  embedding>=0.9&embedding | activity>=0.7  ", defaults());
  ASSERT_EQ(e.terms.size(), 2u);  // embedding (the default is 0.9) and activity>=0.7
  EXPECT_EQ(e.text, "embedding>=0.9 | activity>=0.7");
  EXPECT_FALSE(e.uses_coaction());
}

TEST(EdgesExpression, MistakesNameThePosition) {
  auto msg = [](const std::string& s) {
    return chorus::test::message_of([&] { parse_edge_expression(s, defaults()); });
  };
  EXPECT_NE(msg("co_repost &").find("expected a view, found the end"), std::string::npos);
  EXPECT_NE(msg("co_repost & 5").find("expected a view, found '5' at position 13"),
            std::string::npos);
  EXPECT_NE(msg("(embedding").find("missing ')'"), std::string::npos);
  EXPECT_NE(msg("embedding)").find("unexpected ')'"), std::string::npos);
  EXPECT_NE(msg("embeding").find("unknown view 'embeding'"), std::string::npos);
  EXPECT_NE(msg("embedding>=").find("expected a number after >="), std::string::npos);
  EXPECT_NE(msg("activity>=1.5").find("[-1, 1]"), std::string::npos);
  EXPECT_NE(msg("co_post>=2.5").find("whole number >= 1"), std::string::npos);
  EXPECT_NE(msg("co_post>=0").find("whole number >= 1"), std::string::npos);
  EXPECT_NE(msg("co_repost>=3.5").find("at position 12"), std::string::npos);
  std::string many;
  for (int k = 1; k <= 17; ++k)
    many += (k > 1 ? " | " : "") + std::string("co_post>=") + std::to_string(k);
  EXPECT_NE(msg(many).find("more than 16 distinct terms"), std::string::npos);
  std::string wide;  // 16 terms in groups of 3, 3, 3, 3, 4: 3^4 x 4 = 324 alternatives
  for (int k = 0; k < 5; ++k) {
    wide += k ? " & (" : "(";
    for (int j = 0; j < (k == 4 ? 4 : 3); ++j)
      wide += (j ? " | co_post>=" : "co_post>=") + std::to_string(10 * k + j + 1);
    wide += ")";
  }
  EXPECT_NE(msg(wide).find("more than 256 alternatives"), std::string::npos);
  EXPECT_THROW(parse_edge_expression("", defaults()), chorus::input_error);
}

}  // namespace
