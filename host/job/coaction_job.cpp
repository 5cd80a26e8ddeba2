// chorus: the co-action job as named phases: check the request, read the posts, index the
// objects, sweep the directed weights, collect the evidence, find the components, write.
#include <omp.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/run_facts.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/mpi.hpp"
#include "chorus/significance/significance.hpp"
#include "job_support.hpp"

namespace chorus {

namespace {

using job_support::absolute_path;
using job_support::check_stop;
using job_support::clock_type;
using job_support::given;
using job_support::since;

// ---- phase 1: check the request ----------------------------------------------------------------

// Options of the dense views (and of their scan) mean nothing to a co-action view: refused.
void check_coaction_request(const detect_options& opt) {
  static const char* const dense_only[] = {"--threshold",    "--threshold-activity",
                                           "--weight",       "--activity-transform",
                                           "--min-activity", "--topk",
                                           "--backend",      "--precision",
                                           "--checkpoint",   "--checkpoint-interval",
                                           "--resume",       "--device",
                                           "--gpu-kernel",   "--gpu-memory",
                                           "--tile-rows",    "--tile-cols"};
  for (const char* o : dense_only)
    CHORUS_EXPECTS(!given(opt, o), o,
                   " applies to the embedding and activity views, not to --view ", opt.view,
                   " (a co-action view takes --window, --min-weight and --evidence-cap)");
  CHORUS_EXPECTS(!opt.threshold_given && !opt.threshold_activity_given && !opt.weight_given,
                 "--view ", opt.view, " takes no similarity threshold; use --min-weight");
  CHORUS_EXPECTS(opt.topk == 0, "--topk applies to the embedding and activity views only");
  CHORUS_EXPECTS(opt.window >= 0 && opt.window <= 366LL * 86400,
                 "--window must be from 0 to 31622400 seconds (a year), got ", opt.window);
  CHORUS_EXPECTS(opt.min_weight >= 1, "--min-weight must be >= 1, got ", opt.min_weight);
  CHORUS_EXPECTS(opt.evidence_cap >= 0, "--evidence-cap must be >= 0, got ", opt.evidence_cap);
  CHORUS_EXPECTS(!given(opt, "--similarity") || opt.view == "co_similar",
                 "--similarity applies to --view co_similar only, not to --view ", opt.view);
  CHORUS_EXPECTS(opt.similarity > 0 && opt.similarity <= 1, "--similarity must lie in (0, 1], got ",
                 opt.similarity);
  CHORUS_EXPECTS(opt.max_edges >= 0, "--max-edges must be >= 0");
  CHORUS_EXPECTS(opt.threads >= 0, "--threads must be >= 0");
  CHORUS_EXPECTS(!opt.input.empty(), "no input given (--input)");
  CHORUS_EXPECTS(opt.input != opt.output, "--out must differ from --input");
}

// ---- phase 2: read the posts and the accounts ---------------------------------------------------

struct coaction_input {
  input_info info;
  coaction::post_columns posts;
  std::vector<std::int64_t> ids, truth;
  double seconds = 0;
};

coaction_input read_coaction_input(const detect_options& opt, coaction::view_kind v) {
  const auto t = clock_type::now();
  coaction_input in;
  in.info = inspect_input_isolated(opt.input);  // a file that crashes HDF5 ends here (exit 2)
  check_output_path(opt.output, opt.force);
  in.posts = coaction::read_post_columns(opt.input, v);
  h5::handle f = h5::open_read(opt.input);
  in.ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id"));
  if (h5::exists(f, "/truth/cluster"))
    in.truth = h5::read_all<std::int64_t>(h5::open_dataset(f, "/truth/cluster"));
  in.seconds = since(t);
  return in;
}

// What a view with nothing to compare means: an error unless --allow-empty-view.
void check_view_nonempty(const detect_options& opt, const coaction::object_index& x,
                         std::int64_t posts) {
  if (!x.time.empty() || opt.allow_empty_view) return;
  static const char* const why[] = {"no post is a repost",
                                    "no post that is not a repost has text",
                                    "no post that is not a repost has a link",
                                    "no post that is not a repost is a reply",
                                    "no post that is not a repost has a hashtag",
                                    "there are no posts"};
  const coaction::view_kind v = coaction::parse_view(opt.view);
  CHORUS_THROW(
      input_error, "--view ", opt.view, " has nothing to compare in '", opt.input, "' (", posts,
      " posts): ", why[static_cast<int>(v)],
      "; check the input and the view (or pass --allow-empty-view to write empty results)");
}

// ---- phase 3: components and clusters
// ------------------------------------------------------------

struct coaction_graph {
  std::vector<edge> edges;
  std::vector<std::int64_t> labels;
  std::int64_t clusters = 0;
  cluster_table table;
};

coaction_graph find_coaction_components(const coaction::coaction_edges& ce, std::int64_t n,
                                        int threads) {
  coaction_graph g;
  g.edges.reserve(ce.src.size());
  for (std::size_t e = 0; e < ce.src.size(); ++e)
    g.edges.push_back({ce.src[e], ce.dst[e], NAN, NAN});
  const std::vector<std::int64_t> roots = component_roots(n, g.edges, threads);
  g.labels = canonical_labels(roots, g.clusters);
  g.table = cluster_statistics(g.labels, g.clusters, g.edges, nullptr);
  return g;
}

// ---- phase 4: write -----------------------------------------------------------------------------

/// /edges/weight_* and /coaction (evidence of every edge; object labels).
void write_coaction_datasets(const h5::handle& f, const coaction::coaction_edges& ce,
                             const coaction::coaction_evidence& ev, const coaction::object_index& x,
                             const coaction::post_columns& posts, bool write_edges, bool evidence) {
  std::vector<std::int64_t> none;
  const auto& wsd = write_edges ? ce.weight_src_dst : none;
  const auto& wds = write_edges ? ce.weight_dst_src : none;
  std::vector<std::int64_t> w(wsd.size());
  for (std::size_t e = 0; e < w.size(); ++e) w[e] = std::max(wsd[e], wds[e]);
  h5::write_vector(f, "/edges/weight", w);
  h5::write_vector(f, "/edges/weight_src_dst", wsd);
  h5::write_vector(f, "/edges/weight_dst_src", wds);
  if (!write_edges || !evidence) return;
  h5::write_vector(f, "/coaction/pairs", ev.pairs);
  h5::write_vector(f, "/coaction/edge_offsets", ev.edge_offsets);
  std::vector<std::int64_t> obj_of_row;  // evidence objects renumbered to those used
  std::vector<std::string> labels;
  std::vector<std::int64_t> renum(x.label.size(), -1);
  for (const std::int64_t o : ev.object) {
    auto& r = renum[static_cast<std::size_t>(o)];
    if (r < 0) {
      r = static_cast<std::int64_t>(labels.size());
      labels.push_back(x.label[static_cast<std::size_t>(o)]);
    }
    obj_of_row.push_back(r);
  }
  auto ids = [&](const std::vector<std::int64_t>& rows) {
    std::vector<std::int64_t> out;
    out.reserve(rows.size());
    for (const std::int64_t p : rows) out.push_back(posts.id[static_cast<std::size_t>(p)]);
    return out;
  };
  h5::write_vector(f, "/coaction/object", obj_of_row);
  h5::write_strings(f, "/coaction/objects", labels);
  h5::write_vector(f, "/coaction/post_src", ids(ev.post_src));
  h5::write_vector(f, "/coaction/time_src", ev.time_src);
  h5::write_vector(f, "/coaction/post_dst", ids(ev.post_dst));
  h5::write_vector(f, "/coaction/time_dst", ev.time_dst);
}

run_facts coaction_facts(const detect_options& opt, const coaction_input& in,
                         const detect_summary& s) {
  run_facts f;
  f.input_path = absolute_path(opt.input);
  f.input_size = in.info.file_size;
  f.input_checksum = "0000000000000000";  // the dense views' checksum of the rows read
  f.accounts = in.info.n;
  f.view = s.view;
  f.threshold = f.threshold_activity = f.weight = NAN;
  f.activity_transform = "none";
  f.max_edges = opt.max_edges;
  f.backend = "cpu";
  f.precision_requested = f.precision_used = f.gpu_kernel_requested = "none";
  f.backend_detail = s.detail;
  f.threads = s.threads;
  f.edges_before_topk = f.edges = s.edges;
  f.edges_written = opt.write_edges ? s.edges : 0;
  f.max_memory_mib = opt.max_memory_mib;
  f.clusters = s.clusters;
  f.seconds_read = s.seconds_read;
  f.seconds_score = s.seconds_score;
  f.seconds_components = s.seconds_components;
  return f;
}

std::vector<attribute> coaction_attributes(const detect_summary& s, std::int64_t evidence_cap,
                                           double similarity) {
  auto integer = [](const char* name, std::int64_t v) {
    attribute a;
    a.name = name, a.number = static_cast<double>(v), a.is_text = false, a.is_integer = true;
    return a;
  };
  attribute norm;
  norm.name = "coaction_normalize", norm.text = s.normalize;
  std::vector<attribute> out = {integer("coaction_window", s.window),
                                integer("coaction_min_weight", s.min_weight),
                                norm,
                                integer("coaction_objects", s.objects),
                                integer("coaction_occurrences", s.occurrences),
                                integer("coaction_posts_used", s.posts_used),
                                integer("coaction_directed_rows", s.directed_rows),
                                integer("coaction_evidence_cap", evidence_cap)};
  if (s.view == "co_similar") {
    attribute sim;
    sim.name = "coaction_similarity", sim.number = similarity, sim.is_text = false;
    out.push_back(sim);
  }
  return out;
}

// Every rank's directed rows on rank 0 (in rounds of at most 256 MiB per rank: MPI counts
// are ints); other ranks get none. One process: the rows as they are.
std::vector<coaction::directed_weight> gather_rows(std::vector<coaction::directed_weight> mine) {
  if (!mpi::active()) return mine;
  using row = coaction::directed_weight;
  const std::size_t chunk = (std::size_t{256} << 20) / sizeof(row);
  const double rounds = mpi::max(static_cast<double>((mine.size() + chunk - 1) / chunk));
  std::vector<row> all;
  for (std::size_t r = 0; static_cast<double>(r) < rounds; ++r) {
    const std::size_t b = std::min(mine.size(), r * chunk), e = std::min(mine.size(), b + chunk);
    const std::string bytes(reinterpret_cast<const char*>(mine.data() + b), (e - b) * sizeof(row));
    for (const std::string& part : mpi::gather(bytes)) {
      const std::size_t at = all.size();
      all.resize(at + part.size() / sizeof(row));
      std::memcpy(static_cast<void*>(all.data() + at), part.data(), part.size());
    }
  }
  return all;
}

void check_memory(const detect_options& opt, coaction::view_kind v, int threads) {
  const std::uint64_t need = coaction::memory_needed(opt.input, v, threads);
  if (opt.max_memory_mib > 0 && need + (16ull << 20) > (opt.max_memory_mib << 20))
    CHORUS_THROW(limit_error, "--view ", opt.view, " needs about ", (need >> 20) + 16,
                 " MiB of host memory besides its edges (posts, object index, per-thread "
                 "counters), more than --max-memory ",
                 opt.max_memory_mib, " MiB; raise --max-memory or use fewer --threads");
}

}  // namespace

detect_summary run_coaction(const detect_options& opt) {
  const auto t_start = clock_type::now();
  detect_summary s;
  s.input = opt.input, s.output = opt.output, s.view = opt.view, s.backend = "cpu";
  s.transform = "none";
  s.threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  s.window = opt.window, s.min_weight = opt.min_weight;
  s.threshold = s.threshold_activity = s.weight = NAN;
  s.ranks = mpi::size();
  s.similarity = opt.view == "co_similar" ? opt.similarity : 0;
  // every rank reads the posts and builds the index; each sweeps its share of the accounts
  coaction::view_kind v = coaction::view_kind::repost;
  coaction_input in;
  coaction::object_index x;
  mpi::phase([&] {
    check_coaction_request(opt);
    job_support::check_significance_request(opt, false);
    v = coaction::parse_view(opt.view);
    check_memory(opt, v, s.threads);
    in = read_coaction_input(opt, v);
    x = coaction::build_index(in.posts, v, opt.threads, opt.similarity);
    check_view_nonempty(opt, x, static_cast<std::int64_t>(in.posts.account.size()));
    const std::string w = coaction::left_out_warning(opt.input);
    if (!w.empty()) s.warnings.push_back(w);
  });
  s.accounts = in.info.n;
  s.normalize = coaction::to_string(in.posts.norm);
  s.seconds_read = since(t_start);
  s.objects = static_cast<std::int64_t>(x.label.size());
  s.occurrences = static_cast<std::int64_t>(x.time.size());
  s.posts_used = x.posts_used;
  s.detail = std::to_string(s.occurrences) + " occurrences of " + std::to_string(s.objects) +
             " objects in " + std::to_string(s.posts_used) + " posts";

  const auto t_sweep = clock_type::now();
  coaction::sweep_options so;
  so.window = opt.window, so.min_weight = opt.min_weight, so.max_edges = opt.max_edges;
  so.evidence_cap = opt.evidence && opt.write_edges ? opt.evidence_cap : 0;
  so.threads = opt.threads;
  std::vector<coaction::directed_weight> rows;
  mpi::phase([&] {
    check_stop(opt, "the co-action sweep");
    const int ranks = mpi::size(), rank = mpi::rank();
    rows = coaction::directed_pass(x, so, coaction::split_accounts(x, ranks, rank),
                                   coaction::split_accounts(x, ranks, rank + 1));
  });
  rows = gather_rows(std::move(rows));
  coaction::coaction_edges ce;
  coaction::coaction_evidence ev;
  mpi::phase([&] {  // the rest is rank 0's, as for one process
    if (mpi::rank() != 0) return;
    ce = coaction::edges_from(x, std::move(rows), so);
    ev = coaction::collect_evidence(x, ce, so);
    s.seconds_score = since(t_sweep);
    s.directed_rows = ce.directed_rows;

    check_stop(opt, "finding the components");
    const auto t_comp = clock_type::now();
    const coaction_graph g = find_coaction_components(ce, in.info.n, opt.threads);
    s.edges = s.edges_before_topk = static_cast<std::int64_t>(g.edges.size());
    s.clusters = g.clusters;
    for (std::int64_t c = 0; c < g.clusters; ++c) s.clustered_accounts += g.table.size[c];
    s.largest_cluster = g.clusters ? g.table.size[0] : 0;
    for (std::int64_t c = 0; c < std::min<std::int64_t>(g.clusters, 20); ++c)
      s.cluster_sizes.push_back(g.table.size[c]);
    s.has_truth = !in.truth.empty();
    if (s.has_truth) s.truth = match_truth(g.labels, g.clusters, in.truth);
    s.seconds_components = since(t_comp);
    significance::result sig;
    if (opt.significance > 0) sig = job_support::coaction_significance(opt, x, g.table, in.ids, s);
    check_stop(opt, "writing the results");

    const auto t_write = clock_type::now();
    results_content rc;
    rc.labels = &g.labels;
    rc.ids = &in.ids;
    const std::vector<edge> no_edges;
    rc.edges = opt.write_edges ? &g.edges : &no_edges;
    rc.clusters = &g.table;
    rc.truth = s.has_truth ? &s.truth : nullptr;
    run_facts facts = coaction_facts(opt, in, s);
    if (s.has_truth) facts.truth = &s.truth;
    rc.attributes = results_attributes(facts);
    for (attribute& a : coaction_attributes(s, so.evidence_cap, opt.similarity))
      rc.attributes.push_back(a);
    // the standard /evidence too: member handles, degrees, co-active bins of the input's /activity
    if (opt.evidence && opt.write_edges) rc.evidence_input = absolute_path(opt.input);
    rc.extra = [&](const h5::handle& f) {
      write_coaction_datasets(f, ce, ev, x, in.posts, opt.write_edges, so.evidence_cap > 0);
      if (opt.significance > 0) significance::write(f, sig, 0);
    };
    write_results(opt.output, rc);
    s.seconds_write = since(t_write);
  });
  s.seconds_total = since(t_start);
  return s;
}

}  // namespace chorus
