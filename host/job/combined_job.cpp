// chorus: `detect --edges EXPR`, views combined by an expression, as named phases: check the
// request, candidates of the dense conjuncts (the dense engine), co-action edges per view,
// every candidate decided by every term, components, write. A pair is an edge exactly when the
// expression holds for it: every conjunct's candidates include all its pairs (a co-action
// conjunct's are its first co-action term's edges, a dense one's are the dense engine's).
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>

#include "chorus/coaction/coaction.hpp"
#include "chorus/combine/expression.hpp"
#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/run_facts.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/mpi.hpp"
#include "chorus/scan/backend.hpp"
#include "job_support.hpp"

namespace chorus {

namespace {

using job_support::absolute_path;
using job_support::check_stop;
using job_support::clock_type;
using job_support::given;
using job_support::since;

using pair_list = std::vector<std::pair<std::int64_t, std::int64_t>>;

// ---- phase 1: the request -----------------------------------------------------------------------

edge_expression check_combined_request(const detect_options& opt) {
  CHORUS_EXPECTS(!given(opt, "--view"),
                 "--edges and --view both say what makes an edge; give "
                 "one (--view V is --edges V)");
  term_defaults d;
  d.embedding = opt.threshold, d.activity = opt.threshold_activity, d.min_weight = opt.min_weight;
  const edge_expression e = parse_edge_expression(opt.edges, d);
  auto uses_default = [&](bool coaction, const char* view) {
    return std::any_of(e.terms.begin(), e.terms.end(), [&](const edge_term& t) {
      return !t.inline_threshold && (coaction ? t.coaction : t.view == view);
    });
  };
  CHORUS_EXPECTS(!opt.threshold_given || uses_default(false, "embedding"),
                 "--threshold sets the embedding terms of --edges, and '", opt.edges,
                 "' has none without its own >=value");
  CHORUS_EXPECTS(!opt.threshold_activity_given || uses_default(false, "activity"),
                 "--threshold-activity sets the activity terms of --edges, and '", opt.edges,
                 "' has none without its own >=value");
  CHORUS_EXPECTS(!given(opt, "--min-weight") || uses_default(true, ""),
                 "--min-weight sets the co-action terms of --edges, and '", opt.edges,
                 "' has none without its own >=value");
  CHORUS_EXPECTS(!given(opt, "--similarity") || e.uses("co_similar"),
                 "--similarity applies to co_similar, and '", opt.edges, "' has none");
  CHORUS_EXPECTS(!given(opt, "--window") || e.uses_coaction(),
                 "--window applies to co-action views, and '", opt.edges, "' has none");
  for (const char* o : {"--weight", "--topk", "--checkpoint", "--resume", "--evidence-cap"})
    CHORUS_EXPECTS(!given(opt, o), o, " is not available with --edges");
  CHORUS_EXPECTS(!opt.weight_given && opt.topk == 0,
                 "--weight and --topk are not available "
                 "with --edges");
  CHORUS_EXPECTS(!mpi::active(), "--edges runs in one process for now; run it without mpirun");
  CHORUS_EXPECTS(opt.window >= 0, "--window must be >= 0");
  return e;
}

// ---- phase 2: the dense conjuncts' candidates (the dense engine, into a temporary file) --------

pair_list dense_candidates(const detect_options& opt, const edge_expression& e,
                           const std::vector<int>& conj, detect_summary& s) {
  detect_options d = opt;
  d.edges.clear();
  d.options_given.clear();
  d.threshold_given = d.threshold_activity_given = false;
  bool emb = false, act = false;
  d.threshold = -1, d.threshold_activity = -1;
  for (const int k : conj) {
    const edge_term& t = e.terms[static_cast<std::size_t>(k)];
    if (t.view == "embedding") emb = true, d.threshold = std::max(d.threshold, t.threshold);
    if (t.view == "activity")
      act = true, d.threshold_activity = std::max(d.threshold_activity, t.threshold);
  }
  d.view = emb && act ? "both" : emb ? "embedding" : "activity";
  d.output = opt.output + ".chorus-dense-" + std::to_string(::getpid()) + ".h5";
  d.force = true;
  d.evidence = false;
  pair_list out;
  try {
    const detect_summary ds = run_detect(d);
    s.backend = ds.backend;
    s.pairs += ds.pairs;
    std::string part;  // the dense engine speaks of its --view: say which part of --edges it was
    for (const int k : conj)
      part += (part.empty() ? "" : " & ") + e.terms[static_cast<std::size_t>(k)].text();
    for (std::string w : ds.warnings) {
      const std::string view = "--view " + d.view;
      for (std::size_t at = w.find(view); at != std::string::npos; at = w.find(view, at))
        w.replace(at, view.size(), "the part '" + part + "' of --edges");
      const std::string all = "they are left out of every network";
      if (const std::size_t at = w.find(all); at != std::string::npos)
        w.replace(at, all.size(), "they get no edge from that part (other parts may link them)");
      if (std::find(s.warnings.begin(), s.warnings.end(), w) == s.warnings.end())
        s.warnings.push_back(w);
    }
    h5::handle f = h5::open_read(d.output);
    const auto src = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src"));
    const auto dst = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/dst"));
    for (std::size_t k = 0; k < src.size(); ++k) out.emplace_back(src[k], dst[k]);
  } catch (...) {
    std::remove(d.output.c_str());
    throw;
  }
  std::remove(d.output.c_str());
  return out;
}

// ---- phase 3: co-action edges per view ----------------------------------------------------------

struct coaction_part {
  coaction::object_index index;
  coaction::coaction_edges edges;  // at the smallest minimum weight of the view's terms
};

std::map<std::string, coaction_part> coaction_parts(const detect_options& opt,
                                                    const edge_expression& e) {
  std::map<std::string, coaction_part> parts;
  for (const edge_term& t : e.terms) {
    if (!t.coaction || parts.count(t.view)) continue;
    std::int64_t least = static_cast<std::int64_t>(t.threshold);
    for (const edge_term& u : e.terms)
      if (u.view == t.view) least = std::min(least, static_cast<std::int64_t>(u.threshold));
    coaction_part& p = parts[t.view];
    p.index =
        coaction::build_index(coaction::read_post_columns(opt.input, t.kind), t.kind, opt.threads);
    coaction::sweep_options so;
    so.window = opt.window, so.min_weight = least, so.max_edges = opt.max_edges;
    so.threads = opt.threads;
    p.edges = coaction::sweep(p.index, so);
  }
  return parts;
}

// ---- phase 4: decide every candidate by every term ----------------------------------------------

struct decided {
  std::vector<edge> edges;
  std::vector<std::int64_t> terms;  // per edge: the terms that held (bit k = term k)
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> weights;
};

pair_list candidates(const edge_expression& e, const std::vector<pair_list>& dense,
                     const std::map<std::string, coaction_part>& parts) {
  pair_list all;
  for (const pair_list& d : dense) all.insert(all.end(), d.begin(), d.end());
  for (const auto& c : e.conjuncts) {
    const auto first = std::find_if(
        c.begin(), c.end(), [&](int k) { return e.terms[static_cast<std::size_t>(k)].coaction; });
    if (first == c.end()) continue;
    const edge_term& t = e.terms[static_cast<std::size_t>(*first)];
    const auto& ce = parts.at(t.view).edges;
    for (std::size_t k = 0; k < ce.src.size(); ++k)
      if (std::max(ce.weight_src_dst[k], ce.weight_dst_src[k]) >= t.threshold)
        all.emplace_back(ce.src[k], ce.dst[k]);
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

double pair_sim(const view_matrix& v, std::int64_t i, std::int64_t j) {
  if (!v.present() || !v.valid[static_cast<std::size_t>(i)] ||
      !v.valid[static_cast<std::size_t>(j)])
    return NAN;
  return exact_similarity(v, i, j);
}

decided decide_all(const detect_options& opt, const edge_expression& e, const pair_list& cand,
                   const loaded_input& in, const std::map<std::string, coaction_part>& parts) {
  decided out;
  for (const auto& [view, p] : parts)
    out.weights[view] = coaction::pair_weights(p.index, cand, opt.window, opt.threads);
  for (std::size_t k = 0; k < cand.size(); ++k) {
    const auto [i, j] = cand[k];
    const double se = pair_sim(in.embedding, i, j), sa = pair_sim(in.activity, i, j);
    std::uint64_t held = 0;
    for (std::size_t t = 0; t < e.terms.size(); ++t) {
      const edge_term& term = e.terms[t];
      bool ok = false;
      if (term.coaction) {
        const auto& w = out.weights.at(term.view)[k];
        ok = static_cast<double>(std::max(w.first, w.second)) >= term.threshold;
      } else {
        const double s = term.view == "embedding" ? se : sa;
        ok = std::isfinite(s) && s >= term.threshold;
      }
      if (ok) held |= std::uint64_t{1} << t;
    }
    if (!e.holds(held)) continue;
    out.edges.push_back({i, j, static_cast<float>(se), static_cast<float>(sa)});
    out.terms.push_back(static_cast<std::int64_t>(held));
    for (auto& [view, w] : out.weights) w[out.edges.size() - 1] = w[k];
  }
  for (auto& [view, w] : out.weights) w.resize(out.edges.size());
  CHORUS_EXPECTS(opt.max_edges == 0 || static_cast<std::int64_t>(out.edges.size()) <= opt.max_edges,
                 "--edges found ", out.edges.size(), " edges, more than --max-edges ",
                 opt.max_edges);
  return out;
}

// ---- phase 5: write -----------------------------------------------------------------------------

void write_combined_datasets(const h5::handle& f, const decided& d) {
  h5::write_vector(f, "/edges/terms", d.terms);
  for (const auto& [view, w] : d.weights) {
    std::vector<std::int64_t> a(w.size()), b(w.size()), m(w.size());
    for (std::size_t k = 0; k < w.size(); ++k)
      a[k] = w[k].first, b[k] = w[k].second, m[k] = std::max(a[k], b[k]);
    h5::write_vector(f, "/edges/" + view + "/weight_src_dst", a);
    h5::write_vector(f, "/edges/" + view + "/weight_dst_src", b);
    if (d.weights.size() == 1) {  // one co-action view: its weights are the edges' weights
      h5::write_vector(f, "/edges/weight", m);
      h5::write_vector(f, "/edges/weight_src_dst", a);
      h5::write_vector(f, "/edges/weight_dst_src", b);
    }
  }
}

std::vector<attribute> expression_attributes(const edge_expression& e, std::int64_t window) {
  std::string names;
  for (const edge_term& t : e.terms) names += (names.empty() ? "" : ";") + t.text();
  attribute text, terms, w;
  text.name = "edges_expression", text.text = e.text;
  terms.name = "edges_terms", terms.text = names;
  w.name = "coaction_window", w.number = static_cast<double>(window), w.is_text = false,
  w.is_integer = true;
  std::vector<attribute> out = {text, terms};
  if (e.uses_coaction()) out.push_back(w);
  return out;
}

}  // namespace

detect_summary run_combined(const detect_options& opt) {
  const auto t0 = clock_type::now();
  const edge_expression e = check_combined_request(opt);
  const input_info info = inspect_input_isolated(opt.input);
  check_output_path(opt.output, opt.force);
  detect_summary s;
  s.input = opt.input, s.output = opt.output, s.view = "expression", s.backend = "cpu";
  s.detail = e.text;
  s.threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  s.window = opt.window;
  s.threshold = s.threshold_activity = s.weight = NAN;
  s.transform = "none";

  const auto t_score = clock_type::now();
  std::vector<pair_list> dense;
  for (const auto& c : e.conjuncts)
    if (std::none_of(c.begin(), c.end(),
                     [&](int k) { return e.terms[static_cast<std::size_t>(k)].coaction; }))
      dense.push_back(dense_candidates(opt, e, c, s));
  const std::map<std::string, coaction_part> parts = coaction_parts(opt, e);
  if (!parts.empty()) {
    const std::string w = coaction::left_out_warning(opt.input);
    if (!w.empty()) s.warnings.push_back(w);
  }
  check_stop(opt, "deciding the candidates");
  const pair_list cand = candidates(e, dense, parts);
  load_options lo;
  lo.embedding = e.uses("embedding") && info.has_embedding;
  lo.activity = e.uses("activity") && info.has_activity;
  CHORUS_EXPECTS(!e.uses("embedding") || info.has_embedding, "--edges uses embedding, which '",
                 opt.input, "' does not have");
  CHORUS_EXPECTS(!e.uses("activity") || info.has_activity, "--edges uses activity, which '",
                 opt.input, "' does not have");
  lo.transform = opt.transform;
  lo.min_activity = opt.min_activity;
  const loaded_input in = load_input(info, lo);
  const decided d = decide_all(opt, e, cand, in, parts);
  s.seconds_score = since(t_score);
  s.candidates = static_cast<std::int64_t>(cand.size());

  const auto t_comp = clock_type::now();
  std::int64_t clusters = 0;
  const std::vector<std::int64_t> labels =
      canonical_labels(component_roots(info.n, d.edges, opt.threads), clusters);
  const cluster_table table =
      cluster_statistics(labels, clusters, d.edges, lo.activity ? &in.activity : nullptr);
  s.accounts = info.n;
  s.edges = s.edges_before_topk = static_cast<std::int64_t>(d.edges.size());
  s.clusters = clusters;
  for (std::int64_t c = 0; c < clusters; ++c) s.clustered_accounts += table.size[c];
  s.largest_cluster = clusters ? table.size[0] : 0;
  for (std::int64_t c = 0; c < std::min<std::int64_t>(clusters, 20); ++c)
    s.cluster_sizes.push_back(table.size[c]);
  s.has_truth = !in.truth.empty();
  if (s.has_truth) s.truth = match_truth(labels, clusters, in.truth);
  s.seconds_components = since(t_comp);
  check_stop(opt, "writing the results");

  const auto t_write = clock_type::now();
  results_content rc;
  rc.labels = &labels;
  rc.ids = &in.ids;
  const std::vector<edge> none;
  rc.edges = opt.write_edges ? &d.edges : &none;
  rc.clusters = &table;
  rc.truth = s.has_truth ? &s.truth : nullptr;
  run_facts f;
  f.input_path = absolute_path(opt.input);
  f.input_size = info.file_size;
  f.input_checksum = "0000000000000000";
  f.accounts = info.n, f.embedding_dim = info.dim, f.activity_bins = info.bins;
  f.view = "expression";
  f.threshold = f.threshold_activity = f.weight = NAN;
  f.activity_transform = to_string(opt.transform);
  f.max_edges = opt.max_edges;
  f.backend = s.backend;
  f.precision_requested = to_string(opt.prec);
  f.precision_used = "exact";
  f.gpu_kernel_requested = to_string(opt.kernel);
  f.backend_detail = e.text;
  f.threads = s.threads;
  f.candidates = s.candidates;
  f.edges_before_topk = f.edges = s.edges;
  f.edges_written = opt.write_edges ? s.edges : 0;
  f.clusters = clusters;
  f.min_activity = lo.activity ? opt.min_activity : 0;
  f.seconds_score = s.seconds_score;
  f.seconds_components = s.seconds_components;
  if (s.has_truth) f.truth = &s.truth;
  rc.attributes = results_attributes(f);
  for (attribute& a : expression_attributes(e, opt.window)) rc.attributes.push_back(a);
  if (opt.evidence && opt.write_edges) rc.evidence_input = absolute_path(opt.input);
  rc.extra = [&](const h5::handle& h) {
    if (opt.write_edges) write_combined_datasets(h, d);
  };
  write_results(opt.output, rc);
  s.seconds_write = since(t_write);
  s.seconds_total = since(t0);
  return s;
}

}  // namespace chorus
