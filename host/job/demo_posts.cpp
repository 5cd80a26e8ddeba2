// chorus demo, the analyst's path: posts corpus -> chorus ingest -> chorus detect -> how many of
// the planted campaigns were found, and how many decoys were flagged by mistake.
#include <chrono>
#include <cstdio>
#include <iomanip>

#include "chorus/generate/posts.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/progress.hpp"
#include "chorus/outputs/info.hpp"

namespace chorus {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The recommended settings for an ingested corpus (README, "From posts to a report").
constexpr double kContentThreshold = 0.95, kActivityThreshold = 0.6;
// Resamples of the significance test (README, "Significance"): p < 0.001 is reachable.
constexpr std::int64_t kResamples = 1000;

// Accounts of each kind flagged (in a cluster), from the results' labels and the input's truth.
void print_decoys(const std::string& input, const std::string& output, std::ostream& os) {
  const auto kind =
      h5::read_all<std::int8_t>(h5::open_dataset(h5::open_read(input), "/truth/kind"));
  const auto labels =
      h5::read_all<std::int64_t>(h5::open_dataset(h5::open_read(output), "/labels"));
  std::int64_t flagged[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < kind.size() && i < labels.size(); ++i) {
    const int k = kind[i] >= 0 && kind[i] < 4 ? kind[i] : 0;
    ++total[k];
    flagged[k] += labels[i] >= 0;
  }
  os << "decoys flagged: " << flagged[2] << " of " << total[2]
     << " fans reposting the same celebrity, " << flagged[3] << " of " << total[3]
     << " scheduled news bots; organic accounts flagged: " << flagged[0] << " of " << total[0]
     << "\n";
}

// How the networks fared against the significance test: the planted campaigns (clusters of at
// least 90% planted accounts) and the others.
void print_significance(const std::string& output, std::int64_t resamples, std::ostream& os) {
  const h5::handle f = h5::open_read(output);
  const auto p = h5::read_all<double>(h5::open_dataset(f, "/clusters/p_value"));
  const auto tp = h5::read_all<double>(h5::open_dataset(f, "/clusters/truth_precision"));
  std::int64_t planted = 0, planted_low = 0, other = 0, other_low = 0;
  double other_min = 1;
  for (std::size_t c = 0; c < p.size(); ++c) {
    const bool low = p[c] < 0.001;
    if (tp[c] >= 0.9) {
      ++planted, planted_low += low;
    } else {
      ++other, other_low += low, other_min = std::min(other_min, p[c]);
    }
  }
  os << "significance (" << resamples
     << " resamples of each network's accounts without coordination): " << planted_low << " of "
     << planted << " planted campaigns have p < 0.001; " << other_low << " of " << other
     << " other networks do";
  if (other > 0) os << " (smallest p " << std::setprecision(3) << other_min << ")";
  os << "\n";
}

}  // namespace

int run_posts_demo(const demo_options& opt, std::ostream& os) {
  const std::string dir = demo_workdir(opt.workdir);
  const std::string posts = dir + "/demo_posts.csv", truth = dir + "/demo_posts.truth.csv";
  const std::string input = dir + "/demo_input.h5", output = dir + "/demo_results.h5";
  progress_bar bar(opt.progress);
  auto tick = [&](const char* s, std::int64_t a, std::int64_t b) { bar.update(s, a, b); };

  posts_options g;
  g.accounts = opt.posts_accounts;
  g.campaigns = opt.campaigns;
  g.seed = opt.seed;
  g.out = posts;
  g.truth_out = truth;
  g.force = true;
  g.threads = opt.threads;
  auto t0 = std::chrono::steady_clock::now();
  const posts_summary gs = generate_posts(
      g, [&](double f) { tick("generate", static_cast<std::int64_t>(f * 1000), 1000); });
  bar.finish();
  os << std::fixed << std::setprecision(1) << "chorus demo: generated " << gs.posts << " posts by "
     << gs.accounts << " accounts over " << g.days << " days in " << seconds_since(t0)
     << " s: " << gs.coordinated << " accounts in " << gs.campaign_sizes.size()
     << " planted campaigns, " << gs.fans << " fans of one celebrity and " << gs.news_bots
     << " scheduled news bots as decoys\n  " << posts << "\n";
  os.flush();

  ingest::ingest_options in;
  in.inputs = {posts};
  in.out = input;
  in.force = true;
  in.truth = truth;
  in.threads = opt.threads;
  in.progress = tick;
  const ingest::ingest_summary is = ingest::run_ingest(in);
  bar.finish();
  os << "ingested in " << is.seconds_total << " s (chorus ingest " << posts << " --out " << input
     << "): " << is.accounts << " accounts with >= " << in.min_posts << " posts, " << is.dim
     << "-d content vectors (LSA), " << is.bins << " activity bins of " << is.bin_seconds / 3600.0
     << " h\n";
  os.flush();

  detect_options d;
  d.input = input;
  d.output = output;
  d.force = true;
  d.threads = opt.threads;
  d.threshold = kContentThreshold;
  d.threshold_given = true;
  d.threshold_activity = kActivityThreshold;
  d.threshold_activity_given = true;
  d.significance = kResamples;
  d.progress = tick;
  const detect_summary s = run_detect(d);
  bar.finish();
  for (const auto& w : s.warnings) os << "WARNING: " << w << "\n";
  os << std::setprecision(2) << "detected in " << s.seconds_total << " s (chorus detect --input "
     << input << " --threshold " << kContentThreshold << " --threshold-activity "
     << kActivityThreshold << " --significance " << kResamples << "): view " << s.view << ", "
     << s.edges << " edges, " << s.clusters << " clusters\n";
  os << std::setprecision(3) << "against the planted campaigns: precision " << s.truth.precision
     << " (flagged accounts that were planted), recall " << s.truth.recall
     << " (planted accounts flagged); " << s.truth.planted_recovered << " of "
     << s.truth.planted_clusters << " campaigns recovered\n";
  print_decoys(input, output, os);
  print_significance(output, kResamples, os);
  os << "files: posts " << posts << "\n       input " << input << "\n       results " << output
     << "\nnext: chorus report " << output << " --out report.html\n";
  return 0;
}

}  // namespace chorus
