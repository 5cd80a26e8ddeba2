// chorus ingest: the job (ingest.hpp), as named phases: check_request, read_posts,
// choose_accounts, build_content, write_input.
#include "chorus/ingest/ingest.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "accounts.hpp"
#include "activity.hpp"
#include "chorus/coaction/normalise.hpp"
#include "chorus/core/error.hpp"
#include "chorus/core/hash.hpp"
#include "chorus/ingest/feature_counts.hpp"
#include "chorus/ingest/lsa.hpp"
#include "chorus/job/summary.hpp"
#include "ingest_write.hpp"
#include "post_spool.hpp"
#include "read_pass.hpp"

namespace chorus::ingest {

namespace fs = std::filesystem;

bool is_numeric_key(const std::string& k) {
  if (k.empty() || k.size() > 19 || (k.size() > 1 && k[0] == '0')) return false;
  for (char c : k)
    if (c < '0' || c > '9') return false;
  return k.size() < 19 || k <= "9223372036854775807";
}

std::int64_t key_id(const std::string& k) {
  if (k.empty()) return -1;
  if (is_numeric_key(k)) return static_cast<std::int64_t>(std::stoull(k));
  return static_cast<std::int64_t>(fnv1a64(k.data(), k.size()) & 0x7fffffffffffffffULL);
}

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Options that cannot work, and an output that must not be overwritten, before any reading.
void check_request(const ingest_options& o) {
  if (o.inputs.empty()) CHORUS_THROW(input_error, "ingest: no input files given");
  if (o.out.empty()) CHORUS_THROW(input_error, "ingest: --out is required");
  coaction::parse_normalisation(o.normalize);  // --normalize chorus|toolkit
  std::error_code ec;
  if (fs::exists(o.out, ec) && !o.force)
    CHORUS_THROW(input_error, "ingest: '", o.out, "' exists (use --force to overwrite it)");
  if (fs::is_directory(o.out, ec))
    CHORUS_THROW(input_error, "ingest: '", o.out, "' is a directory");
  const fs::path dir = fs::absolute(o.out).parent_path();
  if (!fs::is_directory(dir, ec))
    CHORUS_THROW(input_error, "ingest: the directory of --out '", dir.string(), "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    CHORUS_THROW(input_error, "ingest: cannot write to the directory '", dir.string(), "'");
  if (o.min_posts < 1) CHORUS_THROW(input_error, "ingest: --min-posts must be at least 1");
  if (o.dim < 0 || o.dim > 4096) CHORUS_THROW(input_error, "ingest: --dim must be 0 to 4096");
  if (o.hash_bits < 10 || o.hash_bits > 24)
    CHORUS_THROW(input_error, "ingest: the feature space must be 2^10 to 2^24");
  if (o.has_from && o.has_to && o.to <= o.from)
    CHORUS_THROW(input_error, "ingest: --to must be after --from");
  if (!o.post_embeddings.empty() && o.dim == 0)
    CHORUS_THROW(input_error,
                 "ingest: --post-embeddings with --dim 0: the vectors would be unused");
}

std::size_t memory_budget(const ingest_options& o) {
  const std::int64_t mib = o.max_memory_mib > 0 ? o.max_memory_mib : 2048;
  return static_cast<std::size_t>(mib) << 20;
}

// What the read pass produced.
struct read_state {
  account_table accounts;
  std::unique_ptr<post_spool> spool;
  std::unique_ptr<feature_counts> counts;
};

// --out must not be one of the inputs (even with --force: the posts would be lost).
void check_out_is_not_an_input(const std::string& out, const std::vector<std::string>& paths) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  for (const std::string& p : paths)
    if (fs::equivalent(out, p, ec))
      CHORUS_THROW(input_error, "ingest: --out '", out, "' is one of the input files ('", p,
                   "'); choose another output");
}

// Phase: stream every post into the account table, the feature counts and the spool.
void read_posts(const ingest_options& o, int threads, const std::string& tmp_dir, read_state& st,
                ingest_summary& s) {
  const auto t0 = clock_type::now();
  s.paths = expand_inputs(o.inputs);
  check_out_is_not_an_input(o.out, s.paths);
  post_reader reader(s.paths, o.reader);
  s.files = reader.describe();
  st.spool = std::make_unique<post_spool>(tmp_dir);
  const bool lsa = o.dim > 0 && o.post_embeddings.empty();
  if (lsa)  // the feature counts get most of the budget; the rest is batches and tables
    st.counts =
        std::make_unique<feature_counts>(o.hash_bits, memory_budget(o) / 2, tmp_dir, threads);
  feature_config cfg;
  cfg.hash_bits = o.hash_bits;
  read_sinks sinks{st.accounts, *st.spool, st.counts.get()};
  sinks.toolkit = coaction::parse_normalisation(o.normalize) == coaction::normalisation::toolkit;
  read_all_posts(reader, cfg, threads, sinks, o.progress);
  s.duplicate_posts = sinks.duplicates;
  st.spool->seal();
  s.read = reader.stats();
  for (const skipped_row& k : s.read.first_skipped)
    s.skipped_examples.push_back(
        (k.file >= 0 && k.file < static_cast<int>(s.paths.size()) ? s.paths[k.file] : "?") + ":" +
        std::to_string(k.line) + ": " + k.reason);
  s.accounts_seen = st.accounts.size();
  s.seconds_read = since(t0);
  if (s.read.posts == 0)
    CHORUS_THROW(input_error, "ingest: no post could be read (", s.read.skipped,
                 " rows skipped; the first: ",
                 s.skipped_examples.empty() ? std::string("none") : s.skipped_examples[0], ")");
}

// Phase: keep the accounts with enough posts; count what was dropped.
account_selection choose_accounts(const ingest_options& o, const read_state& st,
                                  ingest_summary& s) {
  account_selection sel = select_accounts(st.accounts, o.min_posts);
  s.accounts = static_cast<std::int64_t>(sel.keep.size());
  s.accounts_below_min_posts = s.accounts_seen - s.accounts;
  for (const account_entry& e : st.accounts.entries())
    if (e.posts < o.min_posts) s.posts_of_dropped += e.posts;
  s.posts = s.read.posts - s.duplicate_posts - s.posts_of_dropped;
  if (s.accounts == 0)
    CHORUS_THROW(input_error, "ingest: no account has --min-posts ", o.min_posts, " posts (",
                 s.accounts_seen, " accounts, ", s.read.posts,
                 " posts read); lower --min-posts to keep quieter accounts");
  return sel;
}

// The first and last post time of the kept accounts.
std::pair<std::int64_t, std::int64_t> time_range(const read_state& st,
                                                 const account_selection& sel) {
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = 0;
  for (std::int64_t r : sel.keep) {
    const account_entry& e = st.accounts.entries()[static_cast<std::size_t>(r)];
    lo = std::min(lo, e.first);
    hi = std::max(hi, e.last);
  }
  return {lo, hi};
}

// Phase: the activity window and bins (stray far-away times do not stretch the window).
bin_plan choose_bins(const ingest_options& o, const read_state& st, const account_selection& sel,
                     ingest_summary& s) {
  auto [first, last] = time_range(st, sel);
  if (!o.has_from && !o.has_to)
    std::tie(first, last) = bulk_of_times(*st.spool, sel, first, last, s.posts_outside_data);
  const bin_plan plan =
      plan_bins(first, last, o.has_from, o.from, o.has_to, o.to, o.bin_seconds, o.fold);
  if (plan.bins < 2 && (o.bin_seconds > 0 || o.fold != "none" || o.has_from || o.has_to))
    CHORUS_THROW(input_error, "ingest: these options give ", plan.bins,
                 " activity bin: the activity view needs at least 2 (a finer --bin, another "
                 "--fold, or a wider --from/--to)");
  return plan;
}

// Phase: the content view, LSA of the feature counts (or --post-embeddings pooled).
std::vector<float> build_content(const ingest_options& o, int threads, read_state& st,
                                 const account_selection& sel, ingest_summary& s) {
  const auto t0 = clock_type::now();
  std::vector<float> vectors;
  if (o.dim == 0) return vectors;
  if (!o.post_embeddings.empty()) {
    vectors = pool_post_embeddings(o.post_embeddings, *st.spool, sel, s);
    s.content = "post-embeddings";
  } else {
    std::shared_ptr<const count_matrix> all = st.counts->finish(st.accounts.size());
    s.bytes_spilled = st.counts->bytes_spilled();
    std::unique_ptr<count_matrix> kept = select_rows(all, sel.keep);
    s.feature_entries = kept->nnz();
    lsa_options lo;
    lo.dim = o.dim;
    lo.seed = o.seed;
    lo.threads = threads;
    auto cb = [&](double f) {
      if (o.progress) o.progress("content", static_cast<std::int64_t>(f * 1000), 1000);
    };
    lsa_result r = lsa_embed(*kept, lo, cb);
    s.dim = r.dim;
    s.empty_content_rows = r.empty_rows;
    s.content = "lsa";
    vectors = std::move(r.vectors);
    st.counts.reset();
  }
  s.seconds_content = since(t0);
  return vectors;
}

void add_warnings(const ingest_options& o, ingest_summary& s) {
  if (s.read.skipped > 0)
    s.warnings.push_back(std::to_string(s.read.skipped) + " of " + std::to_string(s.read.records) +
                         " rows skipped (time or account missing or unreadable); the first: " +
                         (s.skipped_examples.empty() ? "" : s.skipped_examples[0]));
  if (s.read.invalid_utf8_bytes > 0)
    s.warnings.push_back(std::to_string(s.read.invalid_utf8_bytes) +
                         " bytes of invalid UTF-8 replaced by U+FFFD");
  if (s.accounts_below_min_posts > 0 && s.accounts_below_min_posts * 2 > s.accounts_seen)
    s.warnings.push_back(std::to_string(s.accounts_below_min_posts) + " of " +
                         std::to_string(s.accounts_seen) + " accounts have fewer than " +
                         std::to_string(o.min_posts) + " posts and were left out (--min-posts)");
  if (s.dim > 0 && s.empty_content_rows * 10 > s.accounts)
    s.warnings.push_back(std::to_string(s.empty_content_rows) +
                         " accounts have no text features: their content vectors are zero");
  if (s.posts_outside_window * 10 > s.posts)
    s.warnings.push_back(std::to_string(s.posts_outside_window) +
                         " posts lie outside the activity window (--from/--to)");
  if (s.duplicate_posts > 0)
    s.warnings.push_back(std::to_string(s.duplicate_posts) +
                         " posts repeat the id of an earlier post (the same file twice, or "
                         "overlapping exports) and were left out");
  if (s.posts_outside_data > 0)
    s.warnings.push_back(std::to_string(s.posts_outside_data) +
                         " posts lie far outside the time span of the others (stray times?): "
                         "the activity window is " +
                         iso_utc(s.from) + " .. " + iso_utc(s.to) +
                         "; give --from/--to to choose it");
  if (s.bins < 2)
    s.warnings.push_back(
        "the activity view has only 1 time bin: every account's activity is "
        "constant (all posts within one bin?)");
  if (!o.truth.empty() && s.truth_accounts < s.accounts)
    s.warnings.push_back("--truth names " + std::to_string(s.truth_accounts) + " of the " +
                         std::to_string(s.accounts) +
                         " accounts kept; the others count as organic in precision and recall");
  if (!o.post_embeddings.empty() && s.pooled_posts < s.posts)
    s.warnings.push_back("only " + std::to_string(s.pooled_posts) + " of the " +
                         std::to_string(s.posts) +
                         " posts kept have a vector in --post-embeddings");
  if (!o.post_embeddings.empty() && s.unmatched_post_embeddings > 0)
    s.warnings.push_back(std::to_string(s.unmatched_post_embeddings) +
                         " post embeddings match no post read");
}

}  // namespace

ingest_summary run_ingest(const ingest_options& o) {
  const auto t0 = clock_type::now();
  check_request(o);
  ingest_summary s;
  s.out = o.out;
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  const std::string tmp_dir = fs::absolute(o.out).parent_path().string();
  read_state st;
  read_posts(o, threads, tmp_dir, st, s);
  const account_selection sel = choose_accounts(o, st, s);
  const bin_plan plan = choose_bins(o, st, sel, s);
  s.bins = plan.bins;
  s.bin_seconds = plan.bin_seconds;
  s.from = plan.from;
  s.to = plan.to;
  s.fold = plan.fold;
  s.bin_rule = plan.rule;
  const std::vector<float> content = build_content(o, threads, st, sel, s);
  const auto tw = clock_type::now();
  write_input(o, st.accounts, *st.spool, sel, plan, content, s);
  s.seconds_write = since(tw);
  add_warnings(o, s);
  s.seconds_total = since(t0);
  return s;
}

std::string to_json(const ingest_summary& s) {
  std::ostringstream j;
  j << "{\"out\":" << json_quote(s.out) << ",\"files\":[";
  for (std::size_t i = 0; i < s.files.size(); ++i) j << (i ? "," : "") << json_quote(s.files[i]);
  j << "],\"records\":" << s.read.records << ",\"posts_read\":" << s.read.posts
    << ",\"rows_skipped\":" << s.read.skipped << ",\"skipped_examples\":[";
  for (std::size_t i = 0; i < s.skipped_examples.size(); ++i)
    j << (i ? "," : "") << json_quote(s.skipped_examples[i]);
  j << "],\"invalid_utf8_bytes\":" << s.read.invalid_utf8_bytes
    << ",\"accounts_seen\":" << s.accounts_seen << ",\"accounts\":" << s.accounts
    << ",\"accounts_below_min_posts\":" << s.accounts_below_min_posts << ",\"posts\":" << s.posts
    << ",\"posts_of_dropped_accounts\":" << s.posts_of_dropped
    << ",\"posts_outside_window\":" << s.posts_outside_window
    << ",\"duplicate_posts\":" << s.duplicate_posts
    << ",\"posts_far_outside_the_others\":" << s.posts_outside_data
    << ",\"string_ids\":" << (s.string_ids ? "true" : "false") << ",\"bins\":" << s.bins
    << ",\"bin_seconds\":" << s.bin_seconds << ",\"from\":" << json_quote(iso_utc(s.from))
    << ",\"to\":" << json_quote(iso_utc(s.to)) << ",\"fold\":" << json_quote(s.fold)
    << ",\"bin_rule\":" << json_quote(s.bin_rule) << ",\"dim\":" << s.dim
    << ",\"content\":" << json_quote(s.content)
    << ",\"empty_content_rows\":" << s.empty_content_rows
    << ",\"truth_accounts\":" << s.truth_accounts << ",\"bytes_spilled\":" << s.bytes_spilled
    << ",\"feature_entries\":" << s.feature_entries << ",\"seconds\":{\"read\":" << s.seconds_read
    << ",\"content\":" << s.seconds_content << ",\"write\":" << s.seconds_write
    << ",\"total\":" << s.seconds_total << "},\"warnings\":[";
  for (std::size_t i = 0; i < s.warnings.size(); ++i)
    j << (i ? "," : "") << json_quote(s.warnings[i]);
  j << "]}";
  return j.str();
}

}  // namespace chorus::ingest
