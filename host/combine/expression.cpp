// chorus: the --edges expression: a recursive-descent parser and its disjunctive normal form.
#include "chorus/combine/expression.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "chorus/core/error.hpp"

namespace chorus {

std::string edge_term::text() const {
  std::ostringstream o;
  o.precision(15);
  o << view << ">=" << threshold;
  return o.str();
}

bool edge_expression::holds(std::uint64_t held) const {
  for (const auto& c : conjuncts) {
    bool all = true;
    for (const int t : c) all = all && ((held >> t) & 1u);
    if (all) return true;
  }
  return false;
}

bool edge_expression::uses_coaction() const {
  return std::any_of(terms.begin(), terms.end(), [](const edge_term& t) { return t.coaction; });
}

bool edge_expression::uses(const std::string& view) const {
  return std::any_of(terms.begin(), terms.end(),
                     [&](const edge_term& t) { return t.view == view; });
}

namespace {

using dnf = std::vector<std::vector<int>>;

class parser {
 public:
  parser(const std::string& s, const term_defaults& d, edge_expression& out)
      : s_(s), d_(d), out_(out) {}

  dnf parse() {
    dnf r = parse_or();
    skip_space();
    if (at_ < s_.size()) fail("unexpected '" + std::string(1, s_[at_]) + "'");
    return r;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    CHORUS_THROW(input_error, "--edges '", s_, "': ", what, " at position ", at_ + 1,
                 " (terms are views with an optional >=value, joined by &, | and parentheses, "
                 "e.g. \"co_repost>=5 | (embedding & activity)\")");
  }
  void skip_space() {
    while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
  }
  bool eat(char c) {
    skip_space();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  static dnf conj(const dnf& a, const dnf& b) {  // (a1 | a2) & (b1 | b2) distributed
    dnf r;
    for (const auto& x : a)
      for (const auto& y : b) {
        std::vector<int> z = x;
        z.insert(z.end(), y.begin(), y.end());
        std::sort(z.begin(), z.end());
        z.erase(std::unique(z.begin(), z.end()), z.end());
        r.push_back(z);
      }
    return r;
  }
  void check_size(const dnf& r) const {
    if (r.size() > 256) fail("the expression expands to more than 256 alternatives");
  }

  dnf parse_or() {
    dnf r = parse_and();
    while (eat('|')) {
      const dnf b = parse_and();
      r.insert(r.end(), b.begin(), b.end());
      check_size(r);
    }
    return r;
  }
  dnf parse_and() {
    dnf r = parse_atom();
    while (eat('&')) {
      r = conj(r, parse_atom());
      check_size(r);
    }
    return r;
  }
  dnf parse_atom() {
    if (eat('(')) {
      dnf r = parse_or();
      if (!eat(')')) fail("missing ')'");
      return r;
    }
    return {{parse_term()}};
  }
  int parse_term() {
    skip_space();
    const std::size_t b = at_;
    while (at_ < s_.size() && (std::islower(static_cast<unsigned char>(s_[at_])) || s_[at_] == '_'))
      ++at_;
    if (at_ == b)
      fail(at_ < s_.size() ? "expected a view, found '" + std::string(1, s_[at_]) + "'"
                           : "expected a view, found the end");
    edge_term t;
    t.view = s_.substr(b, at_ - b);
    if (t.view.rfind("co_", 0) == 0 && !coaction::is_view_name(t.view))
      coaction::parse_view(t.view);  // names the toolkit's equivalents (co_retweet: co_repost)
    if (t.view != "embedding" && t.view != "activity" && !coaction::is_view_name(t.view))
      CHORUS_THROW(input_error, "--edges '", s_, "': unknown view '", t.view,
                   "' (embedding, activity, co_repost, co_text, co_link, co_reply, co_hashtag, "
                   "co_post, co_similar)");
    t.coaction = coaction::is_view_name(t.view);
    if (t.coaction) t.kind = coaction::parse_view(t.view);
    t.threshold = t.coaction              ? static_cast<double>(d_.min_weight)
                  : t.view == "embedding" ? d_.embedding
                                          : d_.activity;
    skip_space();
    if (s_.compare(at_, 2, ">=") == 0) {
      at_ += 2;
      skip_space();
      const char* start = s_.c_str() + at_;
      char* end = nullptr;
      const double v = std::strtod(start, &end);
      if (end == start) fail("expected a number after >=");
      const std::size_t number_at = at_;
      at_ += static_cast<std::size_t>(end - start);
      if ((t.coaction && (!(v >= 1) || v != std::floor(v) || v > 1e15)) ||
          (!t.coaction && !(v >= -1 && v <= 1)))
        at_ = number_at;  // a value out of range: point at it
      if (t.coaction && (!(v >= 1) || v != std::floor(v) || v > 1e15))
        fail("a co-action minimum weight is a whole number >= 1");
      if (!t.coaction && !(v >= -1 && v <= 1)) fail("a similarity threshold lies in [-1, 1]");
      t.threshold = v;
      t.inline_threshold = true;
    }
    for (std::size_t k = 0; k < out_.terms.size(); ++k)
      if (out_.terms[k].view == t.view && out_.terms[k].threshold == t.threshold)
        return static_cast<int>(k);
    if (out_.terms.size() >= 16) fail("more than 16 distinct terms");
    out_.terms.push_back(t);
    return static_cast<int>(out_.terms.size() - 1);
  }

  const std::string& s_;
  const term_defaults& d_;
  edge_expression& out_;
  std::size_t at_ = 0;
};

}  // namespace

edge_expression parse_edge_expression(const std::string& text, const term_defaults& d) {
  edge_expression e;
  parser p(text, d, e);
  e.conjuncts = p.parse();
  // a conjunct that contains another is redundant: drop it (a | (a & b) == a)
  std::sort(e.conjuncts.begin(), e.conjuncts.end());
  e.conjuncts.erase(std::unique(e.conjuncts.begin(), e.conjuncts.end()), e.conjuncts.end());
  std::vector<std::vector<int>> kept;
  for (const auto& c : e.conjuncts) {
    bool redundant = false;
    for (const auto& o : e.conjuncts)
      redundant = redundant || (o != c && std::includes(c.begin(), c.end(), o.begin(), o.end()));
    if (!redundant) kept.push_back(c);
  }
  e.conjuncts = kept;
  for (std::size_t k = 0; k < e.conjuncts.size(); ++k) {
    e.text += (k ? " | " : "");
    const bool paren = e.conjuncts.size() > 1 && e.conjuncts[k].size() > 1;
    e.text += paren ? "(" : "";
    for (std::size_t j = 0; j < e.conjuncts[k].size(); ++j)
      e.text += (j ? " & " : "") + e.terms[static_cast<std::size_t>(e.conjuncts[k][j])].text();
    e.text += paren ? ")" : "";
  }
  return e;
}

}  // namespace chorus
