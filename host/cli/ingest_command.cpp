// chorus CLI: ingest_command.hpp.
#include "ingest_command.hpp"

#include <cstdio>

#include "chorus/core/error.hpp"
#include "chorus/ingest/time_parse.hpp"
#include "chorus/job/progress.hpp"
#include "chorus/scan/checkpoint.hpp"

namespace chorus::cli {

namespace {

using ingest::parse_format;
using ingest::parse_preset;
using ingest::parse_when;

void add_mapping(CLI::App* in, ingest::field_map& m) {
  in->add_option("--account", m.account, "column or JSON path of the account key");
  in->add_option("--handle", m.handle, "column or JSON path of the screen name");
  in->add_option("--time", m.time, "column or JSON path of the post time");
  in->add_option("--text", m.text, "column or JSON path of the text");
  in->add_option("--id", m.id, "column or JSON path of the post id");
  in->add_option("--repost", m.repost, "column or JSON path of the reposted post's id");
  in->add_option("--reply", m.reply, "column or JSON path of the replied-to post's id");
  in->add_option("--urls", m.urls, "column or JSON path of the links");
}

void print_summary(const ingest::ingest_summary& s) {
  for (const std::string& f : s.files) std::printf("read %s\n", f.c_str());
  std::printf("%lld posts read (%lld rows skipped", static_cast<long long>(s.read.posts),
              static_cast<long long>(s.read.skipped));
  if (s.read.invalid_utf8_bytes)
    std::printf(", %lld invalid UTF-8 bytes replaced",
                static_cast<long long>(s.read.invalid_utf8_bytes));
  if (s.duplicate_posts)
    std::printf(", %lld repeated post ids left out", static_cast<long long>(s.duplicate_posts));
  std::printf(") in %.1f s\n", s.seconds_read);
  for (const auto& k : s.skipped_examples) std::printf("  skipped %s\n", k.c_str());
  std::printf(
      "%lld accounts kept of %lld (%lld with fewer than --min-posts posts left out, %lld "
      "posts)%s\n",
      static_cast<long long>(s.accounts), static_cast<long long>(s.accounts_seen),
      static_cast<long long>(s.accounts_below_min_posts),
      static_cast<long long>(s.posts_of_dropped),
      s.string_ids ? "; account keys are strings: ids derived by FNV-1a 64" : "");
  std::printf("activity: %lld bins of %lld s (%s), fold %s, window %s .. %s\n",
              static_cast<long long>(s.bins), static_cast<long long>(s.bin_seconds),
              s.bin_rule.c_str(), s.fold.c_str(), ingest::iso_utc(s.from).c_str(),
              ingest::iso_utc(s.to).c_str());
  if (s.dim > 0)
    std::printf(
        "content: %d dimensions (%s, %lld feature entries) in %.1f s; %lld accounts "
        "without text features\n",
        s.dim, s.content.c_str(), static_cast<long long>(s.feature_entries), s.seconds_content,
        static_cast<long long>(s.empty_content_rows));
  else
    std::printf("content: none (--dim 0)\n");
  if (s.truth_accounts)
    std::printf("truth: %lld accounts\n", static_cast<long long>(s.truth_accounts));
  std::printf("wrote %s: %lld accounts, %lld posts; %.1f s total\n", s.out.c_str(),
              static_cast<long long>(s.accounts), static_cast<long long>(s.posts), s.seconds_total);
}

}  // namespace

void add_ingest(CLI::App& app, ingest_command& c) {
  ingest::ingest_options& o = c.opt;
  auto* in = app.add_subcommand(
      "ingest", "read posts (CSV or JSON lines; plain, gzip, zstd) into a chorus input file");
  in->add_option("files", o.inputs, "posts files or glob patterns")->required();
  in->add_option("--out", o.out, "input HDF5 file to write")->required();
  in->add_flag("--force", o.force, "overwrite an existing --out");
  in->add_option("--format", c.format, "auto|csv|jsonl")->capture_default_str();
  in->add_option("--preset", c.preset,
                 "auto|qut|twitter-v1|twitter-v2|generic|none (auto: from the header or fields)")
      ->capture_default_str();
  add_mapping(in, o.reader.map);
  in->add_flag("--strict", o.reader.strict, "a row that cannot be read is an error (exit 2)");
  in->add_option("--min-posts", o.min_posts, "leave out accounts with fewer posts")
      ->check(CLI::Range(1LL, 1000000000LL))
      ->capture_default_str();
  in->add_option("--bin", c.bin, "activity bin: 5m to 1d (auto: 1h, coarser for long spans)")
      ->capture_default_str();
  in->add_option("--from", c.from, "activity window start (ISO 8601 or Unix seconds)");
  in->add_option("--to", c.to, "activity window end, exclusive");
  in->add_option("--fold", o.fold, "none|day|week: fold time onto the hour of day / of week")
      ->capture_default_str();
  in->add_option("--dim", o.dim, "content vector size (0: no content view)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  in->add_option("--seed", o.seed, "seed of the content projection")->capture_default_str();
  in->add_option("--post-embeddings", o.post_embeddings,
                 "HDF5 with /post_id and /embedding per post: mean-pooled per account");
  in->add_option("--truth", o.truth,
                 "truth CSV of chorus generate --posts (user_id,username,cluster,kind)");
  in->add_option("--normalize", o.normalize,
                 "text and link keys of the co-action views: chorus (NFKC, case-folded, "
                 "without mentions and links; links normalised) or toolkit (QUT "
                 "coordination-network-toolkit's, for parity checks)")
      ->check(CLI::IsMember({"chorus", "toolkit"}))
      ->capture_default_str();
  in->add_option("--threads", o.threads, "worker threads (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  in->add_option("--max-memory", o.max_memory_mib,
                 "MiB for the feature counts held in memory; beyond, they spill to disk "
                 "(0: 2048)")
      ->check(CLI::Range(0LL, 1LL << 40))
      ->capture_default_str();
  in->add_flag("--json", c.json, "print a JSON summary on stdout");
  in->add_flag("--quiet", c.quiet, "no progress bar, no text summary");
  c.app = in;
}

int run_ingest_command(ingest_command& c) {
  ingest::ingest_options& o = c.opt;
  o.reader.fmt = parse_format(c.format);
  o.reader.pre = parse_preset(c.preset);
  if (c.bin != "auto") o.bin_seconds = parse_duration(c.bin, "--bin");
  if (!c.from.empty()) o.has_from = true, o.from = parse_when(c.from, "--from");
  if (!c.to.empty()) o.has_to = true, o.to = parse_when(c.to, "--to");
  progress_bar bar(!c.quiet && !c.json);
  o.progress = [&](const char* s, std::int64_t a, std::int64_t b) {
    // SIGINT/SIGTERM: stop at the next step; nothing is written (exit code 4)
    if (stop_requested())
      CHORUS_THROW(interrupted_error, "ingest stopped by a signal; nothing was written");
    bar.update(s, a, b);
  };
  const ingest::ingest_summary s = ingest::run_ingest(o);
  bar.finish();
  for (const auto& w : s.warnings) std::fprintf(stderr, "chorus: WARNING: %s\n", w.c_str());
  if (c.json) std::printf("%s\n", ingest::to_json(s).c_str());
  if (!c.quiet && !c.json) print_summary(s);
  return 0;
}

}  // namespace chorus::cli
