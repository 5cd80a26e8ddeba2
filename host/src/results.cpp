// chorus: atomic results writer.
#include "chorus/results.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "chorus/error.hpp"
#include "chorus/evidence.hpp"
#include "chorus/h5.hpp"

namespace chorus {

namespace {
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

void check_output_path(const std::string& path, bool force) {
  CHORUS_EXPECTS(!path.empty(), "no output path given (--out)");
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    CHORUS_EXPECTS(!S_ISDIR(st.st_mode), "output '", path, "' is a directory");
    CHORUS_EXPECTS(force, "output '", path, "' exists; pass --force to overwrite it");
  }
  const std::string dir = dir_of(path);
  CHORUS_EXPECTS(stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), "output directory '", dir,
                 "' does not exist");
  CHORUS_EXPECTS(access(dir.c_str(), W_OK) == 0, "output directory '", dir, "' is not writable");
}

void write_results(const std::string& path, const results_content& r) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    {
      h5::handle f = h5::create(tmp);
      const auto& labels = *r.labels;
      const auto& t = *r.clusters;
      h5::write_vector(f, "/labels", labels);
      h5::write_vector(f, "/accounts/id", *r.ids);
      const edge_visitor visit = r.edges ? visit_vector(*r.edges) : r.edge_stream;
      const std::uint64_t m = r.edges ? r.edges->size() : r.edge_count;
      const std::uint64_t chunk = 1 << 16;
      auto src = h5::create_dataset<std::int64_t>(f, "/edges/src", {m}, m > chunk ? chunk : 0,
                                                  m > chunk ? 1 : 0);
      auto dst = h5::create_dataset<std::int64_t>(f, "/edges/dst", {m}, m > chunk ? chunk : 0,
                                                  m > chunk ? 1 : 0);
      auto se = h5::create_dataset<float>(f, "/edges/sim_embedding", {m}, m > chunk ? chunk : 0, 0);
      auto sa = h5::create_dataset<float>(f, "/edges/sim_activity", {m}, m > chunk ? chunk : 0, 0);
      std::vector<std::int64_t> a, b;
      std::vector<float> x, y;
      std::uint64_t e0 = 0;
      if (visit)
        visit([&](const edge* es, std::size_t k) {
          CHORUS_ENSURES(e0 + k <= m, "edge stream longer than announced");
          a.resize(k), b.resize(k), x.resize(k), y.resize(k);
          for (std::size_t e = 0; e < k; ++e) {
            a[e] = es[e].src;
            b[e] = es[e].dst;
            x[e] = es[e].sim_embedding;
            y[e] = es[e].sim_activity;
          }
          h5::write_rows(src, e0, k, a.data());
          h5::write_rows(dst, e0, k, b.data());
          h5::write_rows(se, e0, k, x.data());
          h5::write_rows(sa, e0, k, y.data());
          e0 += k;
        });
      CHORUS_ENSURES(e0 == m, "edge stream yielded ", e0, " of ", m, " edges");
      h5::write_vector(f, "/clusters/size", t.size);
      h5::write_vector(f, "/clusters/offsets", t.offsets);
      h5::write_vector(f, "/clusters/members", t.members);
      h5::write_vector(f, "/clusters/edges", t.edges);
      h5::write_vector(f, "/clusters/density", t.density);
      h5::write_vector(f, "/clusters/mean_sim_embedding", t.mean_sim_embedding);
      h5::write_vector(f, "/clusters/min_sim_embedding", t.min_sim_embedding);
      h5::write_vector(f, "/clusters/mean_sim_activity", t.mean_sim_activity);
      h5::write_vector(f, "/clusters/min_sim_activity", t.min_sim_activity);
      h5::write_vector(f, "/clusters/activity_synchrony", t.synchrony);
      if (r.truth) {
        h5::write_vector(f, "/clusters/truth_best", r.truth->best);
        h5::write_vector(f, "/clusters/truth_precision", r.truth->cluster_precision);
        h5::write_vector(f, "/clusters/truth_recall", r.truth->cluster_recall);
      }
      for (const auto& at : r.attributes) {
        if (at.is_text)
          h5::set_attr(f, at.name, at.text);
        else if (at.is_integer)
          h5::set_attr(f, at.name, static_cast<std::int64_t>(at.number));
        else
          h5::set_attr(f, at.name, at.number);
      }
      h5::set_attr(f, "chorus_results", std::int64_t{1});
      h5::flush(f);
    }
    if (!r.evidence_input.empty()) add_evidence(tmp, r.evidence_input);
    int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      CHORUS_THROW(runtime_failure, "cannot rename '", tmp, "' to '", path, "'");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

bool is_results_file(const std::string& path) {
  try {
    h5::handle f = h5::open_read(path);
    return h5::exists(f, "/labels") && h5::exists(f, "/edges");
  } catch (const error&) {
    return false;
  }
}

}  // namespace chorus
