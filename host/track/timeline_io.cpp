// chorus: `chorus track`'s files: reading results files as runs, checking the job up front, and
// writing the timeline (HDF5, CSV, JSON; layouts in datasets/SCHEMA.md and README.md).
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/results.hpp"
#include "chorus/track/track.hpp"
#include "chorus/version.hpp"

namespace chorus {

namespace {

std::string base_of(const std::string& p) {
  const auto k = p.find_last_of('/');
  return k == std::string::npos ? p : p.substr(k + 1);
}
std::string dir_of(const std::string& p) {
  const auto k = p.find_last_of('/');
  return k == std::string::npos ? "." : (k == 0 ? "/" : p.substr(0, k));
}
bool is_dir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

// An absolute spelling of `p` (its directory resolved), to compare paths that may not exist yet.
std::string absolute(const std::string& p) {
  char buf[PATH_MAX];
  if (realpath(p.c_str(), buf)) return buf;
  if (realpath(dir_of(p).c_str(), buf)) return std::string(buf) + "/" + base_of(p);
  return p;
}

// Bytes that are not valid UTF-8 become U+FFFD, so that every text output stays valid.
std::string valid_utf8(const std::string& s) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0, n = s.size(); i < n;) {
    const unsigned c = p[i];
    const std::size_t len = c < 0x80                   ? 1
                            : (c >= 0xC2 && c <= 0xDF) ? 2
                            : (c >> 4) == 0xE          ? 3
                            : (c >= 0xF0 && c <= 0xF4) ? 4
                                                       : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {  // no overlong forms, no surrogates
      const unsigned cp = ((c & 0xF) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
      const unsigned cp = ((c & 0x7) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (ok)
      out.append(s, i, len), i += len;
    else
      out += "\xEF\xBF\xBD", ++i;
  }
  return out;
}

// One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces.
std::string csv(const std::string& raw) {
  const std::string s = valid_utf8(raw);
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ');
  for (char c : s) quote |= c == ',' || c == '"' || c == '\n' || c == '\r';
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A JSON string literal.
std::string json_string(const std::string& raw) {
  std::string out = "\"";
  for (char c : valid_utf8(raw)) {
    if (c == '"' || c == '\\') {
      out += '\\', out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
      out += b;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string joined(const std::vector<std::int64_t>& v, const char* sep) {
  std::string s;
  for (std::size_t k = 0; k < v.size(); ++k) s += (k ? sep : "") + std::to_string(v[k]);
  return s;
}

// Write `text` to `path` atomically: a temporary file beside it, fsync, rename.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  CHORUS_EXPECTS(f != nullptr, "cannot create '", tmp, "': ", std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    CHORUS_THROW(runtime_failure, "cannot write '", path, "' (disk full?)");
  }
}

// The CSV directory: an existing directory (whose two files may be replaced only with force), or
// a new one in a writable directory.
void check_csv_dir(const std::string& dir, bool force) {
  if (exists(dir)) {
    CHORUS_EXPECTS(is_dir(dir), "--csv '", dir, "' exists and is not a directory");
    for (const char* name : {"/clusters.csv", "/events.csv"})
      CHORUS_EXPECTS(force || !exists(dir + name), "output '", dir, name,
                     "' exists; pass --force to overwrite it");
    CHORUS_EXPECTS(access(dir.c_str(), W_OK) == 0, "--csv directory '", dir, "' is not writable");
    return;
  }
  const std::string parent = dir_of(dir);
  CHORUS_EXPECTS(is_dir(parent), "--csv: directory '", parent, "' does not exist");
  CHORUS_EXPECTS(access(parent.c_str(), W_OK) == 0, "--csv: directory '", parent,
                 "' is not writable");
}

// The outputs, each spelled absolutely with the option that names it.
std::vector<std::pair<std::string, std::string>> output_names(const track_outputs& out) {
  std::vector<std::pair<std::string, std::string>> v;
  if (!out.h5.empty()) v.emplace_back("--out", absolute(out.h5));
  if (!out.json.empty()) v.emplace_back("--json", absolute(out.json));
  if (!out.csv_dir.empty()) {
    const std::string d = absolute(out.csv_dir);
    v.emplace_back("--csv", d + "/clusters.csv");
    v.emplace_back("--csv", d + "/events.csv");
  }
  return v;
}

// Every input exists, is given once and is a chorus results file.
void check_inputs(const std::vector<std::string>& inputs,
                  const std::vector<std::pair<std::string, std::string>>& outputs) {
  std::vector<std::pair<dev_t, ino_t>> seen;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string& p = inputs[k];
    struct stat st {};
    CHORUS_EXPECTS(stat(p.c_str(), &st) == 0, "results file '", p, "' does not exist");
    CHORUS_EXPECTS(S_ISREG(st.st_mode), "'", p, "' is not a file");
    for (std::size_t j = 0; j < seen.size(); ++j)
      CHORUS_EXPECTS(seen[j] != std::make_pair(st.st_dev, st.st_ino), "'", p,
                     "' is the same file as '", inputs[j], "' (each run once, in time order)");
    seen.emplace_back(st.st_dev, st.st_ino);
    for (const auto& [opt, o] : outputs)
      CHORUS_EXPECTS(o != absolute(p), opt, " '", o, "' is one of the input files");
  }
  for (const std::string& p : inputs)
    CHORUS_EXPECTS(is_results_file(p), "'", p,
                   "' is not a chorus results file (chorus detect --out writes them)");
}

void write_runs_and_clusters(const h5::handle& f, const timeline& t) {
  std::vector<std::string> paths, dates;
  for (const auto& p : t.paths) paths.push_back(valid_utf8(p));
  for (const auto& d : t.dates) dates.push_back(valid_utf8(d));
  h5::write_strings(f, "/runs/path", paths);
  h5::write_strings(f, "/runs/date", dates);
  h5::write_vector(f, "/runs/clusters", t.run_clusters);
  h5::write_vector(f, "/runs/accounts", t.run_accounts);
  std::vector<std::int64_t> run, label, sid, size;
  for (const auto& c : t.clusters)
    run.push_back(c.run), label.push_back(c.label), sid.push_back(c.stable_id),
        size.push_back(c.size);
  h5::write_vector(f, "/clusters/run", run);
  h5::write_vector(f, "/clusters/label", label);
  h5::write_vector(f, "/clusters/stable_id", sid);
  h5::write_vector(f, "/clusters/size", size);
}

void write_events(const h5::handle& f, const timeline& t) {
  std::vector<std::int64_t> run, sid, before, after;
  std::vector<std::string> kind, related, related_sizes;
  for (const auto& e : t.events) {
    run.push_back(e.run), sid.push_back(e.stable_id);
    before.push_back(e.size_before), after.push_back(e.size_after);
    kind.emplace_back(event_name(e.kind));
    related.push_back(joined(e.related, " "));
    related_sizes.push_back(joined(e.related_sizes, " "));
  }
  h5::write_vector(f, "/events/run", run);
  h5::write_strings(f, "/events/kind", kind);
  h5::write_vector(f, "/events/stable_id", sid);
  h5::write_vector(f, "/events/size_before", before);
  h5::write_vector(f, "/events/size_after", after);
  h5::write_strings(f, "/events/related", related);
  h5::write_strings(f, "/events/related_sizes", related_sizes);
}

}  // namespace

// The parameters that made a run's links, as "--view both --threshold 0.9 ...".
std::string rule_of(const h5::handle& f) {
  static const char* const names[][2] = {{"view", "--view"},
                                         {"edges_expression", "--edges"},
                                         {"threshold", "--threshold"},
                                         {"threshold_activity", "--threshold-activity"},
                                         {"weight", "--weight"},
                                         {"activity_transform", "--activity-transform"},
                                         {"min_activity", "--min-activity"},
                                         {"topk", "--topk"},
                                         {"coaction_window", "--window"},
                                         {"coaction_min_weight", "--min-weight"}};
  std::string rule;
  for (const auto& n : names) {
    std::string text;
    double number = 0;  // counts too (HDF5 converts them exactly)
    if (!h5::get_attr(f, n[0], text)) {
      if (!h5::get_attr(f, n[0], number)) continue;
      text = detail::concat(number);
    }
    rule += (rule.empty() ? "" : " ") + std::string(n[1]) + " " + text;
  }
  return rule.empty() ? std::string("no parameters recorded") : rule;
}

run_clusters read_run_clusters(const std::string& path, std::vector<std::int64_t>* ids_out) {
  CHORUS_EXPECTS(exists(path), "results file '", path, "' does not exist");
  CHORUS_EXPECTS(is_results_file(path), "'", path,
                 "' is not a chorus results file (chorus detect --out writes them)");
  h5::handle f = h5::open_read(path);
  const auto labels = h5::read_all<std::int64_t>(h5::open_dataset(f, "/labels"));
  const auto ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id"));
  CHORUS_EXPECTS(labels.size() == ids.size(), "'", path, "' is damaged: /labels has ",
                 labels.size(), " rows and /accounts/id ", ids.size());
  run_clusters r;
  char real[PATH_MAX];  // absolute, so that a report run from elsewhere finds its own run
  r.path = ::realpath(path.c_str(), real) ? std::string(real) : path;
  r.accounts = static_cast<std::int64_t>(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int64_t c = labels[i];
    CHORUS_EXPECTS(c >= -1 && c < static_cast<std::int64_t>(labels.size()), "'", path,
                   "' is damaged: /labels[", i, "] = ", c);
    if (c < 0) continue;
    if (static_cast<std::size_t>(c) >= r.clusters.size()) r.clusters.resize(c + 1);
    r.clusters[c].push_back(ids[i]);
  }
  for (std::size_t c = 0; c < r.clusters.size(); ++c)
    CHORUS_EXPECTS(!r.clusters[c].empty(), "'", path, "' is damaged: /labels skips cluster ", c);
  r.rule = rule_of(f);
  if (ids_out) *ids_out = ids;
  std::string date;
  r.dated = h5::get_attr(f, "input_date", date) && !date.empty();
  r.date = r.dated ? date : base_of(path);
  return r;
}

// True when `path` exists and starts with HDF5's signature.
static bool is_hdf5(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  return f.read(sig, 8) && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

void check_track_job(const std::vector<std::string>& inputs, const track_options& opt,
                     const track_outputs& out) {
  CHORUS_EXPECTS(opt.min_overlap > 0 && opt.min_overlap <= 1,
                 "--min-overlap must lie in (0, 1], got ", opt.min_overlap);
  CHORUS_EXPECTS(std::isfinite(opt.growth) && opt.growth >= 0, "--growth must be >= 0, got ",
                 opt.growth);
  CHORUS_EXPECTS(inputs.size() >= 2, "chorus track needs at least 2 results files, in time order (",
                 inputs.size(), " given)");
  CHORUS_EXPECTS(!out.h5.empty(), "no timeline file given (--out)");
  check_output_path(out.h5, out.force);
  if (!out.json.empty()) {
    check_output_path(out.json, out.force);
    CHORUS_EXPECTS(!is_hdf5(out.json), "--json '", out.json,
                   "' is an HDF5 file, which JSON would replace (did --json take a results file "
                   "as its value? it names the JSON file to write)");
  }
  if (!out.csv_dir.empty()) check_csv_dir(out.csv_dir, out.force);
  const auto outputs = output_names(out);
  for (std::size_t i = 0; i < outputs.size(); ++i)
    for (std::size_t j = i + 1; j < outputs.size(); ++j)
      CHORUS_EXPECTS(outputs[i].second != outputs[j].second, outputs[i].first, " and ",
                     outputs[j].first, " both name '", outputs[i].second, "'");
  check_inputs(inputs, outputs);
}

void write_timeline_h5(const timeline& t, const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    {
      h5::handle f = h5::create(tmp);
      write_runs_and_clusters(f, t);
      write_events(f, t);
      h5::set_attr(f, "tracker", std::string("chorus-track 1"));
      h5::set_attr(f, "chorus_version", std::string(CHORUS_VERSION));
      h5::set_attr(f, "runs", static_cast<std::int64_t>(t.paths.size()));
      h5::set_attr(f, "stable_ids", t.stable_ids);
      h5::set_attr(f, "min_overlap", t.options.min_overlap);
      h5::set_attr(f, "growth", t.options.growth);
      h5::flush(f);
    }
    const int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) ::fsync(fd), ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      CHORUS_THROW(runtime_failure, "cannot rename '", tmp, "' to '", path, "'");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

void write_timeline_csv(const timeline& t, const std::string& dir, bool force) {
  check_csv_dir(dir, force);
  if (!exists(dir))
    CHORUS_EXPECTS(::mkdir(dir.c_str(), 0777) == 0 || is_dir(dir), "cannot create directory '", dir,
                   "': ", std::strerror(errno));
  std::ostringstream c, e;
  c << "run,date,stable_id,label,size\n";
  for (const auto& x : t.clusters)
    c << x.run << ',' << csv(t.dates[x.run]) << ',' << x.stable_id << ',' << x.label << ','
      << x.size << '\n';
  e << "run,date,event,stable_id,size_before,size_after,related,related_sizes\n";
  for (const auto& x : t.events)
    e << x.run << ',' << csv(t.dates[x.run]) << ',' << event_name(x.kind) << ',' << x.stable_id
      << ',' << x.size_before << ',' << x.size_after << ',' << joined(x.related, " ") << ','
      << joined(x.related_sizes, " ") << '\n';
  write_atomically(dir + "/clusters.csv", c.str());
  write_atomically(dir + "/events.csv", e.str());
}

void write_timeline_json(const timeline& t, const std::string& path, bool force) {
  CHORUS_EXPECTS(force || !exists(path), "output '", path,
                 "' exists; pass --force to overwrite it");
  std::ostringstream o;
  o.precision(15);
  o << "{\"tracker\":\"chorus-track 1\",\"min_overlap\":" << t.options.min_overlap
    << ",\"growth\":" << t.options.growth << ",\"stable_ids\":" << t.stable_ids << ",\n\"runs\":[";
  for (std::size_t r = 0; r < t.paths.size(); ++r)
    o << (r ? ",\n" : "\n") << "{\"run\":" << r << ",\"path\":" << json_string(t.paths[r])
      << ",\"date\":" << json_string(t.dates[r]) << ",\"clusters\":" << t.run_clusters[r]
      << ",\"accounts\":" << t.run_accounts[r] << "}";
  o << "],\n\"clusters\":[";
  for (std::size_t k = 0; k < t.clusters.size(); ++k) {
    const auto& x = t.clusters[k];
    o << (k ? ",\n" : "\n") << "{\"run\":" << x.run << ",\"date\":" << json_string(t.dates[x.run])
      << ",\"stable_id\":" << x.stable_id << ",\"label\":" << x.label << ",\"size\":" << x.size
      << "}";
  }
  o << "],\n\"events\":[";
  for (std::size_t k = 0; k < t.events.size(); ++k) {
    const auto& x = t.events[k];
    o << (k ? ",\n" : "\n") << "{\"run\":" << x.run << ",\"date\":" << json_string(t.dates[x.run])
      << ",\"event\":\"" << event_name(x.kind) << "\",\"stable_id\":" << x.stable_id
      << ",\"size_before\":" << x.size_before << ",\"size_after\":" << x.size_after
      << ",\"related\":[" << joined(x.related, ",") << "],\"related_sizes\":["
      << joined(x.related_sizes, ",") << "]}";
  }
  o << "]}\n";
  write_atomically(path, o.str());
}

std::string timeline_summary(const timeline& t) {
  std::ostringstream o;
  const std::size_t k = t.paths.size();
  o << k << " runs";
  if (k) o << " (" << t.dates.front() << " to " << t.dates.back() << ")";
  o << ", " << t.clusters.size() << " clusters in all, " << t.stable_ids
    << " tracked clusters (stable ids)\nevents:";
  const event_kind kinds[] = {event_kind::birth,  event_kind::death, event_kind::growth,
                              event_kind::shrink, event_kind::merge, event_kind::split};
  for (std::size_t j = 0; j < 6; ++j) {
    std::int64_t n = 0;
    for (const auto& e : t.events) n += e.kind == kinds[j];
    o << (j ? ", " : " ") << n << ' ' << event_name(kinds[j]);
  }
  o << " (births include the first run's clusters)\n";
  return o.str();
}

namespace {

// Consecutive runs that share no account, or whose links were made by other parameters, give
// events that are artefacts: say so.
void compare_runs(const run_clusters& a, const run_clusters& b,
                  const std::vector<std::int64_t>& ids_a, const std::vector<std::int64_t>& ids_b,
                  std::vector<std::string>& warnings) {
  std::vector<std::int64_t> common;
  std::set_intersection(ids_a.begin(), ids_a.end(), ids_b.begin(), ids_b.end(),
                        std::back_inserter(common));
  if (common.empty() && !ids_a.empty() && !ids_b.empty())
    warnings.push_back(detail::concat("'", a.path, "' and '", b.path,
                                      "' share no account: are they runs of the same campaign? "
                                      "(every network of one is a death, of the other a birth)"));
  if (a.rule != b.rule)
    warnings.push_back(detail::concat("'", a.path, "' (", a.rule, ") and '", b.path, "' (", b.rule,
                                      ") were computed with other parameters: networks may change "
                                      "because the rule changed, not the accounts"));
}

// Dates that do not increase are refused unless --allow-unordered: the timeline would be wrong.
void check_run_order(const std::vector<run_clusters>& runs, const track_options& opt) {
  if (opt.allow_unordered) return;
  std::int64_t prev = -1;
  for (std::size_t t = 0; t < runs.size(); ++t) {
    if (!runs[t].dated) continue;
    CHORUS_EXPECTS(prev < 0 || runs[prev].date < runs[t].date, "dates do not increase: '",
                   runs[t].path, "' (input_date ", runs[t].date, ") comes after '", runs[prev].path,
                   "' (input_date ", runs[prev].date,
                   "); give the results files in time order, or pass --allow-unordered");
    prev = static_cast<std::int64_t>(t);
  }
}

}  // namespace

timeline run_track(const std::vector<std::string>& inputs, const track_options& opt,
                   const track_outputs& out) {
  check_track_job(inputs, opt, out);
  std::vector<run_clusters> runs;
  runs.reserve(inputs.size());
  std::vector<std::string> warnings;
  std::vector<std::int64_t> before, now;  // the account ids of consecutive runs
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    runs.push_back(read_run_clusters(inputs[k], &now));
    std::sort(now.begin(), now.end());
    if (k > 0) compare_runs(runs[k - 1], runs[k], before, now, warnings);
    before.swap(now);
  }
  check_run_order(runs, opt);
  timeline t = track_clusters(runs, opt);
  t.warnings.insert(t.warnings.end(), warnings.begin(), warnings.end());
  write_timeline_h5(t, out.h5);
  if (!out.csv_dir.empty()) write_timeline_csv(t, out.csv_dir, out.force);
  if (!out.json.empty()) write_timeline_json(t, out.json, out.force);
  return t;
}

}  // namespace chorus
