// chorus: the detection job.
#include "chorus/job/detect.hpp"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <thread>

#include "chorus/scan/checkpoint.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/core/error.hpp"
#include "chorus/job/mpi.hpp"
#include "chorus/io/results.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/scan/tiling.hpp"
#include "chorus/version.hpp"

namespace chorus {

namespace {
// `path` made absolute (the report and evidence read the input from another folder later).
std::string absolute_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}
}  // namespace

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

gpu_kernel parse_gpu_kernel(const std::string& s) {
  if (s == "auto") return gpu_kernel::automatic;
  if (s == "fused") return gpu_kernel::fused;
  if (s == "cublas") return gpu_kernel::cublas;
  CHORUS_THROW(input_error, "unknown GPU kernel '", s, "' (auto, fused, cublas)");
}
const char* to_string(gpu_kernel k) {
  switch (k) {
    case gpu_kernel::automatic:
      return "auto";
    case gpu_kernel::fused:
      return "fused";
    case gpu_kernel::cublas:
      return "cublas";
  }
  return "?";
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

namespace {

// Host memory a run needs besides the edges (views, first-pass rows, labels, tiles).
std::uint64_t fixed_memory(const detect_options& opt, const input_info& info, bool need_e,
                           bool need_a) {
  std::uint64_t bytes = 0;
  const std::uint64_t n = static_cast<std::uint64_t>(info.n);
  if (need_e) bytes += n * (static_cast<std::uint64_t>(info.dim) * 5 + 9);  // fp32 + int8
  if (need_a) bytes += n * (static_cast<std::uint64_t>(info.bins) * 5 + 9);
  bytes += n * 8 * 6;  // ids, truth, parent, labels, counts, members
  const std::uint64_t threads =
      static_cast<std::uint64_t>(opt.threads > 0 ? opt.threads : omp_get_max_threads());
  bytes += threads * static_cast<std::uint64_t>(opt.tile_rows * opt.tile_cols) * 5;
  bytes += 64ull << 20;  // libraries, HDF5 buffers, read block
  return bytes;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Runs `fn`; in a multi-process job every rank then agrees on success or on the first
// failure (mpi::agree), so that one rank's error ends all ranks with its message.
template <typename Fn>
void phase(Fn&& fn) {
  std::exception_ptr err;
  try {
    fn();
  } catch (...) {
    err = std::current_exception();
    mpi::notify_peers();
  }
  mpi::agree(err);
}

constexpr int kRankRecord = 9;  // doubles per rank in the gathered per-rank records

}  // namespace

std::string edge_shard_path(const std::string& output, int rank, int ranks) {
  char buf[64];
  std::snprintf(buf, sizeof buf, ".edges-%05d-of-%05d.h5", rank, ranks);
  return output + buf;
}

detect_summary run_detect(const detect_options& opt) {
  const auto t_start = std::chrono::steady_clock::now();
  const int me = mpi::rank(), P = mpi::size();
  const bool multi = mpi::active();
  // the shards are the results' /edges (virtual datasets); with --topk or --no-edges they only
  // carry the edges to rank 0 and go once it has read them
  const bool keep_shards = multi && opt.write_edges && opt.topk == 0;
  detect_summary s;
  input_info info;
  view_mode mode = view_mode::embedding;
  // 1. Parameters, input and output, checked before any work (rank 0 probes the file and the
  //    output paths; every rank then validates the layout itself).
  phase([&] {
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
    CHORUS_EXPECTS(opt.checkpoint_interval >= 0, "--checkpoint-interval must be >= 0");
    CHORUS_EXPECTS(!opt.resume || !opt.checkpoint_dir.empty(), "--resume needs --checkpoint DIR");
    if (me == 0) {
      probe_input_isolated(opt.input);  // a file that crashes HDF5 ends here, with exit code 2
      check_output_path(opt.output, opt.force);
      if (keep_shards)
        for (int r = 0; r < P; ++r) check_output_path(edge_shard_path(opt.output, r, P), opt.force);
    }
  });
  std::unique_ptr<backend> be;
  std::uint64_t fixed_bytes = 0;
  phase([&] {
    info = inspect_input(opt.input);
    if (opt.view == "auto") {
      mode = info.has_embedding && info.has_activity ? view_mode::both
             : info.has_embedding                    ? view_mode::embedding
                                                     : view_mode::activity;
    } else {
      mode = parse_view(opt.view);
    }
    const bool ne = mode != view_mode::activity, na = mode != view_mode::embedding;
    CHORUS_EXPECTS(!ne || info.has_embedding, "--view ", to_string(mode),
                   " needs /embedding, which '", opt.input, "' does not have");
    CHORUS_EXPECTS(!na || info.has_activity, "--view ", to_string(mode),
                   " needs /activity, which '", opt.input, "' does not have");
    // with --max-memory a job that cannot fit says so before any work
    fixed_bytes = fixed_memory(opt, info, ne, na);
    if (opt.max_memory_mib > 0)
      CHORUS_EXPECTS(fixed_bytes + (16ull << 20) <= (opt.max_memory_mib << 20),
                     "this job needs about ", (fixed_bytes >> 20) + 16,
                     " MiB of host memory besides "
                     "its edges (views, first-pass rows, labels, tiles), more than --max-memory ",
                     opt.max_memory_mib,
                     " MiB; raise --max-memory, use fewer --threads or smaller "
                     "tiles, or run on a machine with more memory");
    be = make_backend(opt.backend);
    // the CUDA backend checkpoints its fused-kernel runs and refuses the others itself
  });
  const bool need_e = mode != view_mode::activity, need_a = mode != view_mode::embedding;
  int threads = opt.threads;
  // Several ranks on a node that all see every core (no binding by the launcher) would each
  // start a thread per core: share the cores instead.
  if (threads == 0 && multi && mpi::local_size() > 1 &&
      omp_get_max_threads() == omp_get_num_procs())
    threads = std::max(1, omp_get_num_procs() / mpi::local_size());
  if (threads > 0) omp_set_num_threads(threads);
  s.input = opt.input;
  s.output = opt.output;
  s.backend = be->name();
  s.view = to_string(mode);
  s.threshold = opt.threshold;
  s.threshold_activity = opt.threshold_activity;
  s.weight = opt.weight;
  s.transform = to_string(opt.transform);
  s.topk = opt.topk;
  s.threads = threads > 0 ? threads : omp_get_max_threads();

  // This rank's rows: contiguous ranges with (almost) equal pair counts (tiling::split_row).
  const std::int64_t row_begin = tiling::split_row(info.n, P, me);
  const std::int64_t row_end = tiling::split_row(info.n, P, me + 1);
  const std::string shard = multi ? edge_shard_path(opt.output, me, P) : std::string();
  // rank 0 reads every rank's shard, so its temporary name is known to all: NAME.tmp
  const std::string shard_tmp = shard + ".tmp";
  bool shard_final = false;  // this rank renamed its shard to its final name
  auto remove_shards = [&] {
    if (!multi) return;
    std::remove(shard_tmp.c_str());
    if (shard_final) std::remove(shard.c_str());
  };

  loaded_input in;
  score_stats st;
  std::vector<std::int64_t> roots;  // this rank's forest, merged onto rank 0
  std::int64_t local_edges = 0;
  double seconds_shard = 0, seconds_local_roots = 0;
  std::uint64_t bytes_sent = 0;
  const std::string out_dir =
      opt.output.find('/') == std::string::npos
          ? std::string(".")
          : opt.output.substr(0, std::max<std::size_t>(opt.output.rfind('/'), 1));
  // The edge list lives in an edge store: in memory up to what --max-memory leaves, spilled to
  // sorted runs on disk (next to the output) past it.
  std::uint64_t cap_edges = 0;
  if (opt.max_memory_mib > 0) {
    const std::uint64_t left = (opt.max_memory_mib << 20) - fixed_bytes;
    cap_edges = std::max<std::uint64_t>(left / (3 * sizeof(edge)), 1 << 12);
  }
  // (ranks on different nodes may share a pid and the output directory: the rank is in the name)
  edge_store store(cap_edges, out_dir + "/.chorus-spill-" + std::to_string(getpid()) +
                                  (multi ? "-r" + std::to_string(me) : std::string()));
  score_problem pb;

  // The views are read on a thread of their own while the backend scores the rows already
  // there (chorus/io/row_feed.hpp): HDF5's decoding is serial, and it now overlaps the scoring (CPU
  // backend, 100k x 384 on 2 cores: up to 14% faster end to end, bench/RESULTS.md). A checkpointed
  // run reads first (its checkpoint records the input's checksum before any tile), and so does
  // any run with CHORUS_READ_OVERLAP=0 (for measurements).
  const char* overlap_env = std::getenv("CHORUS_READ_OVERLAP");
  const bool overlap =
      opt.checkpoint_dir.empty() && !(overlap_env && std::string(overlap_env) == "0");
  std::unique_ptr<row_feed> feed;
  std::thread reader;
  double seconds_reader = 0;
  struct reader_guard {  // the reader stops and is joined before `in` goes away
    std::unique_ptr<row_feed>& feed;
    std::thread& reader;
    void stop() {
      if (!reader.joinable()) return;
      feed->cancel();
      reader.join();
    }
    ~reader_guard() { stop(); }
  } guard{feed, reader};

  // 2. Read this rank's rows, score its pairs; in a multi-process job also write its edge shard
  //    and union its edges into a forest.
  try {
    load_options lo;
    lo.embedding = need_e;
    lo.activity = need_a;
    lo.transform = opt.transform;
    lo.row_begin = row_begin;
    lo.checksum = me == 0;
    if (const char* b = std::getenv("CHORUS_TEST_READ_BLOCK_ROWS"))  // test hook: small blocks
      lo.block_rows = std::max(1, std::atoi(b));
    phase([&] {
      auto t = std::chrono::steady_clock::now();
      if (opt.progress) opt.progress("read", 0, 1);
      if (overlap) {
        in = open_input(opt.input, lo);
        feed = std::make_unique<row_feed>(std::min(row_begin, in.info.n), in.info.n);
        reader = std::thread([&in, &feed, &seconds_reader, lo] {
          const auto t = std::chrono::steady_clock::now();
          try {
            read_views(in, lo, feed.get());
          } catch (...) {
            feed->fail(std::current_exception());
          }
          seconds_reader = since(t);
        });
      } else {
        in = load_input(opt.input, lo);
      }
      s.seconds_read = since(t);
    });
    // every rank's checkpoint identity holds the checksum; collective outside a phase, so a
    // rank that failed to read cannot leave the others waiting in it
    if (!overlap) in.checksum = mpi::broadcast(in.checksum);
    phase([&] {
      s.accounts = in.info.n;

      pb.embedding = need_e ? &in.embedding : nullptr;
      pb.activity = need_a ? &in.activity : nullptr;
      pb.params.mode = mode;
      pb.params.threshold = opt.threshold;
      pb.params.threshold_activity = opt.threshold_activity;
      pb.params.weight = opt.weight;
      score_options so;
      so.prec = opt.prec;
      so.threads = threads;
      so.max_edges = opt.max_edges;  // a limit on the edges found, before --topk
      so.tile_rows = opt.tile_rows;
      so.tile_cols = opt.tile_cols;
      so.row_begin = row_begin;
      so.row_end = row_end;
      // one GPU per rank: ranks on a node take consecutive devices from --device on
      so.device = opt.device;
      so.kernel = opt.kernel;
      if (multi && be->name() == "cuda")
        so.device = (opt.device + mpi::local_rank()) % std::max(1, cuda_device_count());
      so.checkpoint_dir = opt.checkpoint_dir;
      if (multi && !opt.checkpoint_dir.empty()) {  // one checkpoint per rank
        ::mkdir(opt.checkpoint_dir.c_str(), 0755);
        so.checkpoint_dir =
            opt.checkpoint_dir + "/rank-" + std::to_string(me) + "-of-" + std::to_string(P);
      }
      so.checkpoint_interval = opt.checkpoint_interval;
      so.resume = opt.resume;
      {
        std::ostringstream id;  // everything that shapes the edges; not threads or precision
        id.precision(17);
        id << "input_size=" << in.info.file_size << " checksum=" << hex64(in.checksum)
           << " n=" << in.info.n << " view=" << to_string(mode) << " threshold=" << opt.threshold
           << " threshold_activity=" << opt.threshold_activity << " weight=" << opt.weight
           << " transform=" << to_string(opt.transform) << " backend=" << be->name();
        if (multi) id << " ranks=" << P << " rank=" << me;
        so.identity = id.str();
      }
      so.gpu_memory = opt.gpu_memory_mib << 20;
      if (opt.progress || multi)
        so.progress = [&](std::int64_t d, std::int64_t n) {
          if (mpi::peer_failed()) request_stop();  // another rank failed: stop early
          if (opt.progress) opt.progress("score", d, n);
        };
      auto t = std::chrono::steady_clock::now();
      so.sink = &store;
      if (const char* f = std::getenv("CHORUS_TEST_FAIL_RANK"))  // test hook: one rank fails
        if (multi && std::atoi(f) == me)
          CHORUS_THROW(runtime_failure, "test failure injected on rank ", me,
                       " (CHORUS_TEST_FAIL_RANK)");
      pb.feed = feed.get();
      be->find_edges(pb, so, st);
      if (feed) {               // the rest of the file (and the checksum) may still be in reading
        feed->wait(in.info.n);  // rethrows the reader's failure
        reader.join();
        s.seconds_read += seconds_reader;
      }
      s.seconds_score = since(t);
      s.checksum = in.checksum;
      s.invalid_embedding = in.embedding.invalid_rows;
      s.invalid_activity = in.activity.invalid_rows;
      local_edges = static_cast<std::int64_t>(store.size());
      if (multi) {
        t = std::chrono::steady_clock::now();
        const edge_visitor visit = [&store](const auto& fn) { store.for_each_sorted(fn); };
        write_edge_shard(shard_tmp, visit, static_cast<std::uint64_t>(local_edges));
        seconds_shard = since(t);
        t = std::chrono::steady_clock::now();
        if (opt.topk == 0)
          roots =
              !st.roots.empty() ? std::move(st.roots) : component_roots(in.info.n, visit, threads);
        seconds_local_roots = since(t);
      }
    });
  } catch (...) {
    guard.stop();
    remove_shards();
    throw;
  }
  s.pairs = mpi::sum(st.pairs);
  s.candidates = mpi::sum(st.candidates);
  s.precision_used = to_string(st.used);
  s.resumed_units = mpi::sum(st.resumed_units);
  s.checkpoints = mpi::sum(st.checkpoints);
  s.detail = st.detail;
  s.edges_before_topk = mpi::sum(local_edges);
  s.spilled = mpi::sum(store.spilled() ? 1 : 0) > 0;
  s.ranks = P;
  const double local_score = s.seconds_score;
  s.seconds_score = mpi::max(s.seconds_score);  // the scoring phase ends with its slowest rank

  try {
    // 3. Multi-process: the forests meet on rank 0; shards take their final names.
    phase([&] {
      if (!multi) return;
      if (s.edges_before_topk > opt.max_edges) throw_too_many_edges(opt.max_edges);
      auto t = std::chrono::steady_clock::now();
      if (opt.topk == 0) bytes_sent = mpi::merge_forests(roots);
      s.seconds_merge = mpi::max(since(t));
      if (keep_shards) {
        CHORUS_EXPECTS(std::rename(shard_tmp.c_str(), shard.c_str()) == 0, "cannot rename '",
                       shard_tmp, "' to '", shard, "'");
        shard_final = true;
      }
    });
    // per-rank records for /ranks and the JSON summary
    static_assert(kRankRecord == 9, "rank record layout");
    const std::vector<double> rec = {static_cast<double>(row_begin),
                                     static_cast<double>(row_end),
                                     static_cast<double>(st.pairs),
                                     static_cast<double>(st.candidates),
                                     static_cast<double>(local_edges),
                                     s.seconds_read,
                                     local_score,
                                     seconds_shard + seconds_local_roots,
                                     static_cast<double>(bytes_sent)};
    const auto recs = mpi::gather(rec);
    const auto hosts = mpi::gather(mpi::host_name());
    // 4. Components, cluster tables and the results file (rank 0).
    phase([&] {
      if (me != 0) return;
      std::vector<std::string> shard_paths;
      for (int r = 0; multi && r < P; ++r)
        shard_paths.push_back(edge_shard_path(opt.output, r, P) + (keep_shards ? "" : ".tmp"));
      std::vector<edge> edges;
      bool in_memory = opt.topk > 0 || !store.spilled();
      if (multi) {
        in_memory = opt.topk > 0;
        if (in_memory) {  // --topk needs every edge of an account: the kept graph lives here
          visit_shards(shard_paths)(
              [&](const edge* e, std::size_t k) { edges.insert(edges.end(), e, e + k); });
        }
      } else if (in_memory) {
        edges = store.take_sorted();
      }
      if (opt.topk > 0) edges = keep_topk(in.info.n, edges, opt.topk, pb.params);
      s.edges = in_memory ? static_cast<std::int64_t>(edges.size()) : s.edges_before_topk;
      const edge_visitor visit =
          in_memory ? visit_vector(edges)
          : multi   ? visit_shards(shard_paths)
                    : edge_visitor([&store](const auto& fn) { store.for_each_sorted(fn); });

      auto t = std::chrono::steady_clock::now();
      // the merged forest (several ranks) or the CUDA backend's union-find already holds the
      // roots of the unpruned graph
      if (opt.topk > 0 || (!multi && st.roots.empty()))
        roots = component_roots(in.info.n, visit, threads);
      else if (!multi)
        roots = std::move(st.roots);
      std::int64_t K = 0;
      // the CUDA backend also relabelled on the device (Thrust); the same rule as canonical_labels
      auto labels = (!multi && opt.topk == 0 && st.clusters >= 0 && !st.labels.empty())
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
      s.seconds_components = since(t) + s.seconds_merge;

      t = std::chrono::steady_clock::now();
      results_content rc;
      rc.labels = &labels;
      rc.ids = &in.ids;
      std::vector<edge> none;
      if (!opt.write_edges) {
        rc.edges = &none;
      } else if (in_memory) {
        rc.edges = &edges;
      } else if (multi) {
        for (int r = 0; r < P; ++r)
          rc.edge_shards.emplace_back(base_name(shard_paths[r]),
                                      static_cast<std::uint64_t>(recs[r * kRankRecord + 4]));
      } else {
        rc.edge_stream = visit;
        rc.edge_count = static_cast<std::uint64_t>(s.edges);
      }
      rc.clusters = &table;
      const std::string input_path = absolute_path(opt.input);
      if (opt.evidence && opt.write_edges) rc.evidence_input = input_path;
      rc.truth = s.has_truth ? &s.truth : nullptr;
      auto text = [&](const char* k, std::string v) {
        rc.attributes.push_back({k, std::move(v), 0, true});
      };
      auto num = [&](const char* k, double v) {
        rc.attributes.push_back({k, "", v, false, false});
      };
      auto count = [&](const char* k, double v) {
        rc.attributes.push_back({k, "", v, false, true});
      };
      text("chorus_version", CHORUS_VERSION);
      text("input_path", input_path);
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
      text("gpu_kernel_requested", to_string(opt.kernel));
      text("backend_detail", st.detail);
      count("device", opt.device);
      count("threads", threads > 0 ? threads : omp_get_max_threads());
      count("ranks", P);
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
      // one row per rank: its share of the work and its timings (README: per-rank timings)
      for (int r = 0; r < P; ++r) {
        rank_record x;
        const double* v = recs.data() + r * kRankRecord;
        x.row_begin = static_cast<std::int64_t>(v[0]);
        x.row_end = static_cast<std::int64_t>(v[1]);
        x.pairs = static_cast<std::int64_t>(v[2]);
        x.candidates = static_cast<std::int64_t>(v[3]);
        x.edges = static_cast<std::int64_t>(v[4]);
        x.seconds_read = v[5];
        x.seconds_score = v[6];
        x.seconds_local = v[7];
        x.bytes_sent = static_cast<std::uint64_t>(v[8]);
        x.host = hosts[r];
        s.rank_records.push_back(x);
      }
      rc.ranks = &s.rank_records;
      write_results(opt.output, rc);
      s.seconds_write = since(t);
    });
  } catch (...) {
    remove_shards();
    throw;
  }
  // 5. The results stand: drop what only served the run.
  if (multi && !keep_shards) std::remove(shard_tmp.c_str());
  if (!opt.checkpoint_dir.empty()) {
    if (multi) {
      remove_checkpoint(opt.checkpoint_dir + "/rank-" + std::to_string(me) + "-of-" +
                        std::to_string(P));
      mpi::agree(nullptr);  // every rank's checkpoint is gone before the directory goes
      if (me == 0) ::rmdir(opt.checkpoint_dir.c_str());
    } else {
      remove_checkpoint(opt.checkpoint_dir);
    }
  }
  s.seconds_total = since(t_start);
  return s;
}

std::string json_quote(const std::string& v) {
  std::string e = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      e += '\\', e += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      e += b;
    } else {
      e += c;
    }
  }
  return e + "\"";
}

namespace {
// The views a decision mode reads, as JSON strings.
std::string views_used(const std::string& mode) {
  if (mode == "embedding") return "\"embedding\"";
  if (mode == "activity") return "\"activity\"";
  return "\"embedding\",\"activity\"";
}
}  // namespace

std::string to_json(const detect_summary& s) {
  std::ostringstream o;
  const auto str = json_quote;
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
    << ",\"thresholds\":{\"embedding\":" << num(s.threshold)
    << ",\"activity\":" << num(s.threshold_activity) << ",\"weight\":" << num(s.weight) << "}"
    << ",\"views_used\":[" << views_used(s.view) << "],\"activity_transform\":" << str(s.transform)
    << ",\"topk\":" << s.topk << ",\"threads\":" << s.threads
    << ",\"edges_spilled\":" << (s.spilled ? "true" : "false") << ",\"cluster_sizes\":[";
  for (std::size_t i = 0; i < s.cluster_sizes.size(); ++i)
    o << (i ? "," : "") << s.cluster_sizes[i];
  o << "],\"seconds\":{\"read\":" << num(s.seconds_read) << ",\"score\":" << num(s.seconds_score)
    << ",\"components\":" << num(s.seconds_components) << ",\"write\":" << num(s.seconds_write)
    << ",\"merge\":" << num(s.seconds_merge) << ",\"total\":" << num(s.seconds_total) << "}";
  o << ",\"ranks\":" << s.ranks << ",\"per_rank\":[";
  for (std::size_t r = 0; r < s.rank_records.size(); ++r) {
    const auto& x = s.rank_records[r];
    o << (r ? "," : "") << "{\"rank\":" << r << ",\"host\":" << str(x.host)
      << ",\"row_begin\":" << x.row_begin << ",\"row_end\":" << x.row_end
      << ",\"pairs\":" << x.pairs << ",\"candidates\":" << x.candidates << ",\"edges\":" << x.edges
      << ",\"seconds_read\":" << num(x.seconds_read)
      << ",\"seconds_score\":" << num(x.seconds_score)
      << ",\"seconds_local\":" << num(x.seconds_local) << ",\"bytes_sent\":" << x.bytes_sent << "}";
  }
  o << "]";
  if (s.has_truth)
    o << ",\"truth\":{\"precision\":" << num(s.truth.precision)
      << ",\"recall\":" << num(s.truth.recall)
      << ",\"planted_clusters\":" << s.truth.planted_clusters
      << ",\"planted_recovered\":" << s.truth.planted_recovered << "}";
  o << "}";
  return o.str();
}

}  // namespace chorus
