// chorus: `chorus info` and `chorus demo`.
#include "chorus/outputs/info.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/results.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/progress.hpp"

namespace chorus {

void describe_file(const std::string& path, std::ostream& os) {
  probe_input_isolated(path, /*crash_only=*/true);
  if (is_results_file(path)) {
    check_edge_shards(path);
    h5::handle f = h5::open_read(path);
    os << path << ": chorus results file\n";
    for (const auto& name : h5::attr_names(f)) {
      std::string s;
      double d;
      if (h5::get_attr(f, name, s))
        os << "  " << std::left << std::setw(24) << name << s << "\n";
      else if (h5::get_attr(f, name, d))
        os << "  " << std::left << std::setw(24) << name << std::setprecision(10) << d << "\n";
    }
    auto sizes = h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/size"));
    os << "  clusters: " << sizes.size();
    if (!sizes.empty()) {
      os << " (largest:";
      for (std::size_t c = 0; c < std::min<std::size_t>(sizes.size(), 10); ++c)
        os << " " << sizes[c];
      os << ")";
    }
    os << "\n";
    return;
  }
  input_info in = inspect_input(path);
  os << path << ": chorus input, " << in.n << " accounts, " << in.file_size << " bytes\n";
  if (in.has_embedding)
    os << "  /embedding  [" << in.n << ", " << in.dim << "] " << in.embedding_dtype << "\n";
  else
    os << "  /embedding  absent\n";
  if (in.has_activity)
    os << "  /activity   [" << in.n << ", " << in.bins << "] " << in.activity_dtype << "\n";
  else
    os << "  /activity   absent\n";
  os << "  /accounts/handle " << (in.has_handles ? "present" : "absent") << "\n";
  os << "  /truth/cluster   " << (in.has_truth ? "present" : "absent") << "\n";
  os << "  default view: "
     << (in.has_embedding && in.has_activity ? "both"
         : in.has_embedding                  ? "embedding"
                                             : "activity")
     << "\n";
}

int run_demo(const demo_options& opt, std::ostream& os) {
  std::string dir = opt.workdir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/chorus-demo-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    CHORUS_EXPECTS(mkdtemp(buf.data()) != nullptr, "cannot create a temporary directory");
    dir = buf.data();
  } else {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0)  // an existing directory is used as it is
      CHORUS_EXPECTS(S_ISDIR(st.st_mode), "--workdir '", dir, "' is ",
                     S_ISREG(st.st_mode) ? "a file" : "not a directory",
                     ": give a directory (one that does not exist is created)");
    else
      CHORUS_EXPECTS(::mkdir(dir.c_str(), 0755) == 0, "cannot create --workdir '", dir,
                     "': ", std::strerror(errno));
  }
  const std::string input = dir + "/demo_input.h5", output = dir + "/demo_results.h5";
  progress_bar bar(opt.progress);
  os << "chorus demo: " << opt.accounts << " accounts, " << opt.dim << "-d embeddings, " << opt.bins
     << " hourly activity bins, " << opt.clusters << " planted clusters\n";
  os.flush();
  generate_options g;
  g.accounts = opt.accounts;
  g.dim = opt.dim;
  g.bins = opt.bins;
  g.clusters = opt.clusters;
  g.seed = opt.seed;
  g.out = input;
  g.force = true;
  const auto t0 = std::chrono::steady_clock::now();
  generate_summary gs = generate_dataset(
      g, [&](double f) { bar.update("generate", static_cast<std::int64_t>(f * 1000), 1000); });
  bar.finish();
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  os << "generated in " << std::fixed << std::setprecision(1) << gen_s << " s: " << gs.coordinated
     << " coordinated accounts, " << gs.topic_decoys << " topic decoys (same content, own timing), "
     << gs.timing_decoys << " timing decoys (scheduled bots)\n";

  detect_options d;
  d.input = input;
  d.output = output;
  d.force = true;
  d.threads = opt.threads;
  d.progress = [&](const char* s, std::int64_t a, std::int64_t b) { bar.update(s, a, b); };
  detect_summary s = run_detect(d);
  bar.finish();
  os << "detected in " << s.seconds_total << " s on the " << s.backend << " backend (" << s.detail
     << "), view " << s.view << ", thresholds 0.8/0.8: " << s.pairs << " pairs, " << s.candidates
     << " candidates re-scored exactly, " << s.edges << " edges, " << s.clusters << " clusters\n\n";

  h5::handle f = h5::open_read(output);
  auto sizes = h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/size"));
  auto dens = h5::read_all<double>(h5::open_dataset(f, "/clusters/density"));
  auto me = h5::read_all<double>(h5::open_dataset(f, "/clusters/mean_sim_embedding"));
  auto ma = h5::read_all<double>(h5::open_dataset(f, "/clusters/mean_sim_activity"));
  os << "cluster  size  planted  precision  recall  density  mean_emb  mean_act\n";
  const std::size_t show = std::min<std::size_t>(sizes.size(), 15);
  for (std::size_t c = 0; c < show; ++c) {
    char line[160];
    std::snprintf(line, sizeof line, "%7zu %5lld %8lld %10.3f %7.3f %8.3f %9.3f %9.3f\n", c,
                  static_cast<long long>(sizes[c]), static_cast<long long>(s.truth.best[c]),
                  s.truth.cluster_precision[c], s.truth.cluster_recall[c], dens[c], me[c], ma[c]);
    os << line;
  }
  if (sizes.size() > show) os << "... " << sizes.size() - show << " more clusters\n";
  os << "\noverall: " << s.clustered_accounts << " accounts flagged; precision "
     << std::setprecision(3) << s.truth.precision
     << " (flagged accounts that were planted), recall " << s.truth.recall
     << " (planted accounts flagged); " << s.truth.planted_recovered << " of "
     << s.truth.planted_clusters
     << " planted clusters recovered (precision >= 0.9, recall >= 0.5)\n";
  os << "files: input " << input << "\n       results " << output << "\n";
  os << "next: chorus info " << output << "\n";
  return 0;
}

}  // namespace chorus
