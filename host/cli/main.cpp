// chorus: command-line interface (generate, ingest, detect, export, keygen, report, info, demo,
// track).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/core/text.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/generate/posts.hpp"
#include "chorus/generate/series.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/mpi.hpp"
#include "chorus/job/progress.hpp"
#include "chorus/job/summary.hpp"
#include "chorus/outputs/export.hpp"
#include "chorus/outputs/info.hpp"
#include "chorus/outputs/pseudonym.hpp"
#include "chorus/outputs/report.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/track/track.hpp"
#include "chorus/version.hpp"
#include "ingest_command.hpp"

namespace {

// --json anywhere on the command line: errors are also a JSON object on stdout, so a pipeline
// that reads the summary never reads an empty string.
bool g_json = false;

int fail(int code, const std::string& msg) {
  // in a multi-process job every rank ends with the agreed error; rank 0 says it once
  if (chorus::mpi::rank() == 0) {
    std::fprintf(stderr, "chorus: error: %s\n", msg.c_str());
    if (g_json)
      std::printf("{\"error\":{\"code\":%d,\"message\":%s}}\n", code,
                  chorus::json_quote(msg).c_str());
  }
  return code;
}

// A numeric option's accepted range, with a message that says it in words.
CLI::Validator within(double lo, double hi, const std::string& what) {
  return CLI::Validator(
      [lo, hi, what](std::string& v) -> std::string {
        double x = 0;
        std::size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != v.size() || !(x >= lo && x <= hi)) return "'" + v + "' is not " + what;
        return "";
      },
      what);
}

// A random seed: any 64-bit unsigned value (a negative one would wrap around).
CLI::Validator seed_range() {
  return within(0, 18446744073709551615.0, "a seed from 0 to 2^64 - 1");
}

// The closest of `names` to `word`, when it is close enough to be a likely typo.
std::string closest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  std::size_t bd = word.size() / 3 + 2;  // a few edits, more for long words
  for (const auto& n : names) {
    const std::size_t dd = chorus::edit_distance(word, n);
    if (dd < bd) bd = dd, best = n;
  }
  return best;
}

// A parse error in words a user can act on: an unknown option or command with the name meant,
// and where to look.
std::string explain_parse_error(const CLI::App& app, const CLI::ParseError& e, int argc,
                                char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  std::vector<std::string> commands;
  const CLI::App* sub = nullptr;
  for (const CLI::App* s : app.get_subcommands({})) {
    commands.push_back(s->get_name());
    if (s->get_name() == first) sub = s;
  }
  if (!sub && !first.empty() && first[0] != '-') {
    const std::string guess = closest(first, commands);
    return "unknown command '" + first + "'" +
           (guess.empty() ? "" : "; did you mean " + guess + "?") + " (see chorus --help)";
  }
  if (!sub) return std::string(e.what()) + " (see chorus --help)";
  std::vector<std::string> names;
  for (const CLI::Option* o : sub->get_options({}))
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
  for (int k = 2; k < argc; ++k) {
    std::string a = argv[k];
    if (a.rfind("--", 0) != 0) continue;
    a = a.substr(0, a.find('='));
    if (std::find(names.begin(), names.end(), a) != names.end()) continue;
    const std::string guess = closest(a, names);
    return "unknown option " + a + (guess.empty() ? "" : "; did you mean " + guess + "?") +
           " (see chorus " + first + " --help)";
  }
  return std::string(e.what()) + " (see chorus " + first + " --help)";
}

// generate
struct generate_command {
  chorus::generate_options opt;
  chorus::posts_options posts;
  bool posts_mode = false;
  bool quiet = false, no_handles = false;
  CLI::App* app = nullptr;
};

void add_generate(CLI::App& app, generate_command& c) {
  chorus::generate_options& g = c.opt;
  auto* gen =
      app.add_subcommand("generate", "write a synthetic election data set with planted clusters");
  gen->add_option("--accounts", g.accounts, "number of accounts N")
      ->check(within(0, 1099511627775.0, "a number of accounts from 0 to 2^40 - 1"))
      ->required();
  gen->add_option("--dim", g.dim,
                  "embedding dimension d (0: no /embedding; a --days series: 64 unless given)")
      ->check(within(0, 65536, "an embedding dimension from 0 to 65536"))
      ->capture_default_str();
  gen->add_option("--bins", g.bins,
                  "activity time bins T (0: no /activity; a --days series: 24 D unless given)")
      ->check(within(0, 1048576, "a number of time bins from 0 to 2^20"))
      ->capture_default_str();
  gen->add_option("--clusters", g.clusters,
                  "planted coordinated clusters (a --days series: campaigns on day 1, 8 unless "
                  "given)")
      ->check(within(0, 2147483647.0, "a number of clusters from 0 to 2^31 - 1"))
      ->capture_default_str();
  gen->add_option("--seed", g.seed, "random seed")->check(seed_range())->capture_default_str();
  gen->add_option("--out", g.out, "output HDF5 file")->required();
  gen->add_flag("--force", g.force, "overwrite an existing output");
  gen->add_flag("--quiet", c.quiet, "no progress bar");
  gen->add_flag("--no-handles", c.no_handles, "do not write /accounts/handle");
  gen->add_flag("--posts", c.posts_mode,
                "write a posts corpus (CSV in the QUT toolkit's layout, .gz/.zst by name) and "
                "its truth CSV instead of vectors");
  gen->add_option("--days", c.posts.days,
                  "--posts: days covered (default 14); without --posts: write a campaign series "
                  "of D daily input files (2-60; OUT.day01.h5 ... and OUT.events.csv, see "
                  "datasets/GENERATOR.md)")
      ->check(within(1, 3660, "a number of days from 1 to 3660"));
  gen->add_option("--campaigns", c.posts.campaigns, "--posts: planted coordinated campaigns")
      ->check(within(0, 100000, "a number of campaigns from 0 to 100000"))
      ->capture_default_str();
  gen->add_option("--posts-per-account", c.posts.posts_per_account,
                  "--posts: mean posts per organic account")
      ->check(within(1, 100000, "a mean from 1 to 100000"))
      ->capture_default_str();
  gen->add_option("--truth-out", c.posts.truth_out,
                  "--posts: truth CSV (default: next to --out, ending .truth.csv)");
  gen->add_option("--threads", c.posts.threads, "--posts: worker threads (0: all cores)")
      ->check(within(0, 4096, "a number of threads from 0 to 4096"))
      ->capture_default_str();
  c.app = gen;
}

// Options of one generate mode given to the other are mistakes, never silently ignored.
void check_generate_mode(const generate_command& c) {
  const char* vec_only[] = {"--dim", "--bins", "--clusters", "--no-handles"};
  // --days is valid in both modes: days of posts, or a series of daily files (vector mode)
  const char* posts_only[] = {"--campaigns", "--posts-per-account", "--truth-out", "--threads"};
  if (c.posts_mode) {
    for (const char* o : vec_only)
      if (c.app->count(o))
        CHORUS_THROW(chorus::input_error, "generate --posts does not take ", o,
                     " (it writes posts; chorus ingest makes the vectors)");
  } else {
    for (const char* o : posts_only)
      if (c.app->count(o)) CHORUS_THROW(chorus::input_error, o, " needs --posts (a posts corpus)");
  }
}

int run_generate_posts(generate_command& c) {
  chorus::posts_options& p = c.posts;
  p.accounts = c.opt.accounts;
  p.seed = c.opt.seed;
  p.out = c.opt.out;
  p.force = c.opt.force;
  chorus::progress_bar bar(!c.quiet);
  auto s = chorus::generate_posts(
      p, [&](double f) { bar.update("generate", static_cast<std::int64_t>(f * 1000), 1000); });
  bar.finish();
  if (!c.quiet)
    std::fprintf(stderr,
                 "wrote %s: %lld posts by %lld accounts, %lld coordinated in %zu campaigns, "
                 "%lld fans (decoys), %lld news bots (decoys)\n",
                 p.out.c_str(), static_cast<long long>(s.posts), static_cast<long long>(s.accounts),
                 static_cast<long long>(s.coordinated), s.campaign_sizes.size(),
                 static_cast<long long>(s.fans), static_cast<long long>(s.news_bots));
  return 0;
}

// A campaign series (--days without --posts): D daily files and the planted events.
int run_generate_series(generate_command& c) {
  chorus::series_options o;
  o.accounts = c.opt.accounts;
  if (c.app->count("--dim")) o.dim = c.opt.dim;  // else the series' own defaults
  if (c.app->count("--bins")) o.bins = c.opt.bins;
  if (c.app->count("--clusters")) o.clusters = c.opt.clusters;
  o.seed = c.opt.seed;
  o.days = c.posts.days;
  o.out = c.opt.out;
  o.force = c.opt.force;
  o.handles = !c.no_handles;
  chorus::progress_bar bar(!c.quiet);
  auto s = chorus::generate_series(
      o, [&](double f) { bar.update("generate", static_cast<std::int64_t>(f * 1000), 1000); });
  bar.finish();
  if (!c.quiet)
    std::fprintf(stderr,
                 "wrote %zu daily files %s ... %s (%s to %s): %lld accounts on day 1, %lld on "
                 "day %zu; %zu planted events in %s\n",
                 s.days.size(), s.days.front().path.c_str(), s.days.back().path.c_str(),
                 s.days.front().date.c_str(), s.days.back().date.c_str(),
                 static_cast<long long>(s.days.front().accounts),
                 static_cast<long long>(s.days.back().accounts), s.days.size(), s.events.size(),
                 s.events_path.c_str());
  // --force over a longer series leaves its later days: they are not of this series
  const std::vector<std::string> longer = chorus::series_paths(o.out, 60);
  std::string stale;
  for (std::size_t d = static_cast<std::size_t>(o.days); d + 1 < longer.size(); ++d)
    if (::access(longer[d].c_str(), F_OK) == 0) stale += (stale.empty() ? "" : ", ") + longer[d];
  if (!stale.empty())
    std::fprintf(stderr, "chorus: WARNING: %s remain from an earlier series (not of this one)\n",
                 stale.c_str());
  return 0;
}

int run_generate(generate_command& c) {
  check_generate_mode(c);
  if (c.posts_mode) return run_generate_posts(c);
  if (c.app->count("--days")) return run_generate_series(c);
  chorus::generate_options& g = c.opt;
  g.handles = !c.no_handles;
  chorus::progress_bar bar(!c.quiet);
  auto s = chorus::generate_dataset(
      g, [&](double f) { bar.update("generate", static_cast<std::int64_t>(f * 1000), 1000); });
  bar.finish();
  if (!c.quiet)
    std::fprintf(stderr,
                 "wrote %s: %lld accounts, %lld coordinated in %zu clusters, %lld topic "
                 "decoys, %lld timing decoys\n",
                 g.out.c_str(), static_cast<long long>(s.accounts),
                 static_cast<long long>(s.coordinated), s.cluster_sizes.size(),
                 static_cast<long long>(s.topic_decoys), static_cast<long long>(s.timing_decoys));
  return 0;
}

// detect
struct detect_command {
  chorus::detect_options opt;
  std::string view = "auto", transform = "none", backend = "auto", prec = "auto";
  std::string kernel = "auto";
  bool json = false, quiet = false, no_edges = false, no_evidence = false;
  CLI::App* app = nullptr;
};

// detect's input, output and scoring options
void add_detect_scoring(CLI::App* det, detect_command& c) {
  chorus::detect_options& d = c.opt;
  det->add_option("--input", d.input, "input HDF5 file (datasets/SCHEMA.md)")->required();
  det->add_option("--out", d.output, "results HDF5 file")->required();
  det->add_option("--view", c.view,
                  "embedding|activity|both|fused (auto: both when the input has both views), or "
                  "a co-action view "
                  "co_repost|co_text|co_link|co_reply|co_hashtag|co_post|co_similar (inputs "
                  "of chorus ingest)")
      ->capture_default_str();
  det->add_option("--edges", d.edges,
                  "an expression over views, each with its own threshold, e.g. "
                  "\"co_repost>=5 | (embedding & activity)\" (& binds tighter than |; a term "
                  "without >=value takes --threshold, --threshold-activity or --min-weight)");
  det->add_option("--window", d.window,
                  "co-action views: seconds within which two posts share an object (inclusive)")
      ->check(within(0, 31622400, "a number of seconds from 0 to 31622400 (a year)"))
      ->capture_default_str();
  det->add_option("--min-weight", d.min_weight,
                  "co-action views: an edge needs this many co-actions in one direction")
      ->check(within(1, 1e15, "a count of at least 1"))
      ->capture_default_str();
  det->add_option("--similarity", d.similarity,
                  "co_similar: Jaccard similarity of two posts' token sets at least this")
      ->check(within(1e-9, 1, "a Jaccard similarity in (0, 1]"))
      ->capture_default_str();
  det->add_option("--evidence-cap", d.evidence_cap,
                  "co-action views: post pairs kept as evidence per edge (all are counted)")
      ->check(within(0, 1e9, "a count from 0 to 10^9"))
      ->capture_default_str();
  det->add_option("--threshold", d.threshold,
                  "embedding (or fused) similarity threshold in [-1, 1]")
      ->capture_default_str();
  det->add_option("--threshold-activity", d.threshold_activity,
                  "activity correlation threshold in [-1, 1]")
      ->capture_default_str();
  det->add_option("--weight", d.weight, "fused: weight of the embedding view in [0, 1]")
      ->capture_default_str();
  det->add_option("--activity-transform", c.transform, "none|log1p|tfidf")->capture_default_str();
  det->add_option("--min-activity", d.min_activity,
                  "activity views: leave out accounts with fewer posts in all bins (a sparse row "
                  "correlates perfectly by chance)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e12));
  det->add_flag("--allow-empty-view", d.allow_empty_view,
                "write results even when no account can get an edge in the chosen view");
  det->add_option("--topk", d.topk, "keep each account's k strongest edges (0: all)")
      ->capture_default_str();
  det->add_option("--max-edges", d.max_edges, "stop with exit code 3 beyond this many edges")
      ->capture_default_str();
  det->add_option("--threads", d.threads, "worker threads (0: all cores)")->capture_default_str();
  det->add_option("--backend", c.backend, "auto|cpu|cuda")->capture_default_str();
  det->add_option("--precision", c.prec,
                  "first-pass precision auto|fp32|bf16|int8 (results are exact for all)")
      ->capture_default_str();
}

// detect's memory, checkpoint, device and tiling options
void add_detect_resources(CLI::App* det, detect_command& c) {
  // memory caps in MiB up to 2^40 (an exbibyte): anything larger is a typo
  const CLI::Validator kMiB = within(0, 1099511627776.0, "a size in MiB from 0 to 2^40");
  chorus::detect_options& d = c.opt;
  det->add_option("--max-memory", d.max_memory_mib,
                  "host memory cap in MiB; the edge list spills to disk past it (0: none)")
      ->check(kMiB)
      ->capture_default_str();
  det->add_option("--checkpoint", d.checkpoint_dir,
                  "persist progress in this directory (atomic writes)");
  det->add_option("--checkpoint-interval", d.checkpoint_interval, "seconds between checkpoints")
      ->capture_default_str();
  det->add_flag("--resume", d.resume,
                "continue from the --checkpoint directory after a crash or a stop");
  det->add_option("--device", d.device, "CUDA device ordinal")
      ->check(within(0, 4095, "a device ordinal from 0 to 4095"))
      ->capture_default_str();
  det->add_option("--gpu-kernel", c.kernel,
                  "CUDA first pass auto|fused|cutlass|cublas (fused: hand-written tensor-core "
                  "tiles with the threshold in registers; cutlass: the Hopper version, sm_90)")
      ->capture_default_str();
  det->add_option("--gpu-memory", d.gpu_memory_mib, "cap on device memory in MiB (0: what is free)")
      ->check(kMiB)
      ->capture_default_str();
  det->add_option("--tile-rows", d.tile_rows, "rows per tile")->capture_default_str();
  det->add_option("--tile-cols", d.tile_cols, "columns per tile (multiple of --tile-rows)")
      ->capture_default_str();
}

void add_detect(CLI::App& app, detect_command& c) {
  auto* det = app.add_subcommand("detect", "find coordinated clusters in an input file");
  add_detect_scoring(det, c);
  add_detect_resources(det, c);
  det->add_option("--update", c.opt.update,
                  "incremental run: the results of a run on an earlier version of this input "
                  "(same parameters); only pairs that touch a new or changed account are scored, "
                  "and the results equal a full run's");
  det->add_option("--significance", c.opt.significance,
                  "a p-value per cluster from K resamples of its accounts under the view's null "
                  "model (README, Significance); 0: off")
      ->check(within(0, 1000000, "a number of resamples from 0 to 1000000"));
  det->add_option("--significance-seed", c.opt.significance_seed, "seed of the resamples")
      ->capture_default_str();
  det->add_option("--null-period", c.opt.null_period,
                  "activity null model: shift unit in bins (default: one day, from the input's "
                  "bin_seconds)")
      ->check(within(1, 1e9, "a number of bins from 1"));
  det->add_flag("--no-edges", c.no_edges, "do not write /edges (labels and clusters only)");
  det->add_flag("--no-evidence", c.no_evidence,
                "do not add /evidence (co-active bins, cluster evidence)");
  det->add_flag("--force", c.opt.force, "overwrite an existing results file");
  det->add_flag("--json", c.json, "print a JSON summary on stdout");
  det->add_flag("--quiet", c.quiet, "no progress bar, no text summary");
  c.app = det;
}

// A multi-process job's ranks, one line each.
void print_rank_records(const chorus::detect_summary& s) {
  std::printf("%d ranks (rows, pairs, edges, seconds read / score / shard+forest):\n", s.ranks);
  for (std::size_t r = 0; r < s.rank_records.size(); ++r) {
    const auto& x = s.rank_records[r];
    std::printf(
        "  rank %zu on %s: rows %lld..%lld, %lld pairs, %lld edges, %.2f / %.2f / "
        "%.2f s\n",
        r, x.host.c_str(), static_cast<long long>(x.row_begin), static_cast<long long>(x.row_end),
        static_cast<long long>(x.pairs), static_cast<long long>(x.edges), x.seconds_read,
        x.seconds_score, x.seconds_local);
  }
}

// detect's text summary on stdout.
// The thresholds the run's view uses (only those), and what --min-activity left out.
void print_thresholds(const chorus::detect_summary& s) {
  if (s.view == "embedding")
    std::printf("threshold in effect: embedding cosine >= %g", s.threshold);
  else if (s.view == "activity")
    std::printf("threshold in effect: activity correlation >= %g", s.threshold_activity);
  else if (s.view == "both")
    std::printf("thresholds in effect: embedding cosine >= %g and activity correlation >= %g",
                s.threshold, s.threshold_activity);
  else
    std::printf("threshold in effect: %g * embedding + %g * activity >= %g", s.weight,
                1.0 - s.weight, s.threshold);
  if (s.view != "embedding")
    std::printf(" (activity: accounts with >= %g posts; %lld left out)", s.min_activity,
                static_cast<long long>(s.below_min_activity));
  std::printf("\n");
}

// A co-action run's summary: what it compared instead of pairs and thresholds.
void print_coaction_summary(const chorus::detect_summary& s) {
  std::printf(
      "%s: %lld accounts, view %s, %lld objects in %lld posts, %lld directed weights >= %lld, "
      "%lld edges, %lld clusters (%lld accounts, largest %lld)\n",
      s.output.c_str(), static_cast<long long>(s.accounts), s.view.c_str(),
      static_cast<long long>(s.objects), static_cast<long long>(s.posts_used),
      static_cast<long long>(s.directed_rows), static_cast<long long>(s.min_weight),
      static_cast<long long>(s.edges), static_cast<long long>(s.clusters),
      static_cast<long long>(s.clustered_accounts), static_cast<long long>(s.largest_cluster));
  std::printf("%.2f s total: read and index %.2f, sweep %.2f, components %.2f, write %.2f\n",
              s.seconds_total, s.seconds_read, s.seconds_score, s.seconds_components,
              s.seconds_write);
  const bool normalised = s.view == "co_text" || s.view == "co_link" || s.view == "co_hashtag" ||
                          s.view == "co_similar";
  std::printf(
      "co-action in effect: %s within %lld s; an edge needs %lld co-actions in one "
      "direction",
      s.view == "co_similar" ? "posts whose word sets reach the --similarity"
                             : "posts sharing an object",
      static_cast<long long>(s.window), static_cast<long long>(s.min_weight));
  if (s.view == "co_similar") std::printf(" (Jaccard >= %g)", s.similarity);
  if (normalised) std::printf(" (texts and links normalised as '%s')", s.normalize.c_str());
  std::printf("\n");
}

// The match with planted truth, when the input has it.
void print_truth(const chorus::detect_summary& s) {
  if (s.has_truth && s.truth.flagged_accounts == 0)
    std::printf(
        "against /truth/cluster: no account was flagged (precision undefined), recall 0, "
        "0 of %lld planted clusters recovered\n",
        static_cast<long long>(s.truth.planted_clusters));
  else if (s.has_truth)
    std::printf(
        "against /truth/cluster: precision %.3f, recall %.3f, %lld of %lld planted "
        "clusters recovered\n",
        s.truth.precision, s.truth.recall, static_cast<long long>(s.truth.planted_recovered),
        static_cast<long long>(s.truth.planted_clusters));
}

// An incremental run's lineage and its share of a full run's pairs.
void print_update(const chorus::detect_summary& s) {
  const auto& u = s.update;
  std::printf(
      "update of %s: %lld new, %lld changed, %lld removed, %lld unchanged accounts; %lld edges "
      "carried, %lld dropped; %lld pairs scored, %.2f%% of a full run's %lld\n",
      u.previous.c_str(), static_cast<long long>(u.rows_new),
      static_cast<long long>(u.rows_changed), static_cast<long long>(u.rows_removed),
      static_cast<long long>(u.rows_unchanged), static_cast<long long>(u.edges_carried),
      static_cast<long long>(u.edges_dropped), static_cast<long long>(s.pairs),
      u.pairs_full ? 100.0 * static_cast<double>(s.pairs) / static_cast<double>(u.pairs_full) : 0.0,
      static_cast<long long>(u.pairs_full));
}

// --significance: how many clusters the null models found unlikely by chance.
void print_significance(const chorus::detect_summary& s) {
  if (s.significance <= 0) return;
  std::printf(
      "significance (%s null, %lld resamples, %.2f s): %lld of %lld clusters tested have "
      "p < 0.001, %lld have q < 0.05\n",
      s.significance_models.c_str(), static_cast<long long>(s.significance), s.seconds_significance,
      static_cast<long long>(s.significance_p0001), static_cast<long long>(s.significance_tested),
      static_cast<long long>(s.significance_q005));
}

// An --edges run's summary: the expression in effect.
void print_expression_summary(const chorus::detect_summary& s) {
  std::printf(
      "%s: %lld accounts, --edges, %lld candidates, %lld edges, %lld clusters (%lld accounts, "
      "largest %lld)\n",
      s.output.c_str(), static_cast<long long>(s.accounts), static_cast<long long>(s.candidates),
      static_cast<long long>(s.edges), static_cast<long long>(s.clusters),
      static_cast<long long>(s.clustered_accounts), static_cast<long long>(s.largest_cluster));
  std::printf("%.2f s total: views and candidates %.2f, components %.2f, write %.2f\n",
              s.seconds_total, s.seconds_score, s.seconds_components, s.seconds_write);
  std::printf("edges in effect: %s (co-action window %lld s)\n", s.detail.c_str(),
              static_cast<long long>(s.window));
}

void print_detect_summary(const chorus::detect_summary& s) {
  if (s.view == "expression" || s.view.rfind("co_", 0) == 0) {
    if (s.view == "expression")
      print_expression_summary(s);
    else
      print_coaction_summary(s);
    print_significance(s);
    print_truth(s);
    return;
  }
  std::printf(
      "%s: %lld accounts, view %s, %lld pairs, %lld candidates, %lld edges, %lld clusters "
      "(%lld accounts, largest %lld)\n",
      s.output.c_str(), static_cast<long long>(s.accounts), s.view.c_str(),
      static_cast<long long>(s.pairs), static_cast<long long>(s.candidates),
      static_cast<long long>(s.edges), static_cast<long long>(s.clusters),
      static_cast<long long>(s.clustered_accounts), static_cast<long long>(s.largest_cluster));
  std::printf("backend %s (%s); %.2f s total: read %.2f, score %.2f, components %.2f, write %.2f\n",
              s.backend.c_str(), s.detail.c_str(), s.seconds_total, s.seconds_read, s.seconds_score,
              s.seconds_components, s.seconds_write);
  print_thresholds(s);
  if (!s.update.previous.empty()) print_update(s);
  print_significance(s);
  if (s.ranks > 1) print_rank_records(s);
  // only the views the run used (an input without /embedding has no "zero embeddings")
  const bool used_e = s.view != "activity", used_a = s.view != "embedding";
  if ((used_e && s.invalid_embedding) || (used_a && s.invalid_activity)) {
    std::printf("rows that cannot get edges:");
    if (used_e) std::printf(" %lld zero embeddings", static_cast<long long>(s.invalid_embedding));
    if (used_a)
      std::printf("%s %lld activity rows (constant, or under --min-activity)", used_e ? "," : "",
                  static_cast<long long>(s.invalid_activity));
    std::printf("\n");
  }
  print_truth(s);
}

// --progress-interval (detect): seconds between plain progress lines when stderr is not a
// terminal (a pipe, a SLURM log).
void add_progress_interval(CLI::App* det, double& seconds) {
  det->add_option("--progress-interval", seconds,
                  "seconds between plain progress lines on stderr when it is not a terminal "
                  "(0: at every step)")
      ->check(within(0, 86400, "a number of seconds from 0 to 86400"))
      ->capture_default_str();
}

int run_detect_command(detect_command& c, double progress_interval) {
  chorus::detect_options& d = c.opt;
  d.view = c.view;
  d.transform = chorus::parse_transform(c.transform);
  d.backend = chorus::parse_backend(c.backend);
  d.prec = chorus::parse_precision(c.prec);
  d.kernel = chorus::parse_gpu_kernel(c.kernel);
  d.write_edges = !c.no_edges;
  d.evidence = !c.no_evidence;
  d.threshold_given = c.app->count("--threshold") > 0;
  d.threshold_activity_given = c.app->count("--threshold-activity") > 0;
  d.weight_given = c.app->count("--weight") > 0;
  for (const CLI::Option* o : c.app->get_options())
    if (o->count() > 0) d.options_given.push_back(o->get_name());
  bool quiet = c.quiet, json = c.json;
  if (chorus::mpi::rank() != 0) quiet = true, json = false;  // rank 0 reports for the job
  chorus::progress_bar bar(!quiet);
  bar.set_interval(progress_interval);
  if (!quiet)
    d.progress = [&](const char* s, std::int64_t a, std::int64_t b) { bar.update(s, a, b); };
  auto s = chorus::run_detect(d);
  bar.finish();
  if (chorus::mpi::rank() == 0)  // warnings reach the user even with --quiet or --json
    for (const auto& w : s.warnings) std::fprintf(stderr, "chorus: WARNING: %s\n", w.c_str());
  if (json) std::printf("%s\n", chorus::to_json(s).c_str());
  if (!quiet && !json) print_detect_summary(s);
  return 0;
}

// export
struct export_command {
  chorus::export_options opt;
  CLI::App* app = nullptr;
};

void add_export(CLI::App& app, export_command& c) {
  auto* exp = app.add_subcommand(
      "export", "write the coordinated subgraph for Gephi (GraphML, GEXF) or pandas (CSV)");
  chorus::export_options& o = c.opt;
  exp->add_option("results", o.results, "results HDF5 file")->required();
  exp->add_option("--format", o.format, "graphml|gexf|csv")->required();
  exp->add_option("--out", o.out, "output file (graphml, gexf) or directory (csv)")->required();
  exp->add_option("--min-size", o.min_size, "only clusters with at least this many members")
      ->check(within(1, 1099511627776.0, "a cluster size from 1 to 2^40"))
      ->capture_default_str();
  exp->add_option("--max-p", o.max_p,
                  "only clusters with p_value <= P (results of detect --significance)")
      ->check(within(0, 1, "a p-value from 0 to 1"));
  exp->add_option("--pseudonymize", o.pseudonymize,
                  "write account ids and handles as keyed pseudonyms (key from chorus keygen)");
  exp->add_flag("--redact-text", o.redact_text, "with --pseudonymize: texts as [redacted]");
  exp->add_flag("--write-mapping", o.write_mapping,
                "with --pseudonymize: add pseudonym,kind,original to KEYFILE.mapping.csv");
  exp->add_flag("--force", o.force, "overwrite existing output");
  c.app = exp;
}

int run_export(const export_command& c) {
  const chorus::export_outcome done = chorus::export_results(c.opt);
  for (const auto& w : done.warnings) std::fprintf(stderr, "chorus: WARNING: %s\n", w.c_str());
  return 0;
}

// keygen
struct keygen_command {
  std::string out;
  bool force = false;
  CLI::App* app = nullptr;
};

void add_keygen(CLI::App& app, keygen_command& c) {
  c.app = app.add_subcommand(
      "keygen", "make a secret key for pseudonymised exports and reports (--pseudonymize)");
  c.app->add_option("--out", c.out, "key file to write (mode 0600)")->required();
  c.app->add_flag("--force", c.force, "replace an existing key file");
}

int run_keygen(const keygen_command& c) {
  const chorus::pseudonym_key key = chorus::generate_pseudonym_key();
  chorus::write_pseudonym_key(c.out, key, c.force);
  std::printf("wrote key %s (fingerprint %s); keep it secret and apart from what you share\n",
              c.out.c_str(), key.fingerprint().c_str());
  return 0;
}

// report
struct report_command {
  std::string results, out, input, timeline, pseudonymize;
  int top = 10;
  double max_p = -1;
  bool force = false, redact_text = false;
  CLI::App* app = nullptr;
};

void add_report(CLI::App& app, report_command& c) {
  auto* rep = app.add_subcommand("report", "render a self-contained HTML report of a results file");
  rep->add_option("results", c.results, "results HDF5 file")->required();
  rep->add_option("--out", c.out, "HTML file to write")->required();
  rep->add_option("--input", c.input, "input file (default: the results' input_path attribute)");
  rep->add_option("--top", c.top, "clusters shown in detail")
      ->check(within(0, 100000, "a number of clusters from 0 to 100000"))
      ->capture_default_str();
  rep->add_option("--timeline", c.timeline,
                  "add a Timeline section from this timeline file (chorus track --out)");
  rep->add_option("--max-p", c.max_p,
                  "only networks with p_value <= P (results of detect --significance)")
      ->check(within(0, 1, "a p-value from 0 to 1"));
  rep->add_option("--pseudonymize", c.pseudonymize,
                  "show accounts, handles, post ids as keyed pseudonyms and links as domains");
  rep->add_flag("--redact-text", c.redact_text, "with --pseudonymize: texts as [redacted]");
  rep->add_flag("--force", c.force, "overwrite an existing report");
  c.app = rep;
}

int run_report(const report_command& c) {
  std::vector<std::string> extra = {"--top", std::to_string(c.top)};
  if (!c.input.empty()) extra.insert(extra.end(), {"--input", c.input});
  if (!c.timeline.empty()) extra.insert(extra.end(), {"--timeline", c.timeline});
  if (c.app->count("--max-p")) {
    char p[32];
    std::snprintf(p, sizeof p, "%.17g", c.max_p);
    extra.insert(extra.end(), {"--max-p", p});
  }
  if (c.redact_text && c.pseudonymize.empty())
    CHORUS_THROW(chorus::input_error, "--redact-text needs --pseudonymize KEYFILE");
  if (!c.pseudonymize.empty()) {  // checked here: a bad key is one line, exit 2, nothing run
    std::vector<std::string> warnings;
    chorus::read_pseudonym_key(c.pseudonymize, &warnings);
    for (const auto& w : warnings) std::fprintf(stderr, "chorus: WARNING: %s\n", w.c_str());
    extra.insert(extra.end(), {"--pseudonymize", c.pseudonymize});
    if (c.redact_text) extra.push_back("--redact-text");
  }
  if (c.force) extra.push_back("--force");
  return chorus::run_report_tool(c.results, c.out, extra);
}

// track
struct track_command {
  std::vector<std::string> results;
  chorus::track_options opt;
  chorus::track_outputs out;
  bool quiet = false;
  CLI::App* app = nullptr;
};

void add_track(CLI::App& app, track_command& c) {
  auto* tr = app.add_subcommand(
      "track", "follow clusters across consecutive results files: stable ids and events");
  tr->add_option("results", c.results, "results files of consecutive runs, in time order (>= 2)")
      ->required();
  tr->add_option("--out", c.out.h5, "timeline HDF5 file to write")->required();
  tr->add_option("--csv", c.out.csv_dir,
                 "also write clusters.csv and events.csv in this directory");
  tr->add_option("--json", c.out.json, "also write the timeline as one JSON document");
  tr->add_option("--min-overlap", c.opt.min_overlap,
                 "link clusters of consecutive runs when shared accounts / smaller size >= this")
      ->check(within(1e-300, 1, "an overlap in (0, 1]"))
      ->capture_default_str();
  tr->add_option("--growth", c.opt.growth,
                 "a kept cluster grew (shrank) when its size changed by a factor >= 1 + this")
      ->check(within(0, 1e12, "a growth of at least 0"))
      ->capture_default_str();
  tr->add_flag("--force", c.out.force, "overwrite existing outputs");
  tr->add_flag("--quiet", c.quiet, "no summary on stdout (warnings still go to stderr)");
  tr->add_flag("--allow-unordered", c.opt.allow_unordered,
               "track runs whose dates (input_date) do not increase, with a warning (refused "
               "otherwise)");
  c.app = tr;
}

int run_track_command(const track_command& c) {
  const chorus::timeline t = chorus::run_track(c.results, c.opt, c.out);
  for (const auto& w : t.warnings) std::fprintf(stderr, "chorus: WARNING: %s\n", w.c_str());
  if (c.quiet) return 0;
  std::printf("%s", chorus::timeline_summary(t).c_str());
  std::printf("wrote %s", c.out.h5.c_str());
  if (!c.out.csv_dir.empty())
    std::printf(", %s/clusters.csv, %s/events.csv", c.out.csv_dir.c_str(), c.out.csv_dir.c_str());
  if (!c.out.json.empty()) std::printf(", %s", c.out.json.c_str());
  std::printf("\n");
  return 0;
}

// info
struct info_command {
  std::string path;
  CLI::App* app = nullptr;
};

void add_info(CLI::App& app, info_command& c) {
  c.app = app.add_subcommand("info", "describe an input or results file");
  c.app->add_option("file", c.path, "HDF5 file")->required();
}

// demo
struct demo_command {
  chorus::demo_options opt;
  CLI::App* app = nullptr;
};

void add_demo(CLI::App& app, demo_command& c) {
  chorus::demo_options& demo = c.opt;
  auto* dm = app.add_subcommand(
      "demo",
      "generate a posts corpus with planted campaigns and decoys, ingest it, find the campaigns");
  dm->add_option("--accounts", demo.posts_accounts, "accounts (posts demo)")
      ->check(within(1000, 1e8, "a number of accounts from 1000 to 10^8"))
      ->capture_default_str();
  dm->add_option("--campaigns", demo.campaigns, "planted campaigns (posts demo)")
      ->check(within(1, 10000, "a number of campaigns from 1 to 10000"))
      ->capture_default_str();
  dm->add_flag("--vectors", demo.vectors,
               "the vector demo: ~100k generated accounts' vectors, no posts");
  // at least 3 accounts per planted cluster; beyond 10^9 the demo's data would not fit in memory
  dm->add_option("--vector-accounts", demo.accounts, "accounts (--vectors)")
      ->check(within(3.0 * demo.clusters, 1e9,
                     "a number of accounts from " + std::to_string(3 * demo.clusters) + " to 10^9"))
      ->capture_default_str();
  dm->add_option("--threads", demo.threads, "worker threads (0: all cores)")
      ->check(within(0, 4096, "a number of threads from 0 to 4096"))
      ->capture_default_str();
  dm->add_option("--seed", demo.seed, "random seed")->check(seed_range())->capture_default_str();
  dm->add_option("--workdir", demo.workdir, "directory for the files (default: a new temp dir)");
  c.app = dm;
}

// Options of the other demo are mistakes, never silently ignored.
void check_demo_mode(const demo_command& c) {
  if (c.opt.vectors && (c.app->count("--accounts") || c.app->count("--campaigns")))
    CHORUS_THROW(chorus::input_error,
                 "demo --vectors takes --vector-accounts, not --accounts or --campaigns");
  if (!c.opt.vectors && c.app->count("--vector-accounts"))
    CHORUS_THROW(chorus::input_error, "--vector-accounts needs --vectors");
}

// Every subcommand's options, registered with the parser (which keeps pointers to them).
struct commands {
  generate_command generate;
  chorus::cli::ingest_command ingest;
  detect_command detect;
  export_command exp;
  keygen_command keygen;
  report_command report;
  info_command info;
  demo_command demo;
  track_command track;
  double progress_interval = chorus::progress_bar::default_interval;  // detect's
};

void add_commands(CLI::App& app, commands& c) {
  add_generate(app, c.generate);
  chorus::cli::add_ingest(app, c.ingest);
  add_detect(app, c.detect);
  add_progress_interval(c.detect.app, c.progress_interval);
  add_export(app, c.exp);
  add_keygen(app, c.keygen);
  add_report(app, c.report);
  add_info(app, c.info);
  add_demo(app, c.demo);
  add_track(app, c.track);
}

// Parse the command line. Help, version and parse errors end the program: their exit code, else
// none (go on and run the subcommand).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(static_cast<int>(chorus::exit_code::bad_input),
                explain_parse_error(app, e, argc, argv));
  }
  return std::nullopt;
}

// Run the subcommand given; an exception becomes an error message and its exit code.
int run_command(commands& c) {
  try {
    if (*c.generate.app) return run_generate(c.generate);
    if (*c.ingest.app) return chorus::cli::run_ingest_command(c.ingest);
    if (*c.detect.app) return run_detect_command(c.detect, c.progress_interval);
    if (*c.exp.app) return run_export(c.exp);
    if (*c.keygen.app) return run_keygen(c.keygen);
    if (*c.report.app) return run_report(c.report);
    if (*c.track.app) return run_track_command(c.track);
    if (*c.info.app) {
      chorus::describe_file(c.info.path, std::cout);
      return 0;
    }
    if (*c.demo.app) {
      check_demo_mode(c.demo);
      return chorus::run_demo(c.demo.opt, std::cout);
    }
  } catch (const chorus::error& e) {
    return fail(static_cast<int>(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, "out of memory");
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // MPI only when started by an MPI launcher (mpirun, srun); otherwise one process
  chorus::mpi::environment mpi_env(&argc, &argv);
  // detect stops gracefully on SIGTERM/SIGINT (checkpoint, exit code 4); install at once
  if (argc > 1 && (std::string(argv[1]) == "detect" || std::string(argv[1]) == "ingest"))
    chorus::install_stop_handlers();
  // (track's --json names a file: its errors stay plain text)
  const bool track = argc > 1 && std::string(argv[1]) == "track";
  for (int k = 1; k < argc; ++k) g_json |= !track && std::string(argv[k]) == "--json";
  CLI::App app{"chorus: finds coordinated networks of accounts by exact all-pairs similarity"};
  app.set_version_flag("--version", CHORUS_VERSION);
  app.require_subcommand(1);
  commands c;
  add_commands(app, c);
  if (const std::optional<int> code = parse_command_line(app, argc, argv)) return *code;
  return run_command(c);
}
