// chorus: the scan driver. One loop for every backend: work units and their order, waiting for
// rows still being read, batches, checkpoint resume and save, stop requests, --max-edges, the
// edge sink, progress and the final sort. Backends only score (chorus/scan/backend.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "chorus/core/error.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/scan/tiling.hpp"

namespace chorus {

/// The state of one find_edges call: the run's options, its plan and what it has kept so far.
/// It is also the handler the backend reports to.
struct backend::scan final : scan_results {
  using clock = std::chrono::steady_clock;

  backend& be;
  const score_problem& pb;
  const score_options& opt;
  score_stats& stats;
  scan_range range;
  scan_plan plan;
  std::vector<edge> edges;  // the result when there is no sink
  std::unique_ptr<checkpoint> ckpt;
  checkpoint_state cstate;
  std::vector<std::uint8_t> done;  // per unit: taken from a checkpoint
  std::vector<std::int64_t> todo;  // units to score, in the order they run
  std::mutex mu;                   // guards what backend threads report into
  // What some batches reported: their finished units, the units' candidates and, in a
  // checkpointed run, their edges (held until a checkpoint has them).
  struct report {
    std::vector<edge> edges;
    std::vector<std::int64_t> units;
    std::int64_t candidates = 0;
  };
  std::map<std::int64_t, report> in_flight;  // per batch not yet collected
  report pending;                            // collected since the last checkpoint
  std::int64_t kept = 0;                     // edges of the result so far (resumed, kept, held)
  std::int64_t done_pairs = 0;
  std::int64_t candidates = 0;     // of the whole run: those of resumed units included
  std::int64_t filled = 0;         // rows handed to rows_ready_ so far: [begin, filled)
  const row_feed* feed = nullptr;  // rows still arriving
  std::atomic<bool> over{false};
  bool interrupted = false;
  clock::time_point last_ckpt = clock::now();

  scan(backend& b, const score_problem& p, const score_options& o, score_stats& s)
      : be(b), pb(p), opt(o), stats(s) {}

  // The run's stop request, for waits (never, when the options carry none).
  std::function<bool()> stop_fn() const {
    if (opt.stop) return opt.stop;
    return [] { return false; };
  }

  // Edges that joined the result (persisted in a checkpoint, or nothing is persisted).
  void keep(std::vector<edge>& es) {
    if (opt.sink)
      opt.sink->append(es);
    else
      edges.insert(edges.end(), es.begin(), es.end());
    std::vector<edge>().swap(es);
  }

  bool add_edges(std::int64_t batch, std::vector<edge>& es) override {
    std::lock_guard<std::mutex> lock(mu);
    kept += static_cast<std::int64_t>(es.size());
    if (kept > opt.max_edges) over = true;
    if (over) {
      es.clear();
      return false;
    }
    if (!ckpt) {
      keep(es);  // nothing to keep consistent with a checkpoint: hand the edges over now
      return true;
    }
    auto& h = in_flight[batch].edges;
    h.insert(h.end(), es.begin(), es.end());
    es.clear();
    return true;
  }

  void unit_done(std::int64_t batch, std::int64_t unit, std::int64_t cand) override {
    std::lock_guard<std::mutex> lock(mu);
    candidates += cand;
    done_pairs += plan.pairs(unit);
    report& r = in_flight[batch];
    r.units.push_back(unit);
    r.candidates += cand;
  }

  void open_checkpoint() {
    if (opt.checkpoint_dir.empty()) return;
    CHORUS_EXPECTS(plan.no_checkpoint.empty(), plan.no_checkpoint);
    ckpt = std::make_unique<checkpoint>(opt.checkpoint_dir, opt.identity + " " + plan.geometry,
                                        plan.units);
    std::vector<edge> resumed;
    if (!ckpt->resume(cstate, resumed, opt.resume)) return;
    done = cstate.done;
    for (std::int64_t u = 0; u < plan.units; ++u)
      if (done[u]) ++stats.resumed_units, done_pairs += plan.pairs(u);
    candidates += cstate.candidates;  // the resumed units' share of the run's candidates
    be.absorb_(resumed);
    kept += static_cast<std::int64_t>(resumed.size());
    keep(resumed);
  }

  // Units to score; while rows are still arriving, in order of the rows they need (stable, so
  // units needing the same rows keep their number order).
  void order_units() {
    for (std::int64_t u = 0; u < plan.units; ++u)
      if (!done[u]) todo.push_back(u);
    feed = pb.feed && pb.feed->ready() < range.n ? pb.feed : nullptr;
    filled = range.begin;
    if (feed && !plan.rows_upto) {  // every unit needs every row: wait for them first
      if (!wait_rows(feed, range.n, stop_fn())) throw_interrupted(0, stats.pairs, false);
      feed = nullptr;
    }
    if (feed) {
      std::stable_sort(todo.begin(), todo.end(), [this](std::int64_t a, std::int64_t b) {
        return plan.rows_upto(a) < plan.rows_upto(b);
      });
    } else {
      be.rows_ready_(filled, range.n);
      filled = range.n;
    }
  }

  // The rows batch [pos, end) of `todo` reads are there and prepared.
  void rows_for(std::size_t pos, std::size_t end) {
    if (!feed) return;
    std::int64_t need = filled;
    for (std::size_t k = pos; k < end; ++k)
      need = std::max(need, std::min(range.n, plan.rows_upto(todo[k])));
    if (need <= filled) return;
    if (!wait_rows(feed, need, stop_fn())) {  // rethrows the reader's failure
      interrupted = true;
      return;
    }
    be.rows_ready_(filled, need);
    filled = need;
  }

  // Batch `id` has reported everything: its units and edges become pending; checkpoint when
  // due (the last batch collected, also after a stop, or the interval).
  void collected(std::int64_t id, bool last) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = in_flight.find(id);
      if (it != in_flight.end()) {
        report& r = it->second;
        pending.edges.insert(pending.edges.end(), r.edges.begin(), r.edges.end());
        pending.units.insert(pending.units.end(), r.units.begin(), r.units.end());
        pending.candidates += r.candidates;
        in_flight.erase(it);
      }
    }
    if (opt.stop && opt.stop()) interrupted = true;
    if (opt.progress) opt.progress(done_pairs, stats.pairs);
    if (!ckpt) pending = report{};  // its edges were kept as they came
    if (over || !ckpt || pending.units.empty()) return;
    const double since = std::chrono::duration<double>(clock::now() - last_ckpt).count();
    if (!(last || since >= opt.checkpoint_interval)) return;
    std::sort(pending.units.begin(), pending.units.end());
    ckpt->save(cstate, pending.units, pending.edges, pending.candidates);
    ++stats.checkpoints;
    last_ckpt = clock::now();
    keep(pending.edges);
    pending = report{};
  }

  // Batches in order; with plan.depth > 0 the next batch is submitted before the previous one
  // is collected. Batches in flight when the scan stops still finish and count.
  void run_batches() {
    const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(plan.batch_units, 1));
    const std::int64_t batches = static_cast<std::int64_t>((todo.size() + step - 1) / step);
    std::int64_t submitted = 0, oldest = 0;
    for (std::size_t pos = 0; pos < todo.size() && !over && !interrupted; pos += step) {
      const std::size_t end = std::min(todo.size(), pos + step);
      rows_for(pos, end);
      if (interrupted) break;
      scan_batch b;
      b.id = submitted++;
      b.units.assign(todo.begin() + static_cast<std::ptrdiff_t>(pos),
                     todo.begin() + static_cast<std::ptrdiff_t>(end));
      b.results = this;
      be.submit_(b);
      while (submitted - oldest > plan.depth) {
        be.collect_();
        const std::int64_t id = oldest++;
        collected(id, submitted == batches && oldest == submitted);
      }
    }
    while (oldest < submitted) {
      be.collect_();
      const std::int64_t id = oldest++;
      collected(id, oldest == submitted);
    }
    // stopped (a signal, or while waiting for rows): what finished since the last checkpoint
    // is saved once, after the batches in flight
    if (interrupted && ckpt && !over && !pending.units.empty()) collected(submitted, true);
  }
};

std::vector<edge> backend::find_edges(const score_problem& pb, const score_options& opt,
                                      score_stats& stats) {
  const auto t0 = std::chrono::steady_clock::now();
  CHORUS_EXPECTS(opt.tile_rows > 0 && opt.tile_cols > 0 && opt.tile_cols % opt.tile_rows == 0,
                 "tile columns must be a positive multiple of tile rows");
  CHORUS_EXPECTS(!pb.uses_embedding() || (pb.embedding && pb.embedding->present()),
                 "this view mode needs the embedding view");
  CHORUS_EXPECTS(!pb.uses_activity() || (pb.activity && pb.activity->present()),
                 "this view mode needs the activity view");
  scan sc(*this, pb, opt, stats);
  const std::int64_t n = pb.n();
  sc.range.n = n;
  sc.range.begin = std::min(std::max<std::int64_t>(opt.row_begin, 0), n);
  sc.range.end = opt.row_end < 0 ? n : std::min(std::max(opt.row_end, sc.range.begin), n);
  CHORUS_EXPECTS((!pb.uses_embedding() || pb.embedding->first <= sc.range.begin) &&
                     (!pb.uses_activity() || pb.activity->first <= sc.range.begin),
                 "the views do not hold the rows this run decides");
  configure_(pb, opt, sc.range, stats);
  stats.pairs = tiling::rows_pairs(sc.range.begin, sc.range.end, n);
  if (stats.pairs == 0) return {};

  sc.plan = plan_();
  sc.done.assign(static_cast<std::size_t>(sc.plan.units), 0);
  sc.open_checkpoint();
  sc.order_units();
  sc.run_batches();
  if (sc.over) throw_too_many_edges(opt.max_edges);
  if (sc.interrupted) throw_interrupted(sc.done_pairs, stats.pairs, sc.ckpt != nullptr);
  finish_(stats);
  if (opt.progress) opt.progress(stats.pairs, stats.pairs);
  std::sort(sc.edges.begin(), sc.edges.end(), edge_order);
  stats.candidates = sc.candidates;
  stats.edges = static_cast<std::int64_t>(opt.sink ? opt.sink->size() : sc.edges.size());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(sc.edges);
}

}  // namespace chorus
