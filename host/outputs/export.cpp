// chorus: GraphML, GEXF 1.2 and CSV exports of a results file.
#include "chorus/outputs/export.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/results.hpp"
#include "chorus/outputs/pseudonym.hpp"

namespace chorus {

namespace {

constexpr std::uint64_t kEdgeChunk = 1u << 20;

bool path_exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A buffered output file written under a temporary name and renamed over `path` by commit().
class atomic_file {
 public:
  atomic_file(const std::string& path, bool force) : path_(path) {
    CHORUS_EXPECTS(!is_dir(path), "output '", path, "' is a directory");
    CHORUS_EXPECTS(force || !path_exists(path), "output '", path,
                   "' exists (use --force to overwrite)");
    tmp_ = path + ".tmp." + std::to_string(getpid());
    f_ = std::fopen(tmp_.c_str(), "wb");
    CHORUS_EXPECTS(f_ != nullptr, "cannot create '", tmp_, "': ", std::strerror(errno),
                   " (directory missing or not writable?)");
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  void put(const std::string& s) { std::fwrite(s.data(), 1, s.size(), f_); }
  void commit() {
    bool ok = std::fflush(f_) == 0 && !std::ferror(f_) && fsync(fileno(f_)) == 0;
    ok = (std::fclose(f_) == 0) && ok;
    f_ = nullptr;
    if (!ok) CHORUS_THROW(runtime_failure, "cannot write '", tmp_, "' (disk full?)");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      CHORUS_THROW(runtime_failure, "cannot rename '", tmp_, "' to '", path_,
                   "': ", std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Replace bytes that are not valid UTF-8, and characters XML 1.0 forbids, by U+FFFD.
std::string clean_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char c = p[i];
    std::size_t len = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 1 && c < 0x20 && c != '\t' && c != '\n' && c != '\r') ok = false;
    if (ok && len == 2 && c < 0xC2) ok = false;  // overlong
    if (ok && len == 3) {
      unsigned cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) ok = false;
    }
    if (ok && len == 4) {
      unsigned cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) |
                    (p[i + 3] & 0x3F);
      if (cp < 0x10000 || cp > 0x10FFFF) ok = false;
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  return out;
}

std::string xml_escape(const std::string& raw) {
  std::string s = clean_utf8(raw), out;
  out.reserve(s.size());
  for (char c : s) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string csv_field(const std::string& raw) { return csv_quote(clean_utf8(raw)); }

std::string num(double v, int digits) {
  if (!std::isfinite(v)) return std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// What an export needs from a results file.
struct results_view {
  h5::handle file;
  std::uint64_t n = 0, e = 0;
  std::vector<std::int64_t> labels, ids, size, offsets, members, cluster_edges;
  std::vector<double> density, mean_emb, min_emb, mean_act, min_act, synchrony;
  bool has_truth = false;
  std::vector<std::int64_t> truth_best;
  std::vector<double> truth_precision, truth_recall;
  bool has_handles = false, has_coactive = false;
  bool has_weights = false;  // co-action views: /edges/weight, weight_src_dst, weight_dst_src
  /// Further int64 edge columns (--edges runs): "terms" and "<view>_weight_src_dst", ...
  std::vector<std::string> extra_names, extra_paths;
  std::vector<std::string> member_handles;  // aligned with members
  std::vector<char> selected;               // per cluster
  std::vector<std::int64_t> degree;         // per row (selected rows only)
  bool has_p = false;                       // chorus detect --significance
  std::vector<double> p_value, q_value;     // per cluster
  /// --pseudonymize: account pseudonyms of the selected rows, handle pseudonyms of their
  /// members (aligned with members; empty elsewhere); row numbers are then never written
  bool pseudo = false;
  std::unordered_map<std::int64_t, std::string> account_pseudonym;
  std::vector<std::string> handle_pseudonym;
};

// What the exports write for an account: its id, or its pseudonym.
std::string account_text(const results_view& r, std::int64_t row) {
  if (!r.pseudo) return std::to_string(r.ids[row]);
  const auto it = r.account_pseudonym.find(row);
  CHORUS_EXPECTS(it != r.account_pseudonym.end(), "results file is damaged: an edge of row ", row,
                 " leaves its cluster");
  return it->second;
}
// A node's id: its row (with a prefix), or its account pseudonym.
std::string node_id(const results_view& r, std::int64_t row, const char* prefix) {
  return r.pseudo ? account_text(r, row) : prefix + std::to_string(row);
}
// Member q's handle: as stored (escaped by the caller), or its pseudonym.
const std::string& handle_text(const results_view& r, std::int64_t q) {
  return r.pseudo ? r.handle_pseudonym[q] : r.member_handles[q];
}

template <typename T>
std::vector<T> read_opt(const h5::handle& f, const std::string& path, std::size_t n, T fill) {
  if (!h5::exists(f, path)) return std::vector<T>(n, fill);
  return h5::read_all<T>(h5::open_dataset(f, path));
}

/// One edge as the exports write it: -1 for a count the results do not have.
struct edge_row {
  std::int64_t src = 0, dst = 0;
  float se = NAN, sa = NAN;
  std::int64_t coactive = -1;                      ///< /evidence/edge_coactive_count
  std::int64_t weight = -1, w_sd = -1, w_ds = -1;  ///< co-action weights
  std::vector<std::int64_t> extra;                 ///< results_view::extra_names' values
};

// Visit the edges of selected clusters chunk by chunk (with_attrs: similarities and counts too).
void for_each_edge(const results_view& r, bool with_attrs,
                   const std::function<void(const edge_row&)>& f) {
  h5::handle sd = h5::open_dataset(r.file, "/edges/src"),
             dd = h5::open_dataset(r.file, "/edges/dst");
  h5::handle ed, ad, cd, wd[3];
  const char* weight_names[3] = {"/edges/weight", "/edges/weight_src_dst", "/edges/weight_dst_src"};
  if (with_attrs) {
    ed = h5::open_dataset(r.file, "/edges/sim_embedding");
    ad = h5::open_dataset(r.file, "/edges/sim_activity");
    if (r.has_coactive) cd = h5::open_dataset(r.file, "/evidence/edge_coactive_count");
    for (int k = 0; r.has_weights && k < 3; ++k) wd[k] = h5::open_dataset(r.file, weight_names[k]);
  }
  std::vector<h5::handle> xd;
  for (std::size_t k = 0; with_attrs && k < r.extra_paths.size(); ++k)
    xd.push_back(h5::open_dataset(r.file, r.extra_paths[k]));
  std::vector<std::vector<std::int64_t>> xv(xd.size());
  std::vector<std::int64_t> s, d, w[3];
  std::vector<float> se, sa;
  std::vector<std::int32_t> cc;
  for (std::uint64_t e0 = 0; e0 < r.e; e0 += kEdgeChunk) {
    const std::uint64_t m = std::min<std::uint64_t>(kEdgeChunk, r.e - e0);
    s.resize(m), d.resize(m);
    h5::read_rows<std::int64_t>(sd, e0, m, s.data());
    h5::read_rows<std::int64_t>(dd, e0, m, d.data());
    if (with_attrs) {
      se.resize(m), sa.resize(m);
      h5::read_rows<float>(ed, e0, m, se.data());
      h5::read_rows<float>(ad, e0, m, sa.data());
      if (r.has_coactive) {
        cc.resize(m);
        h5::read_rows<std::int32_t>(cd, e0, m, cc.data());
      }
      for (int k = 0; r.has_weights && k < 3; ++k) {
        w[k].resize(m);
        h5::read_rows<std::int64_t>(wd[k], e0, m, w[k].data());
      }
      for (std::size_t k = 0; k < xd.size(); ++k) {
        xv[k].resize(m);
        h5::read_rows<std::int64_t>(xd[k], e0, m, xv[k].data());
      }
    }
    for (std::uint64_t k = 0; k < m; ++k) {
      CHORUS_EXPECTS(s[k] >= 0 && static_cast<std::uint64_t>(s[k]) < r.n && d[k] >= 0 &&
                         static_cast<std::uint64_t>(d[k]) < r.n,
                     "results file is damaged: edge ", e0 + k, " has rows out of range");
      const std::int64_t c = r.labels[s[k]];
      if (c < 0 || static_cast<std::size_t>(c) >= r.selected.size() || !r.selected[c]) continue;
      edge_row e;
      e.src = s[k], e.dst = d[k];
      if (with_attrs) {
        e.se = se[k], e.sa = sa[k];
        if (r.has_coactive) e.coactive = cc[k];
        if (r.has_weights) e.weight = w[0][k], e.w_sd = w[1][k], e.w_ds = w[2][k];
        for (const auto& col : xv) e.extra.push_back(col[k]);
      }
      f(e);
    }
  }
}

// /clusters/p_value and q_value of chorus detect --significance, when the results have them.
void load_significance(results_view& r, std::size_t k) {
  r.has_p = h5::exists(r.file, "/clusters/p_value") &&
            h5::describe(h5::open_dataset(r.file, "/clusters/p_value")).dims.at(0) == k;
  if (!r.has_p) return;
  r.p_value = h5::read_all<double>(h5::open_dataset(r.file, "/clusters/p_value"));
  const bool has_q = h5::exists(r.file, "/clusters/q_value") &&
                     h5::describe(h5::open_dataset(r.file, "/clusters/q_value")).dims.at(0) == k;
  r.q_value = has_q ? h5::read_all<double>(h5::open_dataset(r.file, "/clusters/q_value"))
                    : std::vector<double>(k, NAN);
}

// The clusters to export; with a pseudonymizer, the pseudonyms of their accounts and handles.
void select_clusters(results_view& r, const export_options& opt, pseudonymizer* pz) {
  const std::size_t k = r.size.size();
  load_significance(r, k);
  CHORUS_EXPECTS(std::isnan(opt.max_p) || r.has_p, "--max-p: results file '", opt.results,
                 "' has no p-values (run chorus detect --significance K)");
  r.selected.assign(k, 0);
  for (std::size_t c = 0; c < k; ++c)
    r.selected[c] =
        r.size[c] >= opt.min_size && (std::isnan(opt.max_p) || r.p_value[c] <= opt.max_p);
  if (!pz) return;
  r.pseudo = true;
  if (r.has_handles) r.handle_pseudonym.resize(r.members.size());
  for (std::size_t c = 0; c < k; ++c)
    for (std::int64_t q = r.offsets[c]; r.selected[c] && q < r.offsets[c + 1]; ++q) {
      r.account_pseudonym.emplace(r.members[q], pz->account(r.ids[r.members[q]]));
      if (r.has_handles) r.handle_pseudonym[q] = pz->handle(r.member_handles[q]);
    }
}

results_view load(const export_options& opt, pseudonymizer* pz) {
  const std::string& path = opt.results;
  results_view r;
  probe_input_isolated(path, /*crash_only=*/true);  // a file that crashes HDF5: exit code 2
  r.file = h5::open_read(path);
  check_edge_shards(path);
  std::int64_t tag = 0;
  CHORUS_EXPECTS(h5::get_attr(r.file, "chorus_results", tag) && tag == 1, "'", path,
                 "' is not a chorus results file (no chorus_results attribute)");
  r.labels = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/labels"));
  r.ids = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/accounts/id"));
  r.n = r.labels.size();
  CHORUS_EXPECTS(r.ids.size() == r.n, "results file '", path,
                 "' is damaged: /labels and /accounts/id differ in length");
  r.size = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/clusters/size"));
  r.offsets = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/clusters/offsets"));
  r.members = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/clusters/members"));
  const std::size_t k = r.size.size();
  CHORUS_EXPECTS(
      r.offsets.size() == k + 1 && r.offsets.back() == static_cast<std::int64_t>(r.members.size()),
      "results file '", path, "' is damaged: cluster CSR is inconsistent");
  for (std::int64_t m : r.members)
    CHORUS_EXPECTS(m >= 0 && static_cast<std::uint64_t>(m) < r.n, "results file '", path,
                   "' is damaged: member row ", m, " out of range");
  r.cluster_edges = read_opt<std::int64_t>(r.file, "/clusters/edges", k, -1);
  r.density = read_opt<double>(r.file, "/clusters/density", k, NAN);
  r.mean_emb = read_opt<double>(r.file, "/clusters/mean_sim_embedding", k, NAN);
  r.min_emb = read_opt<double>(r.file, "/clusters/min_sim_embedding", k, NAN);
  r.mean_act = read_opt<double>(r.file, "/clusters/mean_sim_activity", k, NAN);
  r.min_act = read_opt<double>(r.file, "/clusters/min_sim_activity", k, NAN);
  r.synchrony = read_opt<double>(r.file, "/clusters/activity_synchrony", k, NAN);
  r.has_truth = h5::exists(r.file, "/clusters/truth_best");
  if (r.has_truth) {
    r.truth_best = h5::read_all<std::int64_t>(h5::open_dataset(r.file, "/clusters/truth_best"));
    r.truth_precision = read_opt<double>(r.file, "/clusters/truth_precision", k, NAN);
    r.truth_recall = read_opt<double>(r.file, "/clusters/truth_recall", k, NAN);
  }
  r.e = h5::describe(h5::open_dataset(r.file, "/edges/src")).dims.at(0);
  if (h5::exists(r.file, "/evidence/cluster_member_handles")) {
    r.member_handles =
        h5::read_strings(h5::open_dataset(r.file, "/evidence/cluster_member_handles"));
    r.has_handles = r.member_handles.size() == r.members.size();
  }
  r.has_coactive =
      h5::exists(r.file, "/evidence/edge_coactive_count") &&
      h5::describe(h5::open_dataset(r.file, "/evidence/edge_coactive_count")).dims.at(0) == r.e;
  r.has_weights = true;
  for (const char* w : {"/edges/weight", "/edges/weight_src_dst", "/edges/weight_dst_src"})
    r.has_weights = r.has_weights && h5::exists(r.file, w) &&
                    h5::describe(h5::open_dataset(r.file, w)).dims.at(0) == r.e;
  // --edges runs: which terms held, and every co-action view's two directed weights
  auto add_column = [&](const std::string& name, const std::string& path) {
    if (h5::exists(r.file, path) && h5::describe(h5::open_dataset(r.file, path)).dims.at(0) == r.e)
      r.extra_names.push_back(name), r.extra_paths.push_back(path);
  };
  add_column("terms", "/edges/terms");
  std::vector<std::string> views;
  for (const std::string& name : h5::children(r.file, "/edges"))
    if (name.rfind("co_", 0) == 0) views.push_back(name);
  for (const std::string& view : views)  // one view's weights are already weight_src_dst, ...
    for (const char* w : {"weight_src_dst", "weight_dst_src"})
      if (views.size() > 1 || !r.has_weights)
        add_column(view + "_" + w, "/edges/" + view + "/" + w);
  select_clusters(r, opt, pz);
  r.degree.assign(r.n, 0);
  for_each_edge(r, false, [&](const edge_row& e) { ++r.degree[e.src], ++r.degree[e.dst]; });
  return r;
}

template <typename F>
void for_each_node(const results_view& r, F&& f) {  // f(cluster, member index, row)
  for (std::size_t c = 0; c < r.size.size(); ++c)
    if (r.selected[c])
      for (std::int64_t q = r.offsets[c]; q < r.offsets[c + 1]; ++q) f(c, q, r.members[q]);
}

void write_graphml(const results_view& r, const std::string& out, bool force) {
  atomic_file f(out, force);
  f.put(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" "
      "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns "
      "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n");
  if (!r.pseudo)  // pseudonymised: no row numbers, and ids are strings
    f.put(
        "  <key id=\"row\" for=\"node\" attr.name=\"row\" attr.type=\"long\"/>\n"
        "  <key id=\"account_id\" for=\"node\" attr.name=\"account_id\" attr.type=\"long\"/>\n");
  else
    f.put(
        "  <key id=\"account_id\" for=\"node\" attr.name=\"account_id\" "
        "attr.type=\"string\"/>\n");
  if (r.has_handles)
    f.put("  <key id=\"handle\" for=\"node\" attr.name=\"handle\" attr.type=\"string\"/>\n");
  f.put(
      "  <key id=\"cluster\" for=\"node\" attr.name=\"cluster\" attr.type=\"long\"/>\n"
      "  <key id=\"degree\" for=\"node\" attr.name=\"degree\" attr.type=\"long\"/>\n");
  if (r.has_p)
    f.put(
        "  <key id=\"cluster_p_value\" for=\"node\" attr.name=\"cluster_p_value\" "
        "attr.type=\"double\"/>\n"
        "  <key id=\"cluster_q_value\" for=\"node\" attr.name=\"cluster_q_value\" "
        "attr.type=\"double\"/>\n");
  f.put(
      "  <key id=\"sim_embedding\" for=\"edge\" attr.name=\"sim_embedding\" "
      "attr.type=\"double\"/>\n"
      "  <key id=\"sim_activity\" for=\"edge\" attr.name=\"sim_activity\" "
      "attr.type=\"double\"/>\n");
  if (r.has_coactive)
    f.put(
        "  <key id=\"coactive_count\" for=\"edge\" attr.name=\"coactive_count\" "
        "attr.type=\"long\"/>\n");
  if (r.has_weights)  // Gephi takes an edge attribute named "weight" as the edge weight
    for (const char* w : {"weight", "weight_src_dst", "weight_dst_src"})
      f.put(std::string("  <key id=\"") + w + "\" for=\"edge\" attr.name=\"" + w +
            "\" attr.type=\"long\"/>\n");
  for (const std::string& x : r.extra_names)
    f.put("  <key id=\"" + x + "\" for=\"edge\" attr.name=\"" + x + "\" attr.type=\"long\"/>\n");
  f.put("  <graph id=\"chorus\" edgedefault=\"undirected\">\n");
  std::string line;
  for_each_node(r, [&](std::size_t c, std::int64_t q, std::int64_t row) {
    line = "    <node id=\"" + node_id(r, row, "n") + "\">";
    if (!r.pseudo) line += "<data key=\"row\">" + std::to_string(row) + "</data>";
    line += "<data key=\"account_id\">" + account_text(r, row) + "</data>";
    if (r.has_handles) line += "<data key=\"handle\">" + xml_escape(handle_text(r, q)) + "</data>";
    line += "<data key=\"cluster\">" + std::to_string(c) + "</data><data key=\"degree\">" +
            std::to_string(r.degree[row]) + "</data>";
    if (r.has_p && std::isfinite(r.p_value[c]))
      line += "<data key=\"cluster_p_value\">" + num(r.p_value[c], 17) + "</data>";
    if (r.has_p && std::isfinite(r.q_value[c]))
      line += "<data key=\"cluster_q_value\">" + num(r.q_value[c], 17) + "</data>";
    f.put(line + "</node>\n");
  });
  for_each_edge(r, true, [&](const edge_row& e) {
    line = "    <edge source=\"" + node_id(r, e.src, "n") + "\" target=\"" +
           node_id(r, e.dst, "n") + "\">";
    if (std::isfinite(e.se)) line += "<data key=\"sim_embedding\">" + num(e.se, 9) + "</data>";
    if (std::isfinite(e.sa)) line += "<data key=\"sim_activity\">" + num(e.sa, 9) + "</data>";
    if (e.coactive >= 0)
      line += "<data key=\"coactive_count\">" + std::to_string(e.coactive) + "</data>";
    if (e.weight >= 0)
      line += "<data key=\"weight\">" + std::to_string(e.weight) +
              "</data><data key=\"weight_src_dst\">" + std::to_string(e.w_sd) +
              "</data><data key=\"weight_dst_src\">" + std::to_string(e.w_ds) + "</data>";
    for (std::size_t k = 0; k < e.extra.size(); ++k)
      line += "<data key=\"" + r.extra_names[k] + "\">" + std::to_string(e.extra[k]) + "</data>";
    f.put(line + "</edge>\n");
  });
  f.put("  </graph>\n</graphml>\n");
  f.commit();
}

void write_gexf(const results_view& r, const std::string& out, bool force) {
  atomic_file f(out, force);
  f.put(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      // GEXF 1.2: read by Gephi and by the networkx of Debian 12 (2.8.8 knows no 1.3)
      "<gexf xmlns=\"http://www.gexf.net/1.2draft\" "
      "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:schemaLocation=\"http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd\" "
      "version=\"1.2\">\n"
      "  <meta><creator>chorus</creator><description>coordinated subgraph</description></meta>\n"
      "  <graph defaultedgetype=\"undirected\" mode=\"static\">\n"
      "    <attributes class=\"node\" mode=\"static\">\n");
  if (!r.pseudo)  // pseudonymised: no row numbers, and ids are strings
    f.put(
        "      <attribute id=\"row\" title=\"row\" type=\"long\"/>\n"
        "      <attribute id=\"account_id\" title=\"account_id\" type=\"long\"/>\n");
  else
    f.put("      <attribute id=\"account_id\" title=\"account_id\" type=\"string\"/>\n");
  if (r.has_handles) f.put("      <attribute id=\"handle\" title=\"handle\" type=\"string\"/>\n");
  f.put(
      "      <attribute id=\"cluster\" title=\"cluster\" type=\"long\"/>\n"
      "      <attribute id=\"degree\" title=\"degree\" type=\"long\"/>\n");
  if (r.has_p)
    f.put(
        "      <attribute id=\"cluster_p_value\" title=\"cluster_p_value\" type=\"double\"/>\n"
        "      <attribute id=\"cluster_q_value\" title=\"cluster_q_value\" type=\"double\"/>\n");
  f.put(
      "    </attributes>\n"
      "    <attributes class=\"edge\" mode=\"static\">\n"
      "      <attribute id=\"sim_embedding\" title=\"sim_embedding\" type=\"double\"/>\n"
      "      <attribute id=\"sim_activity\" title=\"sim_activity\" type=\"double\"/>\n");
  if (r.has_coactive)
    f.put("      <attribute id=\"coactive_count\" title=\"coactive_count\" type=\"long\"/>\n");
  if (r.has_weights)  // the undirected weight is the edge's own weight attribute
    f.put(
        "      <attribute id=\"weight_src_dst\" title=\"weight_src_dst\" type=\"long\"/>\n"
        "      <attribute id=\"weight_dst_src\" title=\"weight_dst_src\" type=\"long\"/>\n");
  for (const std::string& x : r.extra_names)
    f.put("      <attribute id=\"" + x + "\" title=\"" + x + "\" type=\"long\"/>\n");
  f.put("    </attributes>\n    <nodes>\n");
  std::string line;
  for_each_node(r, [&](std::size_t c, std::int64_t q, std::int64_t row) {
    const std::string label = r.has_handles ? xml_escape(handle_text(r, q)) : account_text(r, row);
    line = "      <node id=\"" + node_id(r, row, "") + "\" label=\"" + label + "\"><attvalues>";
    if (!r.pseudo) line += "<attvalue for=\"row\" value=\"" + std::to_string(row) + "\"/>";
    line += "<attvalue for=\"account_id\" value=\"" + account_text(r, row) + "\"/>";
    if (r.has_handles)
      line += "<attvalue for=\"handle\" value=\"" + xml_escape(handle_text(r, q)) + "\"/>";
    line += "<attvalue for=\"cluster\" value=\"" + std::to_string(c) +
            "\"/><attvalue for=\"degree\" value=\"" + std::to_string(r.degree[row]) + "\"/>";
    if (r.has_p && std::isfinite(r.p_value[c]))
      line += "<attvalue for=\"cluster_p_value\" value=\"" + num(r.p_value[c], 17) + "\"/>";
    if (r.has_p && std::isfinite(r.q_value[c]))
      line += "<attvalue for=\"cluster_q_value\" value=\"" + num(r.q_value[c], 17) + "\"/>";
    f.put(line + "</attvalues></node>\n");
  });
  f.put("    </nodes>\n    <edges>\n");
  std::int64_t id = 0;
  for_each_edge(r, true, [&](const edge_row& e) {
    line = "      <edge id=\"" + std::to_string(id++) + "\" source=\"" + node_id(r, e.src, "") +
           "\" target=\"" + node_id(r, e.dst, "") + "\"" +
           (e.weight >= 0 ? " weight=\"" + std::to_string(e.weight) + "\"" : std::string()) +
           "><attvalues>";
    if (std::isfinite(e.se))
      line += "<attvalue for=\"sim_embedding\" value=\"" + num(e.se, 9) + "\"/>";
    if (std::isfinite(e.sa))
      line += "<attvalue for=\"sim_activity\" value=\"" + num(e.sa, 9) + "\"/>";
    if (e.coactive >= 0)
      line += "<attvalue for=\"coactive_count\" value=\"" + std::to_string(e.coactive) + "\"/>";
    if (e.weight >= 0)
      line += "<attvalue for=\"weight_src_dst\" value=\"" + std::to_string(e.w_sd) +
              "\"/><attvalue for=\"weight_dst_src\" value=\"" + std::to_string(e.w_ds) + "\"/>";
    for (std::size_t k = 0; k < e.extra.size(); ++k)
      line += "<attvalue for=\"" + r.extra_names[k] + "\" value=\"" + std::to_string(e.extra[k]) +
              "\"/>";
    f.put(line + "</attvalues></edge>\n");
  });
  f.put("    </edges>\n  </graph>\n</gexf>\n");
  f.commit();
}

std::string extra_header(const results_view& r) {
  std::string h;
  for (const std::string& x : r.extra_names) h += "," + x;
  return h;
}

void write_clusters_csv(const results_view& r, const std::string& path, bool force) {
  atomic_file f(path, force);
  std::string h =
      "cluster,size,edges,density,mean_sim_embedding,min_sim_embedding,"
      "mean_sim_activity,min_sim_activity,activity_synchrony";
  if (r.has_truth) h += ",truth_best,truth_precision,truth_recall";
  if (r.has_p) h += ",p_value,q_value";
  f.put(h + "\n");
  for (std::size_t c = 0; c < r.size.size(); ++c) {
    if (!r.selected[c]) continue;
    std::string l = std::to_string(c) + "," + std::to_string(r.size[c]) + "," +
                    std::to_string(r.cluster_edges[c]) + "," + num(r.density[c], 17) + "," +
                    num(r.mean_emb[c], 17) + "," + num(r.min_emb[c], 17) + "," +
                    num(r.mean_act[c], 17) + "," + num(r.min_act[c], 17) + "," +
                    num(r.synchrony[c], 17);
    if (r.has_truth)
      l += "," + std::to_string(r.truth_best[c]) + "," + num(r.truth_precision[c], 17) + "," +
           num(r.truth_recall[c], 17);
    if (r.has_p) l += "," + num(r.p_value[c], 17) + "," + num(r.q_value[c], 17);
    f.put(l + "\n");
  }
  f.commit();
}

void write_members_csv(const results_view& r, const std::string& path, bool force) {
  atomic_file f(path, force);
  f.put(std::string(r.pseudo ? "cluster,account_id" : "cluster,row,account_id") +
        (r.has_handles ? ",handle" : "") + ",degree" +
        (r.has_p ? ",cluster_p_value,cluster_q_value" : "") + "\n");
  for_each_node(r, [&](std::size_t c, std::int64_t q, std::int64_t row) {
    std::string l = std::to_string(c) + ",";
    if (!r.pseudo) l += std::to_string(row) + ",";
    l += account_text(r, row);
    if (r.has_handles) l += "," + csv_field(handle_text(r, q));
    l += "," + std::to_string(r.degree[row]);
    if (r.has_p) l += "," + num(r.p_value[c], 17) + "," + num(r.q_value[c], 17);
    f.put(l + "\n");
  });
  f.commit();
}

void write_edges_csv(const results_view& r, const std::string& path, bool force) {
  atomic_file f(path, force);
  f.put(std::string(r.pseudo ? "" : "src,dst,") +
        "src_account_id,dst_account_id,cluster,sim_embedding,sim_activity" +
        (r.has_coactive ? ",coactive_count" : "") +
        (r.has_weights ? ",weight,weight_src_dst,weight_dst_src" : "") + extra_header(r) + "\n");
  for_each_edge(r, true, [&](const edge_row& e) {
    std::string l =
        r.pseudo ? std::string() : std::to_string(e.src) + "," + std::to_string(e.dst) + ",";
    l += account_text(r, e.src) + "," + account_text(r, e.dst) + "," +
         std::to_string(r.labels[e.src]) + "," + num(e.se, 9) + "," + num(e.sa, 9);
    if (r.has_coactive) l += "," + std::to_string(e.coactive);
    if (r.has_weights)
      l += "," + std::to_string(e.weight) + "," + std::to_string(e.w_sd) + "," +
           std::to_string(e.w_ds);
    for (const std::int64_t x : e.extra) l += "," + std::to_string(x);
    f.put(l + "\n");
  });
  f.commit();
}

void write_csv(const results_view& r, const std::string& dir, bool force) {
  bool made_dir = false;
  if (!path_exists(dir)) {
    CHORUS_EXPECTS(mkdir(dir.c_str(), 0777) == 0, "cannot create output directory '", dir,
                   "': ", std::strerror(errno));
    made_dir = true;
  }
  CHORUS_EXPECTS(is_dir(dir), "csv output '", dir, "' exists and is not a directory");
  const std::string names[3] = {dir + "/clusters.csv", dir + "/members.csv", dir + "/edges.csv"};
  if (!force)
    for (const auto& p : names)
      CHORUS_EXPECTS(!path_exists(p), "output '", p, "' exists (use --force to overwrite)");
  try {
    write_clusters_csv(r, names[0], force);
    write_members_csv(r, names[1], force);
    write_edges_csv(r, names[2], force);
  } catch (...) {
    if (made_dir) {
      for (const auto& p : names) std::remove(p.c_str());
      rmdir(dir.c_str());
    }
    throw;
  }
}

}  // namespace

export_outcome export_results(const export_options& opt) {
  CHORUS_EXPECTS(opt.format == "graphml" || opt.format == "gexf" || opt.format == "csv",
                 "unknown export format '", opt.format, "' (graphml, gexf, csv)");
  CHORUS_EXPECTS(opt.min_size >= 1, "--min-size must be >= 1, got ", opt.min_size);
  CHORUS_EXPECTS(!opt.out.empty(), "export needs an output path");
  CHORUS_EXPECTS(!opt.redact_text || !opt.pseudonymize.empty(),
                 "--redact-text needs --pseudonymize KEYFILE");
  CHORUS_EXPECTS(!opt.write_mapping || !opt.pseudonymize.empty(),
                 "--write-mapping needs --pseudonymize KEYFILE");
  CHORUS_EXPECTS(std::isnan(opt.max_p) || (opt.max_p >= 0 && opt.max_p <= 1),
                 "--max-p must be in [0, 1], got ", opt.max_p);
  if (opt.format != "csv") {
    CHORUS_EXPECTS(!is_dir(opt.out), "output '", opt.out, "' is a directory");
    CHORUS_EXPECTS(opt.force || !path_exists(opt.out), "output '", opt.out,
                   "' exists (use --force to overwrite)");
  }
  export_outcome outcome;
  std::unique_ptr<pseudonymizer> pz;
  if (!opt.pseudonymize.empty()) {
    pz = std::make_unique<pseudonymizer>(read_pseudonym_key(opt.pseudonymize, &outcome.warnings),
                                         opt.redact_text);
    if (opt.write_mapping) {
      outcome.mapping_path = pseudonym_mapping_path(opt.pseudonymize);
      const std::size_t slash = outcome.mapping_path.rfind('/');
      const std::string dir = slash == std::string::npos ? "."
                              : slash == 0               ? "/"
                                                         : outcome.mapping_path.substr(0, slash);
      CHORUS_EXPECTS(access(dir.c_str(), W_OK) == 0, "--write-mapping: the key's directory '", dir,
                     "' is not writable (the mapping file goes next to the key)");
    }
  }
  results_view r = load(opt, pz.get());
  if (opt.format == "graphml")
    write_graphml(r, opt.out, opt.force);
  else if (opt.format == "gexf")
    write_gexf(r, opt.out, opt.force);
  else
    write_csv(r, opt.out, opt.force);
  if (pz && opt.write_mapping)
    outcome.mapping_added = merge_pseudonym_mapping(pz->key(), pz->seen());
  return outcome;
}

void export_results(const std::string& results, const std::string& format, const std::string& out,
                    std::int64_t min_size, bool force) {
  export_options opt;
  opt.results = results, opt.format = format, opt.out = out;
  opt.min_size = min_size, opt.force = force;
  export_results(opt);
}

}  // namespace chorus
