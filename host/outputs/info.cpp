// chorus: `chorus info` and `chorus demo`.
#include "chorus/outputs/info.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <map>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/results.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/progress.hpp"

namespace chorus {

namespace {

constexpr std::size_t kMaxListed = 200;  // objects listed for a file that is not chorus's

std::string dims_text(const std::vector<std::uint64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// The object at `path`: its type and, for telling hard links to one object apart, its address
// ("" when it cannot be read).
std::string object_at(const h5::handle& f, const std::string& path, H5O_type_t& type) {
  H5O_info_t oi;
#if H5_VERSION_GE(1, 12, 0)
  if (H5Oget_info_by_name3(f.get(), path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return "";
  type = oi.type;
  return std::string(reinterpret_cast<const char*>(&oi.token), sizeof oi.token);
#else
  if (H5Oget_info_by_name2(f.get(), path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return "";
  type = oi.type;
  return std::to_string(oi.fileno) + ":" + std::to_string(oi.addr);
#endif
}

// One line per object under `group` ("  /path  [3, 2] float64" for a dataset, "  /path/  group"
// for a group, whose objects follow), in name order; soft and external links are named, never
// followed; a group reached again through another hard link is named, not listed again
// (`groups`: the groups listed, by object address); at most kMaxListed lines, 32 groups deep.
void list_group(const h5::handle& f, const std::string& group, int depth,
                std::map<std::string, std::string>& groups, std::vector<std::string>& out) {
  std::vector<std::string> names;
  try {
    names = h5::children(f, group);
  } catch (const error&) {
    out.push_back("  " + group + "  (group cannot be listed)");
    return;
  }
  for (const std::string& name : names) {
    if (out.size() >= kMaxListed) return;
    const std::string path = (group == "/" ? "" : group) + "/" + name;
    H5L_info_t li;
    if (H5Lget_info(f.get(), path.c_str(), &li, H5P_DEFAULT) < 0) {
      out.push_back("  " + path + "  (unreadable link)");
      continue;
    }
    if (li.type != H5L_TYPE_HARD) {
      out.push_back("  " + path + (li.type == H5L_TYPE_SOFT ? "  soft link" : "  external link"));
      continue;
    }
    H5O_type_t type = H5O_TYPE_UNKNOWN;
    const std::string addr = object_at(f, path, type);
    if (addr.empty()) {
      out.push_back("  " + path + "  (unreadable object)");
    } else if (type == H5O_TYPE_GROUP) {
      const auto seen = groups.emplace(addr, path);
      out.push_back("  " + path + "/  group" +
                    (seen.second ? "" : " (the same group as " + seen.first->second + "/)"));
      if (seen.second && depth < 32) list_group(f, path, depth + 1, groups, out);
    } else if (type == H5O_TYPE_DATASET) {
      try {
        const h5::dataset_info di = h5::describe(h5::open_dataset(f, path));
        out.push_back("  " + path + "  " + dims_text(di.dims) + " " + dtype_name(di));
      } catch (const error&) {
        out.push_back("  " + path + "  (unreadable dataset)");
      }
    } else {
      out.push_back("  " + path + "  named datatype");
    }
  }
}

// The listing of `path` (list_group from "/"), made in a child process: HDF5 may crash on
// damaged metadata that the input checks never reached, and `chorus info` must not. Throws
// input_error naming the file as damaged when the child crashed; returns false when the
// listing failed otherwise.
bool listing_in_child(const std::string& path, std::vector<std::string>& lines) {
  const auto list = [&path](std::vector<std::string>& out) {
    const h5::handle f = h5::open_read(path);
    H5O_type_t type = H5O_TYPE_UNKNOWN;
    std::map<std::string, std::string> groups{{object_at(f, "/", type), ""}};
    list_group(f, "/", 0, groups, out);
  };
  int fds[2];
  if (pipe(fds) != 0) {
    list(lines);  // no isolation available: in-process
    return true;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]), close(fds[1]);
    list(lines);
    return true;
  }
  if (pid == 0) {
    close(fds[0]);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    std::string text;
    try {
      std::vector<std::string> out;
      list(out);
      for (const std::string& l : out) text += l + "\n";
      text += "END\n";
    } catch (...) {
      text = "FAILED\n";
    }
    for (std::size_t at = 0; at < text.size();) {
      const ssize_t w = write(fds[1], text.data() + at, text.size() - at);
      if (w <= 0 && errno != EINTR) break;
      if (w > 0) at += static_cast<std::size_t>(w);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t got; (got = read(fds[0], buf, sizeof buf)) != 0;) {
    if (got > 0)
      text.append(buf, static_cast<std::size_t>(got));
    else if (errno != EINTR)
      break;
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (text == "FAILED\n") return false;
  CHORUS_EXPECTS(text.size() >= 4 && text.compare(text.size() - 4, 4, "END\n") == 0, "'", path,
                 "' is damaged: the HDF5 library crashed listing its contents");
  text.resize(text.size() - 4);
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(text.substr(at, nl - at));
  return true;
}

// An HDF5 file that is neither a chorus input nor a results file: its objects, and `why` chorus
// cannot read it as an input. A file that does not open as HDF5 at all throws as before.
void describe_other(const std::string& path, const std::string& why, std::ostream& os) {
  h5::open_read(path);  // missing, not HDF5, truncated: the same error (exit code 2) as before
  std::vector<std::string> lines;
  if (!listing_in_child(path, lines)) CHORUS_THROW(input_error, why);
  struct stat st {};
  const auto bytes = stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  os << path << ": HDF5 file, " << bytes << " bytes, not a chorus input or results file\n";
  if (lines.empty()) os << "  (no datasets or groups)\n";
  for (const std::string& l : lines) os << l << "\n";
  if (lines.size() >= kMaxListed) os << "  ... (only the first " << kMaxListed << " listed)\n";
  os << "not a chorus input: " << why << "\n";
}

}  // namespace

// A timeline (chorus track --out): its runs and events. False when `path` is not one.
static bool describe_timeline(const std::string& path, std::ostream& os) {
  std::string tracker;
  h5::handle f;
  try {
    f = h5::open_read(path);
    if (!h5::get_attr(f, "tracker", tracker)) return false;
  } catch (const error&) {
    return false;
  }
  const auto dates = h5::read_strings(h5::open_dataset(f, "/runs/date"));
  const auto kinds = h5::read_strings(h5::open_dataset(f, "/events/kind"));
  std::int64_t ids = 0;
  h5::get_attr(f, "stable_ids", ids);
  os << path << ": chorus timeline (" << tracker << "), " << dates.size() << " runs";
  if (!dates.empty()) os << " (" << dates.front() << " to " << dates.back() << ")";
  os << ", " << ids << " tracked networks, " << kinds.size() << " events:";
  for (const char* k : {"birth", "death", "growth", "shrink", "merge", "split"})
    os << " " << std::count(kinds.begin(), kinds.end(), std::string(k)) << " " << k;
  os << "\n";
  return true;
}

// --significance: the models, the resamples and how many clusters are significant.
void describe_significance(const h5::handle& f, std::ostream& os) {
  if (!h5::exists(f, "/clusters/p_value") || !h5::exists(f, "/clusters/null")) return;
  const auto p = h5::read_all<double>(h5::open_dataset(f, "/clusters/p_value"));
  const auto q = h5::read_all<double>(h5::open_dataset(f, "/clusters/q_value"));
  const h5::handle g = h5::open_group(f, "/clusters/null");
  std::int64_t k = 0;
  std::string models;
  h5::get_attr(g, "resamples", k);
  h5::get_attr(g, "models", models);
  std::int64_t tested = 0, p3 = 0, q5 = 0;
  for (std::size_t c = 0; c < p.size(); ++c) {
    tested += !std::isnan(p[c]);
    p3 += p[c] < 0.001;
    q5 += q[c] < 0.05;
  }
  os << "  significance: " << models << " null, " << k << " resamples; " << p3 << " of " << tested
     << " clusters tested have p < 0.001, " << q5 << " have q < 0.05\n";
}

void describe_file(const std::string& path, std::ostream& os) {
  probe_input_isolated(path, /*crash_only=*/true);
  if (is_results_file(path)) {
    check_edge_shards(path);
    h5::handle f = h5::open_read(path);
    os << path << ": chorus results file\n";
    for (const auto& name : h5::attr_names(f)) {
      std::string s;
      double d;
      const int width = std::max(24, static_cast<int>(name.size()) + 1);  // a space after long ones
      if (h5::get_attr(f, name, s))
        os << "  " << std::left << std::setw(width) << name << s << "\n";
      else if (h5::get_attr(f, name, d))
        os << "  " << std::left << std::setw(width) << name << std::setprecision(10) << d << "\n";
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
    describe_significance(f, os);
    return;
  }
  if (describe_timeline(path, os)) return;
  input_info in;
  try {
    in = inspect_input(path);
  } catch (const input_error& e) {
    describe_other(path, e.what(), os);
    return;
  }
  os << path << ": chorus input, " << in.n << " accounts, " << in.file_size << " bytes\n";
  if (in.has_embedding)
    os << "  /embedding  [" << in.n << ", " << in.dim << "] " << in.embedding_dtype << "\n";
  else
    os << "  /embedding  absent\n";
  if (in.has_activity)
    os << "  /activity   [" << in.n << ", " << in.bins << "] " << in.activity_dtype << "\n";
  else
    os << "  /activity   absent\n";
  if (in.string_ids())
    os << "  /accounts/id     strings, hashed to int64 ids (FNV-1a, see datasets/SCHEMA.md)\n";
  os << "  /accounts/handle "
     << (in.has_handles    ? "present"
         : in.string_ids() ? "absent (the string ids serve as handles)"
                           : "absent")
     << "\n";
  os << "  /truth/cluster   " << (in.has_truth ? "present" : "absent") << "\n";
  os << "  default view: "
     << (in.has_embedding && in.has_activity ? "both"
         : in.has_embedding                  ? "embedding"
                                             : "activity")
     << "\n";
}

std::string demo_workdir(const std::string& workdir) {
  std::string dir = workdir;
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
  return dir;
}

int run_demo(const demo_options& opt, std::ostream& os) {
  if (!opt.vectors) return run_posts_demo(opt, os);
  const std::string dir = demo_workdir(opt.workdir);
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
