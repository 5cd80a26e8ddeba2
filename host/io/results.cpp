// chorus: atomic results writer.
#include "chorus/io/results.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/outputs/evidence.hpp"

namespace chorus {

namespace {
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
using edge_fn = std::function<void(const edge*, std::size_t)>;

// The four /edges datasets, filled from `visit` (which yields `m` edges in order); `also` (may
// be empty) sees every chunk after it is written.
void write_edges(const h5::handle& f, const edge_visitor& visit, std::uint64_t m,
                 const edge_fn& also = {}) {
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
      if (also) also(es, k);
      e0 += k;
    });
  CHORUS_ENSURES(e0 == m, "edge stream yielded ", e0, " of ", m, " edges");
}

// The evidence's view of results `r` (written to `results_name`, which messages name): the
// histogram settings come from the root attributes as they are stored (the last of a name
// wins, as on disk; a number where text is expected reads as absent, and vice versa).
evidence_inputs evidence_inputs_of(const results_content& r, const std::string& results_name) {
  evidence_inputs in;
  in.labels = r.labels;
  in.ids = r.ids;
  in.offsets = &r.clusters->offsets;
  in.members = &r.clusters->members;
  for (const auto& at : r.attributes) {
    const double number =
        at.is_integer ? static_cast<double>(static_cast<std::int64_t>(at.number)) : at.number;
    if (at.name == "view")
      in.view = at.is_text ? at.text.substr(0, at.text.find('\0')) : std::string();
    else if (at.name == "threshold")
      in.threshold = at.is_text ? -1.0 : number;
    else if (at.name == "threshold_activity")
      in.threshold_activity = at.is_text ? -1.0 : number;
  }
  in.input_path = r.evidence_input;
  in.memory = r.evidence_memory;
  in.results_name = results_name;
  return in;
}

// /edges of `r`, and with `evidence` its per-edge evidence computed from the same chunks (the
// builder and writer are created here, before the edges stream by).
void write_all_edges(const h5::handle& f, const std::string& path, const results_content& r,
                     evidence_inputs* evidence, std::unique_ptr<evidence_builder>& builder,
                     std::unique_ptr<evidence_writer>& writer) {
  edge_visitor edges = r.edges ? visit_vector(*r.edges) : r.edge_stream;
  std::uint64_t m = r.edges ? r.edges->size() : r.edge_count;
  if (!r.edge_shards.empty()) {
    // multi-process jobs: the evidence reads the shards (not the virtual datasets)
    std::vector<std::string> paths;
    m = 0;
    for (const auto& [file, rows] : r.edge_shards) {
      paths.push_back(!file.empty() && file[0] == '/' ? file : dir_of(path) + "/" + file);
      m += rows;
    }
    edges = visit_shards(paths);
  }
  edge_fn also;
  if (evidence) {
    evidence->edge_count = m;
    builder = std::make_unique<evidence_builder>(*evidence);
    writer = std::make_unique<evidence_writer>(f, builder->has_activity(), m);
    also = [&b = *builder, sink = writer->sink()](const edge* es, std::size_t k) {
      b.add(es, k, sink);
    };
  }
  if (r.edge_shards.empty()) {
    write_edges(f, edges, m, also);
    return;
  }
  auto sources = [&](const char* name) {
    std::vector<h5::virtual_source> v;
    for (const auto& [file, rows] : r.edge_shards) v.push_back({file, name, rows});
    return v;
  };
  // a reader that cannot find a shard sees -1 rows and NaN similarities, never edges
  h5::create_virtual_concat<std::int64_t>(f, "/edges/src", sources("/edges/src"), -1);
  h5::create_virtual_concat<std::int64_t>(f, "/edges/dst", sources("/edges/dst"), -1);
  h5::create_virtual_concat<float>(f, "/edges/sim_embedding", sources("/edges/sim_embedding"), NAN);
  h5::create_virtual_concat<float>(f, "/edges/sim_activity", sources("/edges/sim_activity"), NAN);
  if (also) edges(also);
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_edge_shard(const std::string& path, const edge_visitor& edges, std::uint64_t count) {
  {
    h5::handle f = h5::create(path);
    write_edges(f, edges, count);
    h5::set_attr(f, "chorus_edge_shard", std::int64_t{1});
    h5::flush(f);
  }
  fsync_path(path);
}

edge_visitor visit_shards(const std::vector<std::string>& paths) {
  return [paths](const std::function<void(const edge*, std::size_t)>& fn) {
    const std::uint64_t block = 1 << 20;
    std::vector<std::int64_t> a, b;
    std::vector<float> x, y;
    std::vector<edge> es;
    for (const auto& p : paths) {
      h5::handle f = h5::open_read(p);
      auto src = h5::open_dataset(f, "/edges/src"), dst = h5::open_dataset(f, "/edges/dst");
      auto se = h5::open_dataset(f, "/edges/sim_embedding");
      auto sa = h5::open_dataset(f, "/edges/sim_activity");
      const std::uint64_t m = h5::describe(src).dims.at(0);
      for (std::uint64_t e0 = 0; e0 < m; e0 += block) {
        const std::uint64_t k = std::min(block, m - e0);
        a.resize(k), b.resize(k), x.resize(k), y.resize(k), es.resize(k);
        h5::read_rows(src, e0, k, a.data());
        h5::read_rows(dst, e0, k, b.data());
        h5::read_rows(se, e0, k, x.data());
        h5::read_rows(sa, e0, k, y.data());
        for (std::uint64_t e = 0; e < k; ++e) es[e] = {a[e], b[e], x[e], y[e]};
        fn(es.data(), k);
      }
    }
  };
}

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
      // the evidence streams with the edges, from what `r` holds (no read-back of the file)
      std::optional<evidence_inputs> evidence;
      if (!r.evidence_input.empty()) evidence = evidence_inputs_of(r, tmp);
      std::unique_ptr<evidence_builder> builder;
      std::unique_ptr<evidence_writer> writer;
      const auto& labels = *r.labels;
      const auto& t = *r.clusters;
      h5::write_vector(f, "/labels", labels);
      h5::write_vector(f, "/accounts/id", *r.ids);
      if (r.row_checksums) h5::write_vector(f, "/accounts/row_checksum", *r.row_checksums);
      write_all_edges(f, tmp, r, evidence ? &*evidence : nullptr, builder, writer);
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
      if (r.ranks) {
        const auto& R = *r.ranks;
        auto column = [&](const char* name, auto get) {
          std::vector<decltype(get(R[0]))> v;
          for (const auto& x : R) v.push_back(get(x));
          h5::write_vector(f, std::string("/ranks/") + name, v);
        };
        if (!R.empty()) {
          column("row_begin", [](const rank_record& x) { return x.row_begin; });
          column("row_end", [](const rank_record& x) { return x.row_end; });
          column("pairs", [](const rank_record& x) { return x.pairs; });
          column("candidates", [](const rank_record& x) { return x.candidates; });
          column("edges", [](const rank_record& x) { return x.edges; });
          column("seconds_read", [](const rank_record& x) { return x.seconds_read; });
          column("seconds_score", [](const rank_record& x) { return x.seconds_score; });
          column("seconds_local", [](const rank_record& x) { return x.seconds_local; });
          column("bytes_sent", [](const rank_record& x) { return x.bytes_sent; });
          std::vector<std::string> hosts;
          for (const auto& x : R) hosts.push_back(x.host);
          h5::write_strings(f, "/ranks/host", hosts);
        }
      }
      if (r.extra) r.extra(f);
      for (const auto& at : r.attributes) {
        if (at.is_text)
          h5::set_attr(f, at.name, at.text);
        else if (at.is_integer)
          h5::set_attr(f, at.name, static_cast<std::int64_t>(at.number));
        else
          h5::set_attr(f, at.name, at.number);
      }
      h5::set_attr(f, "chorus_results", std::int64_t{1});
      if (writer) writer->finish(builder->finish());
      h5::flush(f);
    }
    fsync_path(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      CHORUS_THROW(runtime_failure, "cannot rename '", tmp, "' to '", path, "'");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

void check_edge_shards(const std::string& path) {
  h5::handle f = h5::open_read(path);
  if (!h5::exists(f, "/edges/src")) return;
  const std::string dir = dir_of(path);
  for (const auto& name : h5::virtual_files(h5::open_dataset(f, "/edges/src"))) {
    if (name == ".") continue;  // the file itself
    const std::string full = name[0] == '/' ? name : dir + "/" + name;
    struct stat st {};
    CHORUS_EXPECTS(stat(full.c_str(), &st) == 0, "results file '", path,
                   "' keeps its edges in shard files next to it (a multi-process run), and '", full,
                   "' is missing: keep the shards with the results file");
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
