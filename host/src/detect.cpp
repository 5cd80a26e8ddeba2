// chorus: the detection job.
#include "chorus/detect.hpp"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "chorus/checkpoint.hpp"
#include "chorus/edge_store.hpp"
#include "chorus/error.hpp"
#include "chorus/results.hpp"
#include "chorus/version.hpp"

namespace chorus {

view_mode parse_view(const std::string& s) {
  if (s == "embedding") return view_mode::embedding;
  if (s == "activity") return view_mode::activity;
  if (s == "both") return view_mode::both;
  if (s == "fused") return view_mode::fused;
  CHORUS_THROW(input_error, "unknown view '", s, "' (embedding, activity, both, fused)");
}
const char* to_string(view_mode m) {
  switch (m) {
    case view_mode::embedding:
      return "embedding";
    case view_mode::activity:
      return "activity";
    case view_mode::both:
      return "both";
    case view_mode::fused:
      return "fused";
  }
  return "?";
}
activity_transform parse_transform(const std::string& s) {
  if (s == "none") return activity_transform::none;
  if (s == "log1p") return activity_transform::log1p;
  if (s == "tfidf") return activity_transform::tfidf;
  CHORUS_THROW(input_error, "unknown activity transform '", s, "' (none, log1p, tfidf)");
}
const char* to_string(activity_transform t) {
  switch (t) {
    case activity_transform::none:
      return "none";
    case activity_transform::log1p:
      return "log1p";
    case activity_transform::tfidf:
      return "tfidf";
  }
  return "?";
}
backend_kind parse_backend(const std::string& s) {
  if (s == "auto") return backend_kind::automatic;
  if (s == "cpu") return backend_kind::cpu;
  if (s == "cuda") return backend_kind::cuda;
  CHORUS_THROW(input_error, "unknown backend '", s, "' (auto, cpu, cuda)");
}
precision parse_precision(const std::string& s) {
  if (s == "auto") return precision::automatic;
  if (s == "fp32") return precision::fp32;
  if (s == "bf16") return precision::bf16;
  if (s == "int8") return precision::int8;
  CHORUS_THROW(input_error, "unknown precision '", s, "' (auto, fp32, bf16, int8)");
}

namespace {
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
std::string hex64(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

detect_summary run_detect(const detect_options& opt) {
  const auto t_start = std::chrono::steady_clock::now();
  CHORUS_EXPECTS(std::isfinite(opt.threshold) && opt.threshold >= -1 && opt.threshold <= 1,
                 "--threshold must lie in [-1, 1], got ", opt.threshold);
  CHORUS_EXPECTS(std::isfinite(opt.threshold_activity) && opt.threshold_activity >= -1 &&
                     opt.threshold_activity <= 1,
                 "--threshold-activity must lie in [-1, 1], got ", opt.threshold_activity);
  CHORUS_EXPECTS(opt.weight >= 0 && opt.weight <= 1, "--weight must lie in [0, 1], got ",
                 opt.weight);
  CHORUS_EXPECTS(opt.topk >= 0, "--topk must be >= 0");
  CHORUS_EXPECTS(opt.max_edges >= 0, "--max-edges must be >= 0");
  CHORUS_EXPECTS(opt.threads >= 0, "--threads must be >= 0");
  CHORUS_EXPECTS(
      opt.tile_rows >= 1 && opt.tile_cols >= opt.tile_rows && opt.tile_cols % opt.tile_rows == 0,
      "--tile-cols must be a positive multiple of --tile-rows");
  CHORUS_EXPECTS(!opt.input.empty(), "no input given (--input)");
  CHORUS_EXPECTS(opt.input != opt.output, "--out must differ from --input");

  probe_input_isolated(opt.input);  // a file that crashes HDF5 ends here, with exit code 2
  input_info info = inspect_input(opt.input);
  check_output_path(opt.output, opt.force);
  view_mode mode;
  if (opt.view == "auto") {
    mode = info.has_embedding && info.has_activity ? view_mode::both
           : info.has_embedding                    ? view_mode::embedding
                                                   : view_mode::activity;
  } else {
    mode = parse_view(opt.view);
  }
  const bool need_e = mode != view_mode::activity, need_a = mode != view_mode::embedding;
  CHORUS_EXPECTS(!need_e || info.has_embedding, "--view ", to_string(mode),
                 " needs /embedding, which '", opt.input, "' does not have");
  CHORUS_EXPECTS(!need_a || info.has_activity, "--view ", to_string(mode),
                 " needs /activity, which '", opt.input, "' does not have");
  // Host memory this run needs besides the edges (views, first-pass rows, labels, tiles); with
  // --max-memory a job that cannot fit says so before any work.
  std::uint64_t fixed_bytes = 0;
  {
    const std::uint64_t n = static_cast<std::uint64_t>(info.n);
    if (need_e) fixed_bytes += n * (static_cast<std::uint64_t>(info.dim) * 5 + 9);  // fp32 + int8
    if (need_a) fixed_bytes += n * (static_cast<std::uint64_t>(info.bins) * 5 + 9);
    fixed_bytes += n * 8 * 6;  // ids, truth, parent, labels, counts, members
    const std::uint64_t threads =
        static_cast<std::uint64_t>(opt.threads > 0 ? opt.threads : omp_get_max_threads());
    fixed_bytes += threads * static_cast<std::uint64_t>(opt.tile_rows * opt.tile_cols) * 5;
    fixed_bytes += 64ull << 20;  // libraries, HDF5 buffers, read block
  }
  if (opt.max_memory_mib > 0)
    CHORUS_EXPECTS(fixed_bytes + (16ull << 20) <= (opt.max_memory_mib << 20),
                   "this job needs about ", (fixed_bytes >> 20) + 16,
                   " MiB of host memory besides "
                   "its edges (views, first-pass rows, labels, tiles), more than --max-memory ",
                   opt.max_memory_mib,
                   " MiB; raise --max-memory, use fewer --threads or smaller "
                   "tiles, or run on a machine with more memory");
  auto be = make_backend(opt.backend);
  CHORUS_EXPECTS(opt.checkpoint_interval >= 0, "--checkpoint-interval must be >= 0");
  CHORUS_EXPECTS(!opt.resume || !opt.checkpoint_dir.empty(), "--resume needs --checkpoint DIR");
  CHORUS_EXPECTS(opt.checkpoint_dir.empty() || be->name() == "cpu",
                 "--checkpoint is supported on the CPU backend in this version; use --backend cpu");
  if (opt.threads > 0) omp_set_num_threads(opt.threads);

  detect_summary s;
  s.input = opt.input;
  s.output = opt.output;
  s.backend = be->name();
  s.view = to_string(mode);

  auto t = std::chrono::steady_clock::now();
  if (opt.progress) opt.progress("read", 0, 1);
  load_options lo;
  lo.embedding = need_e;
  lo.activity = need_a;
  lo.transform = opt.transform;
  loaded_input in = load_input(opt.input, lo);
  s.seconds_read = since(t);
  s.accounts = in.info.n;
  s.checksum = in.checksum;
  s.invalid_embedding = in.embedding.invalid_rows;
  s.invalid_activity = in.activity.invalid_rows;

  score_problem pb;
  pb.embedding = need_e ? &in.embedding : nullptr;
  pb.activity = need_a ? &in.activity : nullptr;
  pb.params.mode = mode;
  pb.params.threshold = opt.threshold;
  pb.params.threshold_activity = opt.threshold_activity;
  pb.params.weight = opt.weight;
  score_options so;
  so.prec = opt.prec;
  so.threads = opt.threads;
  so.max_edges = opt.max_edges;  // a limit on the edges found, before --topk
  so.tile_rows = opt.tile_rows;
  so.tile_cols = opt.tile_cols;
  so.device = opt.device;
  so.checkpoint_dir = opt.checkpoint_dir;
  so.checkpoint_interval = opt.checkpoint_interval;
  so.resume = opt.resume;
  {
    std::ostringstream id;  // everything that shapes the edges; not threads or precision
    id.precision(17);
    id << "input_size=" << in.info.file_size << " checksum=" << hex64(in.checksum)
       << " n=" << in.info.n << " view=" << to_string(mode) << " threshold=" << opt.threshold
       << " threshold_activity=" << opt.threshold_activity << " weight=" << opt.weight
       << " transform=" << to_string(opt.transform) << " backend=" << be->name();
    so.identity = id.str();
  }
  so.gpu_memory = opt.gpu_memory_mib << 20;
  if (opt.progress)
    so.progress = [&](std::int64_t d, std::int64_t n) { opt.progress("score", d, n); };
  score_stats st;
  t = std::chrono::steady_clock::now();
  // The edge list lives in an edge store: in memory up to what --max-memory leaves, spilled to
  // sorted runs on disk (next to the output) past it.
  std::uint64_t cap_edges = 0;
  if (opt.max_memory_mib > 0) {
    const std::uint64_t left = (opt.max_memory_mib << 20) - fixed_bytes;
    cap_edges = std::max<std::uint64_t>(left / (3 * sizeof(edge)), 1 << 12);
  }
  const std::string out_dir =
      opt.output.find('/') == std::string::npos
          ? std::string(".")
          : opt.output.substr(0, std::max<std::size_t>(opt.output.rfind('/'), 1));
  edge_store store(cap_edges, out_dir + "/.chorus-spill-" + std::to_string(getpid()));
  so.sink = &store;
  std::vector<edge> edges;
  be->find_edges(pb, so, st);
  s.seconds_score = since(t);
  s.pairs = st.pairs;
  s.candidates = st.candidates;
  s.precision_used = to_string(st.used);
  s.resumed_units = st.resumed_units;
  s.checkpoints = st.checkpoints;
  s.detail = st.detail;
  s.edges_before_topk = static_cast<std::int64_t>(store.size());
  s.spilled = store.spilled();
  const bool in_memory = opt.topk > 0 || !store.spilled();
  if (in_memory) edges = store.take_sorted();
  if (opt.topk > 0) edges = keep_topk(in.info.n, edges, opt.topk, pb.params);
  s.edges = in_memory ? static_cast<std::int64_t>(edges.size()) : s.edges_before_topk;
  const edge_visitor visit =
      in_memory ? visit_vector(edges)
                : edge_visitor([&store](const auto& fn) { store.for_each_sorted(fn); });

  t = std::chrono::steady_clock::now();
  // the CUDA backend's union-find already holds the roots of the unpruned graph
  auto roots = (opt.topk == 0 && !st.roots.empty())
                   ? std::move(st.roots)
                   : component_roots(in.info.n, visit, opt.threads);
  std::int64_t K = 0;
  // the CUDA backend also relabelled on the device (Thrust); the same rule as canonical_labels
  auto labels = (opt.topk == 0 && st.clusters >= 0 && !st.labels.empty())
                    ? (K = st.clusters, std::move(st.labels))
                    : canonical_labels(roots, K);
  cluster_table table = cluster_statistics(labels, K, visit, need_a ? &in.activity : nullptr);
  s.clusters = K;
  for (std::int64_t c = 0; c < K; ++c) s.clustered_accounts += table.size[c];
  s.largest_cluster = K ? table.size[0] : 0;
  for (std::int64_t c = 0; c < std::min<std::int64_t>(K, 20); ++c)
    s.cluster_sizes.push_back(table.size[c]);
  s.has_truth = !in.truth.empty();
  if (s.has_truth) s.truth = match_truth(labels, K, in.truth);
  s.seconds_components = since(t);

  t = std::chrono::steady_clock::now();
  results_content rc;
  rc.labels = &labels;
  rc.ids = &in.ids;
  std::vector<edge> none;
  if (!opt.write_edges) {
    rc.edges = &none;
  } else if (in_memory) {
    rc.edges = &edges;
  } else {
    rc.edge_stream = visit;
    rc.edge_count = static_cast<std::uint64_t>(s.edges);
  }
  rc.clusters = &table;
  if (opt.evidence && opt.write_edges) rc.evidence_input = opt.input;
  rc.truth = s.has_truth ? &s.truth : nullptr;
  auto text = [&](const char* k, std::string v) {
    rc.attributes.push_back({k, std::move(v), 0, true});
  };
  auto num = [&](const char* k, double v) { rc.attributes.push_back({k, "", v, false, false}); };
  auto count = [&](const char* k, double v) { rc.attributes.push_back({k, "", v, false, true}); };
  text("chorus_version", CHORUS_VERSION);
  text("input_path", opt.input);
  count("input_size_bytes", static_cast<double>(in.info.file_size));
  text("input_checksum", hex64(in.checksum));
  count("accounts", static_cast<double>(in.info.n));
  count("embedding_dim", static_cast<double>(in.info.dim));
  count("activity_bins", static_cast<double>(in.info.bins));
  text("view", to_string(mode));
  num("threshold", opt.threshold);
  num("threshold_activity", opt.threshold_activity);
  num("weight", opt.weight);
  text("activity_transform", to_string(opt.transform));
  count("topk", static_cast<double>(opt.topk));
  count("max_edges", static_cast<double>(opt.max_edges));
  text("backend", be->name());
  text("precision_requested", to_string(opt.prec));
  text("precision_used", s.precision_used);
  text("backend_detail", st.detail);
  count("device", opt.device);
  count("threads", opt.threads > 0 ? opt.threads : omp_get_max_threads());
  count("tile_rows", static_cast<double>(opt.tile_rows));
  count("tile_cols", static_cast<double>(opt.tile_cols));
  count("pairs", static_cast<double>(s.pairs));
  count("candidates", static_cast<double>(s.candidates));
  count("edges_before_topk", static_cast<double>(s.edges_before_topk));
  count("edges", static_cast<double>(s.edges));
  count("edges_written", opt.write_edges ? static_cast<double>(s.edges) : 0.0);
  count("max_memory_mib", static_cast<double>(opt.max_memory_mib));
  count("edges_spilled", s.spilled ? 1.0 : 0.0);
  count("clusters", static_cast<double>(K));
  count("invalid_embedding_rows", static_cast<double>(s.invalid_embedding));
  count("invalid_activity_rows", static_cast<double>(s.invalid_activity));
  num("seconds_read", s.seconds_read);
  num("seconds_score", s.seconds_score);
  num("seconds_components", s.seconds_components);
  if (s.has_truth) {
    num("truth_precision", s.truth.precision);
    num("truth_recall", s.truth.recall);
  }
  write_results(opt.output, rc);
  if (!opt.checkpoint_dir.empty()) remove_checkpoint(opt.checkpoint_dir);  // the results stand
  s.seconds_write = since(t);
  s.seconds_total = since(t_start);
  return s;
}

std::string to_json(const detect_summary& s) {
  std::ostringstream o;
  auto str = [&](const std::string& v) {
    std::string e = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        e += '\\', e += c;
      else if (static_cast<unsigned char>(c) < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        e += b;
      } else
        e += c;
    }
    return e + "\"";
  };
  auto num = [&](double v) {
    if (!std::isfinite(v)) return std::string("null");
    std::ostringstream x;
    x.precision(10);
    x << v;
    return x.str();
  };
  o << "{\"input\":" << str(s.input) << ",\"output\":" << str(s.output)
    << ",\"backend\":" << str(s.backend) << ",\"view\":" << str(s.view)
    << ",\"precision\":" << str(s.precision_used) << ",\"detail\":" << str(s.detail)
    << ",\"accounts\":" << s.accounts << ",\"pairs\":" << s.pairs
    << ",\"candidates\":" << s.candidates << ",\"edges\":" << s.edges
    << ",\"edges_before_topk\":" << s.edges_before_topk << ",\"clusters\":" << s.clusters
    << ",\"clustered_accounts\":" << s.clustered_accounts
    << ",\"largest_cluster\":" << s.largest_cluster
    << ",\"invalid_embedding_rows\":" << s.invalid_embedding
    << ",\"invalid_activity_rows\":" << s.invalid_activity
    << ",\"resumed_units\":" << s.resumed_units << ",\"checkpoints\":" << s.checkpoints
    << ",\"cluster_sizes\":[";
  for (std::size_t i = 0; i < s.cluster_sizes.size(); ++i)
    o << (i ? "," : "") << s.cluster_sizes[i];
  o << "],\"seconds\":{\"read\":" << num(s.seconds_read) << ",\"score\":" << num(s.seconds_score)
    << ",\"components\":" << num(s.seconds_components) << ",\"write\":" << num(s.seconds_write)
    << ",\"total\":" << num(s.seconds_total) << "}";
  if (s.has_truth)
    o << ",\"truth\":{\"precision\":" << num(s.truth.precision)
      << ",\"recall\":" << num(s.truth.recall)
      << ",\"planted_clusters\":" << s.truth.planted_clusters
      << ",\"planted_recovered\":" << s.truth.planted_recovered << "}";
  o << "}";
  return o.str();
}

}  // namespace chorus
