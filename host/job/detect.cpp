// chorus: the detection job as named phases: plan, read and score, merge ranks, components,
// cluster statistics, write, clean up. Each phase is a function with its inputs and outputs
// explicit; under MPI every rank runs every phase and agrees on its outcome (phase()).
#include "chorus/job/detect.hpp"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>

#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"
#include "chorus/core/test_hooks.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/io/run_facts.hpp"
#include "chorus/job/mpi.hpp"
#include "chorus/job/update.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/scan/tiling.hpp"
#include "chorus/significance/significance.hpp"
#include "job_support.hpp"

namespace chorus {

std::string edge_shard_path(const std::string& output, int rank, int ranks) {
  char buf[64];
  std::snprintf(buf, sizeof buf, ".edges-%05d-of-%05d.h5", rank, ranks);
  return output + buf;
}

namespace {

using job_support::absolute_path;
using job_support::check_stop;
using job_support::clock_type;
using job_support::since;

std::string hex64(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dir_name(const std::string& path) {
  return path.find('/') == std::string::npos
             ? std::string(".")
             : path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
}

using mpi::phase;

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

void check_options(const detect_options& opt) {
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
  CHORUS_EXPECTS(!opt.input.empty() || opt.memory, "no input given (--input)");
  CHORUS_EXPECTS(opt.input != opt.output, "--out must differ from --input");
  CHORUS_EXPECTS(opt.checkpoint_interval >= 0, "--checkpoint-interval must be >= 0");
  CHORUS_EXPECTS(!opt.resume || !opt.checkpoint_dir.empty(), "--resume needs --checkpoint DIR");
  CHORUS_EXPECTS(opt.update.empty() || opt.topk == 0,
                 "--topk keeps only some edges, and an update (--update) needs every edge of the "
                 "runs it builds on: run --update without --topk");
  CHORUS_EXPECTS(opt.update.empty() || opt.update != opt.input,
                 "--update names the previous run's results file, not the input");
  struct stat a {
  }, b{};
  CHORUS_EXPECTS(opt.update.empty() || ::stat(opt.update.c_str(), &a) != 0 ||
                     ::stat(opt.output.c_str(), &b) != 0 || a.st_dev != b.st_dev ||
                     a.st_ino != b.st_ino,
                 "--out names the previous results (--update '", opt.update,
                 "'): write the update to a new file, so that each day's results and their "
                 "lineage stay");
}

// ---- phase 1: plan ----------------------------------------------------------------------------

/// What the job decided before any work: the input's layout, the view, the backend, this
/// rank's rows and its files.
struct job_plan {
  int rank = 0, ranks = 1;
  bool multi = false;
  bool keep_shards = false;  // the shards are the results' /edges (virtual datasets)
  input_info info;
  view_mode mode = view_mode::embedding;
  bool need_e = false, need_a = false;
  std::unique_ptr<backend> be;
  std::uint64_t fixed_bytes = 0;  // host memory besides the edges
  int threads = 0;                // 0: OpenMP's default
  std::int64_t row_begin = 0, row_end = 0;
  std::string input_path;  // absolute
  std::string shard;       // this rank's edge shard (multi-process)
  std::string shard_tmp;   // its name while written: NAME.tmp (rank 0 reads every rank's)
  std::string checkpoint_dir;
  std::vector<std::string> warnings;  // for the user (summary, stderr, --json)
  std::int64_t null_period = 0;       // --significance: the activity null's shift unit in bins
  int worker_threads() const { return threads > 0 ? threads : omp_get_max_threads(); }
};

// A threshold or weight the chosen view does not use is an error naming the one to use: an
// ignored option would silently run at the default.
void check_view_options(const detect_options& opt, view_mode mode) {
  const std::string v = std::string("--view ") + to_string(mode) +
                        (opt.view == "auto" ? " (chosen by --view auto from the input)" : "");
  CHORUS_EXPECTS(!(mode == view_mode::activity && opt.threshold_given),
                 "--threshold is the embedding (or fused) threshold, which ", v,
                 " does not use; set the activity threshold with --threshold-activity");
  CHORUS_EXPECTS(
      !((mode == view_mode::embedding || mode == view_mode::fused) && opt.threshold_activity_given),
      "--threshold-activity is the activity threshold, which ", v, " does not use; use --threshold",
      mode == view_mode::fused ? " (fused thresholds w * embedding + (1 - w) * activity)" : "");
  CHORUS_EXPECTS(!(mode != view_mode::fused && opt.weight_given),
                 "--weight applies to --view fused only, not to ", v);
}

// CUDA-only options on a run the CPU backend scores change no result (every backend gives the
// same edges), but the user meant something by them: a loud warning, never silence.
void gpu_options_on_cpu(const detect_options& opt, job_plan& p) {
  if (p.be->name() != "cpu") return;
  std::string given;
  if (opt.kernel != gpu_kernel::automatic)
    given += " --gpu-kernel " + std::string(to_string(opt.kernel));
  if (opt.gpu_memory_mib > 0) given += " --gpu-memory " + std::to_string(opt.gpu_memory_mib);
  if (opt.device != 0) given += " --device " + std::to_string(opt.device);
  if (given.empty()) return;
  p.warnings.push_back(given.substr(1) + " ignored: " +
                       (opt.backend == backend_kind::cpu
                            ? std::string("they apply to the CUDA backend, not to --backend cpu")
                            : std::string("no CUDA device is visible, so the CPU backend scores "
                                          "this run (--backend cuda makes that an error)")));
}

// Top-level datasets the input has but chorus does not read.
std::vector<std::string> input_warnings(const input_info& info) {
  std::vector<std::string> w;
  for (const std::string& u : info.unrecognised) {
    const auto arrow = u.find(" -> ");
    w.push_back("'" + u.substr(0, arrow) + "' in the input is not a dataset chorus reads" +
                (arrow == std::string::npos ? std::string(": it is ignored")
                                            : "; did you mean '" + u.substr(arrow + 4) +
                                                  "'? (rename it, or the view is not used)"));
  }
  return w;
}

view_mode choose_view(const detect_options& opt, const input_info& info) {
  if (opt.view != "auto") return parse_view(opt.view);
  return info.has_embedding && info.has_activity ? view_mode::both
         : info.has_embedding                    ? view_mode::embedding
                                                 : view_mode::activity;
}

// Parameters, input and output, checked before any work: rank 0 inspects the file (in a child
// process) and the output paths; the other ranks inspect the layout themselves.
job_plan plan_job(const detect_options& opt) {
  job_plan p;
  p.rank = mpi::rank();
  p.ranks = mpi::size();
  p.multi = mpi::active();
  // with --topk or --no-edges the shards only carry the edges to rank 0 and go once it read them
  p.keep_shards = p.multi && opt.write_edges && opt.topk == 0 && opt.update.empty();
  phase([&] {
    check_options(opt);
    if (p.rank != 0) return;
    // inspected once, in a child: a file that crashes HDF5 ends here, with exit code 2
    CHORUS_EXPECTS(!opt.memory || !p.multi, "an input in memory is for one process, not MPI");
    p.info = opt.memory ? inspect_memory(*opt.memory) : inspect_input_isolated(opt.input);
    check_output_path(opt.output, opt.force);
    for (int r = 0; p.keep_shards && r < p.ranks; ++r)
      check_output_path(edge_shard_path(opt.output, r, p.ranks), opt.force);
  });
  phase([&] {
    if (p.rank != 0) p.info = inspect_input(opt.input);  // every rank checks the layout it reads
    p.mode = choose_view(opt, p.info);
    check_view_options(opt, p.mode);

    p.warnings = input_warnings(p.info);
    if (p.info.n == 0)  // empty results are right, but rarely what the user meant
      p.warnings.push_back("'" + p.info.path +
                           "' has no accounts (/accounts/id is empty): the results are empty");
    p.need_e = p.mode != view_mode::activity;
    p.need_a = p.mode != view_mode::embedding;
    CHORUS_EXPECTS(!p.need_e || p.info.has_embedding, "--view ", to_string(p.mode),
                   " needs /embedding, which '", p.info.path, "' does not have");
    CHORUS_EXPECTS(!p.need_a || p.info.has_activity, "--view ", to_string(p.mode),
                   " needs /activity, which '", p.info.path, "' does not have");
    job_support::check_significance_request(opt, p.need_a);
    if (opt.significance > 0 && p.need_a)  // no clock: refused now, not after the scoring
      p.null_period = significance::activity_period(opt.memory ? std::string() : opt.input,
                                                    p.info.bins, opt.null_period);
    // with --max-memory a job that cannot fit says so before any work
    p.fixed_bytes = fixed_memory(opt, p.info, p.need_e, p.need_a);
    if (opt.max_memory_mib > 0 && p.fixed_bytes + (16ull << 20) > (opt.max_memory_mib << 20))
      CHORUS_THROW(limit_error,  // a limit (exit 3), like --max-edges
                   "this job needs about ", (p.fixed_bytes >> 20) + 16,
                   " MiB of host memory besides "
                   "its edges (views, first-pass rows, labels, tiles), more than --max-memory ",
                   opt.max_memory_mib,
                   " MiB; raise --max-memory, use fewer --threads or smaller "
                   "tiles, or run on a machine with more memory");
    p.be = make_backend(opt.backend);
    gpu_options_on_cpu(opt, p);
  });
  p.threads = opt.threads;
  // Several ranks on a node that all see every core (no binding by the launcher) would each
  // start a thread per core: share the cores instead.
  if (p.threads == 0 && p.multi && mpi::local_size() > 1 &&
      omp_get_max_threads() == omp_get_num_procs())
    p.threads = std::max(1, omp_get_num_procs() / mpi::local_size());
  if (p.threads > 0) omp_set_num_threads(p.threads);
  // this rank's rows: contiguous ranges with (almost) equal pair counts (tiling::split_row)
  p.row_begin = tiling::split_row(p.info.n, p.ranks, p.rank);
  p.row_end = tiling::split_row(p.info.n, p.ranks, p.rank + 1);
  p.input_path = opt.memory ? opt.memory->name : absolute_path(opt.input);
  if (p.multi) {
    p.shard = edge_shard_path(opt.output, p.rank, p.ranks);
    p.shard_tmp = p.shard + ".tmp";
  }
  p.checkpoint_dir = opt.checkpoint_dir;
  if (p.multi && !opt.checkpoint_dir.empty())  // one checkpoint per rank
    p.checkpoint_dir =
        opt.checkpoint_dir + "/rank-" + std::to_string(p.rank) + "-of-" + std::to_string(p.ranks);
  return p;
}

/// This rank's edge shard: removed on failure unless it already took its final name and the
/// results stand (see keep()).
class shard_files {
 public:
  explicit shard_files(const job_plan& p) : p_(p) {}
  ~shard_files() {
    if (!p_.multi || kept_) return;
    std::remove(p_.shard_tmp.c_str());
    if (final_) std::remove(p_.shard.c_str());
  }
  shard_files(const shard_files&) = delete;
  shard_files& operator=(const shard_files&) = delete;
  void rename_final() {
    CHORUS_EXPECTS(std::rename(p_.shard_tmp.c_str(), p_.shard.c_str()) == 0, "cannot rename '",
                   p_.shard_tmp, "' to '", p_.shard, "'");
    final_ = true;
  }
  void keep() { kept_ = true; }

 private:
  const job_plan& p_;
  bool final_ = false, kept_ = false;
};

// ---- phase 2: read and score ------------------------------------------------------------------

/// What this rank read and found.
struct scored {
  std::unique_ptr<loaded_input> in = std::make_unique<loaded_input>();
  decision_params params;
  score_stats st;
  std::int64_t local_edges = 0;
  std::vector<std::int64_t> roots;  // this rank's forest (multi-process), merged onto rank 0
  double seconds_read = 0, seconds_score = 0, seconds_local = 0;
  std::vector<std::uint64_t> checksums;  // per row (rank 0; chorus/job/update.hpp)
  // --update: the plan, its lineage and the edges this rank found (input rows, sorted)
  std::unique_ptr<update_plan> update;
  update_lineage lineage;
  std::vector<edge> fresh;
  std::int64_t row_begin = 0, row_end = 0;  // this rank's scored positions
};

// Ranks of this node whose device (--device + local rank, modulo the devices) is `device`.
int ranks_on_device(int first, int device) {
  const int devices = std::max(1, cuda_device_count());
  int share = 0;
  for (int r = 0; r < mpi::local_size(); ++r) share += (first + r) % devices == device;
  return std::max(1, share);
}

score_options scan_options(const detect_options& opt, const job_plan& p, const backend& be,
                           std::uint64_t checksum, edge_store& store) {
  score_options so;
  so.prec = opt.prec;
  so.threads = p.threads;
  so.max_edges = opt.max_edges;  // a limit on the edges found, before --topk
  so.tile_rows = opt.tile_rows;
  so.tile_cols = opt.tile_cols;
  so.row_begin = p.row_begin;
  so.row_end = p.row_end;
  // one GPU per rank: ranks on a node take consecutive devices from --device on
  so.device = opt.device;
  so.kernel = opt.kernel;
  if (p.multi && be.name() == "cuda")
    so.device = (opt.device + mpi::local_rank()) % std::max(1, cuda_device_count());
  so.checkpoint_dir = p.checkpoint_dir;
  if (p.multi && !opt.checkpoint_dir.empty()) ::mkdir(opt.checkpoint_dir.c_str(), 0755);
  so.checkpoint_interval = opt.checkpoint_interval;
  so.resume = opt.resume;
  std::ostringstream id;  // everything that shapes the edges; not threads or precision
  id.precision(17);
  id << "input_size=" << p.info.file_size << " checksum=" << hex64(checksum) << " n=" << p.info.n
     << " view=" << to_string(p.mode) << " threshold=" << opt.threshold
     << " threshold_activity=" << opt.threshold_activity << " weight=" << opt.weight
     << " transform=" << to_string(opt.transform) << " backend=" << be.name();
  if (p.multi) id << " ranks=" << p.ranks << " rank=" << p.rank;
  so.identity = id.str();
  so.gpu_memory = opt.gpu_memory_mib << 20;
  if (opt.progress || p.multi || test_hooks().progress_delay_ms > 0)
    so.progress = [&opt](std::int64_t d, std::int64_t n) {
      if (test_hooks().progress_delay_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(test_hooks().progress_delay_ms));
      if (mpi::peer_failed()) request_stop();  // another rank failed: stop early
      if (opt.progress) opt.progress("score", d, n);
    };
  so.sink = &store;
  // the executable's stop flag, reached through the options by a backend plugin too
  so.stop = opt.stop ? opt.stop : [] { return stop_requested(); };
  if (p.multi && be.name() == "cuda") so.device_share = ranks_on_device(opt.device, so.device);
  so.gpu_block_rows = test_hooks().gpu_block_rows;
  so.gpu_candidate_cap = test_hooks().gpu_candidate_cap;
  return so;
}

/// The views are read on a thread of their own while the backend scores the rows already there
/// (chorus/io/row_feed.hpp): HDF5's decoding is serial, and it overlaps the scoring. The reader
/// is cancelled and joined before the input goes away.
class view_reader {
 public:
  view_reader(loaded_input& in, const load_options& lo, std::int64_t first_row,
              const memory_input* memory)
      : feed_(std::min(first_row, in.info.n), in.info.n) {
    thread_ = std::thread([this, &in, lo, memory] {
      const auto t = clock_type::now();
      try {
        if (memory)
          read_views(in, lo, &feed_, *memory);
        else
          read_views(in, lo, &feed_);
      } catch (...) {
        feed_.fail(std::current_exception());
      }
      seconds_ = since(t);
    });
  }
  ~view_reader() {
    if (!thread_.joinable()) return;
    feed_.cancel();
    thread_.join();
  }
  view_reader(const view_reader&) = delete;
  view_reader& operator=(const view_reader&) = delete;
  const row_feed* feed() const { return &feed_; }
  /// Wait for the rest of the file (and its checksum); rethrows the reader's failure.
  double finish(std::int64_t n) {
    feed_.wait(n);
    thread_.join();
    return seconds_;
  }

 private:
  row_feed feed_;
  std::thread thread_;
  double seconds_ = 0;
};

load_options view_load_options(const detect_options& opt, const job_plan& p) {
  load_options lo;
  lo.embedding = p.need_e;
  lo.activity = p.need_a;
  lo.transform = opt.transform;
  lo.row_begin = p.row_begin;
  lo.checksum = p.rank == 0;
  lo.min_activity = opt.min_activity;
  if (test_hooks().read_block_rows > 0) lo.block_rows = test_hooks().read_block_rows;
  return lo;
}

// The parameters an update must share with the run it updates.
update_params update_parameters(const detect_options& opt, const job_plan& p) {
  update_params u;
  u.view = to_string(p.mode);
  u.need_e = p.need_e;
  u.need_a = p.need_a;
  u.fused = p.mode == view_mode::fused;
  u.threshold = opt.threshold;
  u.threshold_activity = opt.threshold_activity;
  u.weight = opt.weight;
  u.min_activity = opt.min_activity;
  u.transform = to_string(opt.transform);
  u.dim = p.info.dim;
  u.bins = p.info.bins;
  return u;
}

update_lineage lineage_of(const update_base& base, const update_plan& u, std::int64_t n) {
  update_lineage l;
  l.previous = base.path;
  l.previous_input = base.input_path;
  l.previous_input_checksum = base.input_checksum;
  l.rows_new = u.rows_new;
  l.rows_changed = u.rows_changed;
  l.rows_removed = u.rows_removed;
  l.rows_unchanged = u.rows_unchanged;
  l.edges_carried = static_cast<std::int64_t>(u.carried.size());
  l.edges_dropped = u.edges_dropped;
  l.pairs_full = tiling::pair_count(n);
  return l;
}

// --update, reading: every row (the new and changed rows are scored first, so every rank needs
// all of them), the row checksums, the previous results and the plan.
void read_for_update(const detect_options& opt, const job_plan& p, scored& r) {
  loaded_input& in = *r.in;
  load_options lo = view_load_options(opt, p);
  lo.row_begin = 0;
  phase([&] {
    const auto t = clock_type::now();
    if (opt.progress) opt.progress("read", 0, 1);
    in = opt.memory ? load_input(*opt.memory, lo) : load_input(p.info, lo);
    r.checksums = row_checksums(in, p.need_e, p.need_a);
    // the carried edges are rank 0's: the other ranks read the ids and checksums only
    const update_base base = read_update_base(opt.update, update_parameters(opt, p), p.rank == 0);
    r.update = std::make_unique<update_plan>(plan_update(base, in.ids, r.checksums));
    r.lineage = lineage_of(base, *r.update, in.info.n);
    r.seconds_read = since(t);
  });
  in.checksum = mpi::broadcast(in.checksum);
}

// --update, scoring: the views in scored order (new and changed rows first) and the pairs (i, j)
// with i among those rows, split across ranks by pair count; the edges found go back to input
// rows. The previous run's edges between unchanged rows are rank 0's (update_plan::carried).
void score_update(const detect_options& opt, const job_plan& p, edge_store& store, scored& r) {
  const update_plan& u = *r.update;
  const std::int64_t n = r.in->info.n;
  r.row_begin = split_prefix_row(n, u.dirty, p.ranks, p.rank);
  r.row_end = split_prefix_row(n, u.dirty, p.ranks, p.rank + 1);
  phase([&] {
    // the views in scored order, in place (no second copy), and back in input order after
    permute_rows(r.in->embedding, u.order);
    permute_rows(r.in->activity, u.order);
    score_problem pb;
    pb.embedding = p.need_e ? &r.in->embedding : nullptr;
    pb.activity = p.need_a ? &r.in->activity : nullptr;
    pb.params = {p.mode, opt.threshold, opt.threshold_activity, opt.weight};
    r.params = pb.params;
    score_options so = scan_options(opt, p, *p.be, r.in->checksum, store);
    so.row_begin = r.row_begin;
    so.row_end = r.row_end;
    // a checkpoint of an update is for the same previous run and the same rows first
    so.identity += " update_of=" + r.lineage.previous_input_checksum + " order=" +
                   hex64(XXH3_64bits(u.order.data(), u.order.size() * sizeof(std::int64_t)));
    auto t = clock_type::now();
    p.be->find_edges(pb, so, r.st);
    r.seconds_score = since(t);
    t = clock_type::now();
    const std::vector<std::int64_t> back = inverse_order(u.order);
    permute_rows(r.in->embedding, back);
    permute_rows(r.in->activity, back);
    r.fresh.reserve(store.size());
    store.for_each_sorted(
        [&](const edge* e, std::size_t k) { r.fresh.insert(r.fresh.end(), e, e + k); });
    edges_to_rows(r.fresh, u.order);
    r.local_edges = static_cast<std::int64_t>(r.fresh.size());
    if (p.multi)
      write_edge_shard(p.shard_tmp, visit_vector(r.fresh),
                       static_cast<std::uint64_t>(r.local_edges));
    r.seconds_local = since(t);
  });
}

// This rank's rows are read (overlapped with scoring unless the run checkpoints: its
// checkpoint records the input's checksum before any tile) and its pairs scored; in a
// multi-process job it also writes its edge shard and unions its edges into a forest.
scored read_and_score(const detect_options& opt, const job_plan& p, edge_store& store) {
  scored r;
  if (!opt.update.empty()) {
    read_for_update(opt, p, r);
    score_update(opt, p, store, r);
    return r;
  }
  r.row_begin = p.row_begin;
  r.row_end = p.row_end;
  loaded_input& in = *r.in;
  const bool overlap = opt.checkpoint_dir.empty() && test_hooks().read_overlap;
  const load_options lo = view_load_options(opt, p);
  std::unique_ptr<view_reader> reader;
  phase([&] {
    const auto t = clock_type::now();
    if (opt.progress) opt.progress("read", 0, 1);
    if (overlap) {
      in = opt.memory ? open_input(*opt.memory, lo) : open_input(p.info, lo);
      reader = std::make_unique<view_reader>(in, lo, p.row_begin, opt.memory);
    } else {
      in = opt.memory ? load_input(*opt.memory, lo) : load_input(p.info, lo);
    }
    r.seconds_read = since(t);
  });
  // every rank's checkpoint identity holds the checksum; collective outside a phase, so a
  // rank that failed to read cannot leave the others waiting in it
  if (!overlap) in.checksum = mpi::broadcast(in.checksum);
  phase([&] {
    score_problem pb;
    pb.embedding = p.need_e ? &in.embedding : nullptr;
    pb.activity = p.need_a ? &in.activity : nullptr;
    pb.params = {p.mode, opt.threshold, opt.threshold_activity, opt.weight};
    pb.feed = reader ? reader->feed() : nullptr;
    r.params = pb.params;
    const score_options so = scan_options(opt, p, *p.be, in.checksum, store);
    if (p.multi && test_hooks().fail_rank == p.rank)
      CHORUS_THROW(runtime_failure, "test failure injected on rank ", p.rank,
                   " (CHORUS_TEST_FAIL_RANK)");
    auto t = clock_type::now();
    p.be->find_edges(pb, so, r.st);
    if (reader) r.seconds_read += reader->finish(in.info.n);
    r.seconds_score = since(t);
    r.local_edges = static_cast<std::int64_t>(store.size());
    if (!p.multi) return;
    t = clock_type::now();
    const edge_visitor visit = [&store](const auto& fn) { store.for_each_sorted(fn); };
    write_edge_shard(p.shard_tmp, visit, static_cast<std::uint64_t>(r.local_edges));
    if (opt.topk == 0)
      r.roots = !r.st.roots.empty() ? std::move(r.st.roots)
                                    : component_roots(in.info.n, visit, p.threads);
    r.seconds_local = since(t);
  });
  return r;
}

// ---- phase 3: merge ranks ---------------------------------------------------------------------

/// The job's totals over every rank, and each rank's record (rank 0 holds them all).
struct merged {
  std::int64_t pairs = 0, candidates = 0, edges_before_topk = 0, resumed_units = 0, checkpoints = 0;
  bool spilled = false;
  double seconds_score = 0, seconds_merge = 0;
  std::vector<rank_record> ranks;
};

// Multi-process: sums over ranks, the forests meet on rank 0 and the shards take their final
// names. One process: the totals are its own.
merged merge_ranks(const detect_options& opt, const job_plan& p, scored& sc,
                   const edge_store& store, shard_files& shards) {
  merged m;
  m.pairs = mpi::sum(sc.st.pairs);
  m.candidates = mpi::sum(sc.st.candidates);
  m.resumed_units = mpi::sum(sc.st.resumed_units);
  m.checkpoints = mpi::sum(sc.st.checkpoints);
  m.edges_before_topk = mpi::sum(sc.local_edges);
  m.spilled = mpi::sum(store.spilled() ? 1 : 0) > 0;
  m.seconds_score = mpi::max(sc.seconds_score);  // the scoring ends with its slowest rank
  std::uint64_t bytes_sent = 0;
  phase([&] {
    if (!p.multi) return;
    if (m.edges_before_topk > opt.max_edges) throw_too_many_edges(opt.max_edges);
    const auto t = clock_type::now();
    if (opt.topk == 0 && !sc.update) bytes_sent = mpi::merge_forests(sc.roots);
    m.seconds_merge = mpi::max(since(t));
    if (p.keep_shards) shards.rename_final();
  });
  rank_record mine;
  mine.row_begin = sc.row_begin;
  mine.row_end = sc.row_end;
  mine.pairs = sc.st.pairs;
  mine.candidates = sc.st.candidates;
  mine.edges = sc.local_edges;
  mine.seconds_read = sc.seconds_read;
  mine.seconds_score = sc.seconds_score;
  mine.seconds_local = sc.seconds_local;
  mine.bytes_sent = bytes_sent;
  m.ranks = mpi::gather_records(mine);
  return m;
}

// ---- phase 4: components ----------------------------------------------------------------------

/// The kept graph (rank 0): its edges, in memory or streamed, and its components.
struct graph {
  std::vector<edge> edges;  // when in memory
  bool in_memory = false;
  edge_visitor visit;
  std::vector<std::string> shard_paths;
  std::int64_t edge_count = 0;
  std::vector<std::int64_t> labels;
  std::int64_t clusters = 0;
};

// --update: the carried edges and the new ones (this rank's, or every rank's shard) in memory,
// and the components of them all.
void update_components(const detect_options& opt, const job_plan& p, scored& sc, graph& g) {
  g.in_memory = true;
  std::vector<edge> fresh;
  if (p.multi) {
    for (int r = 0; r < p.ranks; ++r)
      g.shard_paths.push_back(edge_shard_path(opt.output, r, p.ranks) + ".tmp");
    visit_shards(g.shard_paths)(
        [&](const edge* e, std::size_t k) { fresh.insert(fresh.end(), e, e + k); });
    std::sort(fresh.begin(), fresh.end(), edge_order);  // each shard is sorted, not their union
  } else {
    fresh = std::move(sc.fresh);
  }
  const std::vector<edge>& carried = sc.update->carried;
  g.edges.resize(fresh.size() + carried.size());
  std::merge(fresh.begin(), fresh.end(), carried.begin(), carried.end(), g.edges.begin(),
             edge_order);
  if (static_cast<std::int64_t>(g.edges.size()) > opt.max_edges)
    throw_too_many_edges(opt.max_edges);
  g.edge_count = static_cast<std::int64_t>(g.edges.size());
  g.visit = visit_vector(g.edges);
  g.labels = canonical_labels(component_roots(sc.in->info.n, g.visit, p.threads), g.clusters);
}

// The kept edges (--topk prunes them) and their components: the merged forest (several
// ranks) or the CUDA backend's union-find already hold the roots of the unpruned graph.
// Filled in place: its edge visitor refers to its own edges.
void find_components(const detect_options& opt, const job_plan& p, scored& sc, edge_store& store,
                     const merged& m, graph& g) {
  if (sc.update) return update_components(opt, p, sc, g);
  for (int r = 0; p.multi && r < p.ranks; ++r)
    g.shard_paths.push_back(edge_shard_path(opt.output, r, p.ranks) +
                            (p.keep_shards ? "" : ".tmp"));
  g.in_memory = opt.topk > 0 || (!p.multi && !store.spilled());
  if (g.in_memory && p.multi)  // --topk needs every edge of an account: the graph lives here
    visit_shards(g.shard_paths)(
        [&](const edge* e, std::size_t k) { g.edges.insert(g.edges.end(), e, e + k); });
  else if (g.in_memory)
    g.edges = store.take_sorted();
  const std::int64_t n = sc.in->info.n;
  if (opt.topk > 0) g.edges = keep_topk(n, g.edges, opt.topk, sc.params);
  g.edge_count = g.in_memory ? static_cast<std::int64_t>(g.edges.size()) : m.edges_before_topk;
  g.visit = g.in_memory ? visit_vector(g.edges)
            : p.multi   ? visit_shards(g.shard_paths)
                        : edge_visitor([&store](const auto& fn) { store.for_each_sorted(fn); });
  std::vector<std::int64_t> roots;
  if (opt.topk > 0 || (!p.multi && sc.st.roots.empty()))
    roots = component_roots(n, g.visit, p.threads);
  else
    roots = std::move(p.multi ? sc.roots : sc.st.roots);
  // the CUDA backend also relabelled on the device (Thrust); the same rule as canonical_labels
  if (!p.multi && opt.topk == 0 && sc.st.clusters >= 0 && !sc.st.labels.empty()) {
    g.clusters = sc.st.clusters;
    g.labels = std::move(sc.st.labels);
  } else {
    g.labels = canonical_labels(roots, g.clusters);
  }
}

// ---- phase 5: cluster statistics and the summary ----------------------------------------------

// An update whose rows mostly changed saves little: say so, and the usual reasons.
void update_warning(const detect_options& opt, detect_summary& s) {
  const update_lineage& u = s.update;
  const std::int64_t kept = u.rows_changed + u.rows_unchanged;
  if (!opt.write_edges)
    s.warnings.push_back(
        "--no-edges: these results cannot serve as --update for the next run "
        "(an update needs every edge of the run it builds on)");
  if (u.rows_new > 0 && u.rows_new >= 10 * std::max<std::int64_t>(kept, 1) / 9 &&
      u.rows_new + kept >= 100)
    s.warnings.push_back(std::to_string(u.rows_new) + " of the " +
                         std::to_string(u.rows_new + kept) +
                         " accounts are new to the previous run ('" + u.previous +
                         "'), so the update saved little: is it the results of an earlier "
                         "version of this input?");
  if (kept < 100 || 2 * u.rows_changed <= kept) return;
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%",
                100.0 * static_cast<double>(s.pairs) /
                    static_cast<double>(std::max<std::int64_t>(u.pairs_full, 1)));
  s.warnings.push_back(
      std::to_string(u.rows_changed) + " of the " + std::to_string(kept) +
      " accounts the previous run also had changed their rows, so this update scored " + pct +
      " of a full run's pairs" +
      (opt.transform == activity_transform::tfidf
           ? std::string(": --activity-transform tfidf weighs every bin by how many accounts "
                         "post in it, so every row changes when accounts join or leave")
           : std::string(": did the vectors get recomputed? (chorus ingest fits its content model "
                         "to the whole corpus: a re-ingest changes every embedding row)")));
}

// What every rank reports of the job.
detect_summary summarise(const detect_options& opt, const job_plan& p, const scored& sc,
                         const merged& m) {
  detect_summary s;
  s.input = opt.memory ? opt.memory->name : opt.input;
  s.output = opt.output;
  s.backend = p.be->name();
  s.view = to_string(p.mode);
  s.threshold = opt.threshold;
  s.threshold_activity = opt.threshold_activity;
  s.weight = opt.weight;
  s.transform = to_string(opt.transform);
  s.topk = opt.topk;
  s.threads = p.worker_threads();
  s.accounts = sc.in->info.n;
  s.pairs = m.pairs;
  s.candidates = m.candidates;
  s.precision_used = to_string(sc.st.used);
  s.resumed_units = m.resumed_units;
  s.checkpoints = m.checkpoints;
  s.detail = sc.st.detail;
  s.edges_before_topk = m.edges_before_topk;
  s.spilled = m.spilled;
  s.ranks = p.ranks;
  s.seconds_read = sc.seconds_read;
  s.seconds_score = m.seconds_score;
  s.seconds_merge = m.seconds_merge;
  s.checksum = sc.in->checksum;
  s.invalid_embedding = sc.in->embedding.invalid_rows;
  s.invalid_activity = sc.in->activity.invalid_rows;
  s.min_activity = p.need_a ? opt.min_activity : 0;
  s.below_min_activity = sc.in->below_min_activity;
  s.warnings = p.warnings;
  s.rank_records = m.ranks;
  if (sc.update) {
    s.update = sc.lineage;
    update_warning(opt, s);
  }
  return s;
}

// Rank 0's cluster figures: sizes (largest first) and the match with planted truth.
void summarise_clusters(detect_summary& s, const scored& sc, const graph& g,
                        const cluster_table& table) {
  s.edges = g.edge_count;
  if (sc.update) s.edges_before_topk = g.edge_count;  // the carried edges too (no --topk)
  s.clusters = g.clusters;
  for (std::int64_t c = 0; c < g.clusters; ++c) s.clustered_accounts += table.size[c];
  s.largest_cluster = g.clusters ? table.size[0] : 0;
  for (std::int64_t c = 0; c < std::min<std::int64_t>(g.clusters, 20); ++c)
    s.cluster_sizes.push_back(table.size[c]);
  s.has_truth = !sc.in->truth.empty();
  if (s.has_truth) s.truth = match_truth(g.labels, g.clusters, sc.in->truth);
}

// A view that cannot give any edge ends the run (unless --allow-empty-view); one that loses
// more than a tenth of its rows is a warning. Rank 0 holds every row.
void check_views_usable(const detect_options& opt, const job_plan& p, const scored& sc,
                        detect_summary& s) {
  const std::int64_t n = sc.in->info.n;
  auto check = [&](const char* name, std::int64_t invalid, const char* why) {
    if (n == 0) return;
    CHORUS_EXPECTS(invalid < n || opt.allow_empty_view, "no account can get an edge in --view ",
                   to_string(p.mode), ": every ", name, " row is ", why,
                   "; check the input (or pass --allow-empty-view to write empty results)");
    if (static_cast<double>(invalid) > defaults::invalid_share_warning * static_cast<double>(n)) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * static_cast<double>(invalid) / n);
      s.warnings.push_back(std::to_string(invalid) + " of " + std::to_string(n) + " accounts (" +
                           pct + ") cannot get edges in --view " + to_string(p.mode) + ": their " +
                           name + " row is " + why + "; they are left out of every network");
    }
  };
  if (p.need_e) check("/embedding", sc.in->embedding.invalid_rows, "zero");
  if (p.need_a) {
    const std::string why = "constant (zero variance) or below --min-activity " +
                            std::to_string(static_cast<long long>(opt.min_activity)) + " posts (" +
                            std::to_string(sc.in->below_min_activity) + " accounts)";
    check("/activity", sc.in->activity.invalid_rows, why.c_str());
  }
}

// ---- phase 6: write the results file ----------------------------------------------------------

/// The run's facts the results file records as root attributes.
run_facts results_facts(const detect_options& opt, const job_plan& p, const scored& sc,
                        const detect_summary& s) {
  run_facts f;
  f.input_path = p.input_path;
  f.input_size = sc.in->info.file_size;
  f.input_checksum = hex64(sc.in->checksum);
  f.accounts = sc.in->info.n;
  f.embedding_dim = sc.in->info.dim;
  f.activity_bins = sc.in->info.bins;
  f.view = s.view;
  f.threshold = opt.threshold;
  f.threshold_activity = opt.threshold_activity;
  f.weight = opt.weight;
  f.activity_transform = s.transform;
  f.topk = opt.topk;
  f.max_edges = opt.max_edges;
  f.backend = s.backend;
  f.precision_requested = to_string(opt.prec);
  f.precision_used = s.precision_used;
  f.gpu_kernel_requested = to_string(opt.kernel);
  f.backend_detail = s.detail;
  f.device = opt.device;
  f.threads = p.worker_threads();
  f.ranks = p.ranks;
  f.tile_rows = opt.tile_rows;
  f.tile_cols = opt.tile_cols;
  f.pairs = s.pairs;
  f.candidates = s.candidates;
  f.edges_before_topk = s.edges_before_topk;
  f.edges = s.edges;
  f.edges_written = opt.write_edges ? s.edges : 0;
  f.max_memory_mib = opt.max_memory_mib;
  f.edges_spilled = s.spilled;
  f.clusters = s.clusters;
  f.invalid_embedding_rows = s.invalid_embedding;
  f.invalid_activity_rows = s.invalid_activity;
  f.min_activity = s.min_activity;
  f.below_min_activity = s.below_min_activity;
  f.seconds_read = s.seconds_read;
  f.seconds_score = s.seconds_score;
  f.seconds_components = s.seconds_components;
  return f;
}

// The input file's root attribute `date` (a day of a campaign series), or "".
std::string input_date(const std::string& path) {
  try {
    std::string date;
    return h5::get_attr(h5::open_read(path), "date", date) ? date : std::string();
  } catch (const error&) {
    return std::string();  // a date is a label: its absence or type is no error
  }
}

double write_results_file(const detect_options& opt, const job_plan& p, const scored& sc,
                          const graph& g, const cluster_table& table, const detect_summary& s,
                          const significance::result* sig) {
  const auto t = clock_type::now();
  results_content rc;
  rc.labels = &g.labels;
  rc.ids = &sc.in->ids;
  rc.row_checksums = &sc.checksums;
  const std::vector<edge> none;
  if (!opt.write_edges) {
    rc.edges = &none;
  } else if (g.in_memory) {
    rc.edges = &g.edges;
  } else if (p.multi) {
    for (int r = 0; r < p.ranks; ++r)
      rc.edge_shards.emplace_back(base_name(g.shard_paths[r]),
                                  static_cast<std::uint64_t>(s.rank_records[r].edges));
  } else {
    rc.edge_stream = g.visit;
    rc.edge_count = static_cast<std::uint64_t>(s.edges);
  }
  rc.clusters = &table;
  if (opt.evidence && opt.write_edges) rc.evidence_input = p.input_path;
  rc.evidence_memory = opt.memory;
  rc.truth = s.has_truth ? &s.truth : nullptr;
  run_facts facts = results_facts(opt, p, sc, s);
  if (s.has_truth) facts.truth = &s.truth;
  facts.row_checksums = true;
  if (sc.update) facts.update = &s.update;
  if (!opt.memory) facts.input_date = input_date(opt.input);
  rc.attributes = results_attributes(facts);
  rc.ranks = &s.rank_records;
  if (sig)
    rc.extra = [&](const h5::handle& f) { significance::write(f, *sig, s.significance_period); };
  write_results(opt.output, rc);
  return since(t);
}

// ---- phase 7: clean up ------------------------------------------------------------------------

// The results stand: drop what only served the run.
void clean_up(const detect_options& opt, const job_plan& p, shard_files& shards) {
  if (p.multi && !p.keep_shards) std::remove(p.shard_tmp.c_str());
  shards.keep();
  if (opt.checkpoint_dir.empty()) return;
  remove_checkpoint(p.checkpoint_dir);
  if (!p.multi) return;
  mpi::agree(nullptr);  // every rank's checkpoint is gone before the directory goes
  if (p.rank == 0) ::rmdir(opt.checkpoint_dir.c_str());
}

}  // namespace

detect_summary run_detect(const detect_options& opt) {
  CHORUS_EXPECTS(!opt.edges.empty() || std::find(opt.options_given.begin(), opt.options_given.end(),
                                                 "--edges") == opt.options_given.end(),
                 "--edges is empty (an unset shell variable?); give an expression such as "
                 "\"co_repost>=5 | (embedding & activity)\"");
  CHORUS_EXPECTS(!opt.memory || (opt.edges.empty() && !coaction::is_view_name(opt.view)),
                 "the co-action views and --edges need posts: ingest them first (chorus ingest, "
                 "or chorus.ingest in Python) and run on that input");
  CHORUS_EXPECTS(opt.update.empty() || (opt.edges.empty() && !coaction::is_view_name(opt.view)),
                 "--update serves the dense views (embedding, activity, both, fused), not ",
                 opt.edges.empty() ? "--view " + opt.view : std::string("--edges"),
                 opt.edges.empty()
                     ? ": a co-action run reads only the posts and is fast enough to repeat in full"
                     : ": run the expression in full (its co-action terms read the posts)");
  if (!opt.edges.empty()) job_support::check_significance_request(opt, false);
  if (!opt.edges.empty()) return run_combined(opt);
  if (coaction::is_view_name(opt.view)) return run_coaction(opt);
  for (const char* o : {"--window", "--min-weight", "--evidence-cap", "--similarity"})
    for (const std::string& g : opt.options_given)
      CHORUS_EXPECTS(g != o, o,
                     " applies to the co-action views (--view co_repost, co_text, "
                     "co_link, co_reply, co_hashtag, co_post), not to --view ",
                     opt.view);
  const auto t_start = clock_type::now();
  const job_plan plan = plan_job(opt);
  shard_files shards(plan);
  // the edge list: in memory up to what --max-memory leaves, spilled to sorted runs on disk
  // (next to the output; ranks on different nodes may share a pid: the rank is in the name)
  std::uint64_t cap_edges = 0;
  if (opt.max_memory_mib > 0)
    cap_edges = std::max<std::uint64_t>(
        ((opt.max_memory_mib << 20) - plan.fixed_bytes) / (3 * sizeof(edge)), 1 << 12);
  edge_store store(cap_edges, dir_name(opt.output) + "/.chorus-spill-" + std::to_string(getpid()) +
                                  (plan.multi ? "-r" + std::to_string(plan.rank) : std::string()));
  scored sc = read_and_score(opt, plan, store);
  const merged m = merge_ranks(opt, plan, sc, store, shards);
  detect_summary s = summarise(opt, plan, sc, m);
  phase([&] {  // components, cluster tables and the results file: rank 0
    if (plan.rank != 0) return;
    check_stop(opt, "finding the components");
    check_views_usable(opt, plan, sc, s);
    const auto t = clock_type::now();
    graph g;
    find_components(opt, plan, sc, store, m, g);
    const cluster_table table =
        cluster_statistics(g.labels, g.clusters, g.visit, plan.need_a ? &sc.in->activity : nullptr);
    // the next run's --update compares these (rank 0 holds every row)
    if (sc.checksums.empty()) sc.checksums = row_checksums(*sc.in, plan.need_e, plan.need_a);
    summarise_clusters(s, sc, g, table);
    s.seconds_components = since(t) + m.seconds_merge;
    significance::result sig;
    if (opt.significance > 0)
      sig = job_support::dense_significance(opt, plan.mode, *sc.in, table, plan.null_period, s);
    check_stop(opt, "writing the results");
    s.seconds_write =
        write_results_file(opt, plan, sc, g, table, s, opt.significance > 0 ? &sig : nullptr);
  });
  clean_up(opt, plan, shards);
  s.seconds_total = since(t_start);
  return s;
}

}  // namespace chorus
