// chorus: cluster tracking across consecutive runs (`chorus track`): stable ids for the clusters
// of a series of results files and the events between runs (birth, death, growth, shrink, merge,
// split). The matching rule is documented in README.md, "Tracking networks over time"; the
// timeline file's layout in datasets/SCHEMA.md, "Timeline (`chorus track --out`)".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chorus {

/// The clusters of one run, as account ids (members are accounts, never rows).
struct run_clusters {
  std::string path;    ///< the results file (for the timeline and messages; may be empty)
  std::string date;    ///< the run's date label (its input_date attribute, else the file's name)
  bool dated = false;  ///< `date` came from an input_date attribute (checked for order)
  std::int64_t accounts = 0;  ///< accounts (rows) of the results file
  /// clusters[label] = the account ids of cluster `label`; each non-empty, and an account id in
  /// at most one cluster of the run (duplicates within a cluster are ignored).
  std::vector<std::vector<std::int64_t>> clusters;
  /// The parameters that made the run's links (view, thresholds, transform, ...), as text;
  /// consecutive runs that differ get a warning (the rule changed, not only the accounts).
  std::string rule;
};

/// Parameters of the matching rule.
struct track_options {
  /// A and B (consecutive runs) are linked when |A ∩ B| / min(|A|, |B|) >= min_overlap; in (0, 1].
  double min_overlap = 0.5;
  /// A matched pair grew when |B| / |A| >= 1 + growth (and |B| > |A|), shrank when
  /// |A| / |B| >= 1 + growth (and |B| < |A|); growth >= 0.
  double growth = 0.2;
  /// Track runs whose dates (input_date) do not increase, with a warning; otherwise they are
  /// refused by run_track (--allow-unordered).
  bool allow_unordered = false;
};

/// What happened to a stable id between two consecutive runs.
enum class event_kind { birth, death, growth, shrink, merge, split };

/// "birth", "death", "growth", "shrink", "merge" or "split".
const char* event_name(event_kind k);

/// One event, seen at run `run` (the later run of the step; run 0 for the first run's births).
struct track_event {
  std::int64_t run = 0;
  event_kind kind = event_kind::birth;
  std::int64_t stable_id = 0;
  std::int64_t size_before = 0;       ///< 0 for a birth (and a merge into a new stable id)
  std::int64_t size_after = 0;        ///< 0 for a death (and a split whose id no cluster kept)
  std::vector<std::int64_t> related;  ///< merge: absorbed ids; split: the other ids
  std::vector<std::int64_t> related_sizes;  ///< their sizes (run-1 for merge, run for split)
};

/// One cluster of one run and the stable id it was given.
struct tracked_cluster {
  std::int64_t run = 0, label = 0, stable_id = 0, size = 0;
};

/// The result of tracking: clusters in run order then label order; events in run order, then
/// stable id, then kind (in event_kind order).
struct timeline {
  std::vector<std::string> paths, dates;
  std::vector<std::int64_t> run_clusters, run_accounts;  ///< per run
  std::vector<tracked_cluster> clusters;
  std::vector<track_event> events;
  std::int64_t stable_ids = 0;        ///< distinct stable ids (0 .. stable_ids-1)
  std::vector<std::string> warnings;  ///< e.g. dates that do not increase
  track_options options;
};

/// Track the clusters of `runs` (in time order; at least one run) by the rule of
/// track_options. Pure: no I/O. Throws input_error for options out of range, an empty cluster,
/// or an account id in two clusters of one run.
timeline track_clusters(const std::vector<run_clusters>& runs, const track_options& opt);

/// Read a results file's clusters as account ids, and its date label (root attribute
/// input_date, else the file's base name). Throws input_error when it is missing, not a chorus
/// results file, or damaged (/labels and /accounts/id of different lengths, labels < -1, a
/// cluster id that has no member). With `ids`, also every row's account id.
run_clusters read_run_clusters(const std::string& path, std::vector<std::int64_t>* ids = nullptr);

/// Where `chorus track` writes; empty strings are outputs not asked for.
struct track_outputs {
  std::string h5, csv_dir, json;
  bool force = false;
};

/// Refuse what `chorus track` would fail on, before reading anything heavy: fewer than 2 runs, a
/// missing input, one given twice, one that is not a chorus results file, options out of range,
/// an output that exists without force (or is a directory), one that names an input or another
/// output, an unwritable destination. Throws input_error.
void check_track_job(const std::vector<std::string>& inputs, const track_options& opt,
                     const track_outputs& out);

/// Write the timeline file (datasets/SCHEMA.md), atomically (temporary file, fsync, rename).
void write_timeline_h5(const timeline& t, const std::string& path);
/// Write DIR/clusters.csv and DIR/events.csv (RFC 4180; DIR created when missing), each atomically.
void write_timeline_csv(const timeline& t, const std::string& dir, bool force);
/// Write one JSON document {"runs": [...], "clusters": [...], "events": [...]}, atomically.
void write_timeline_json(const timeline& t, const std::string& path, bool force);

/// The timeline's summary for people: runs, stable ids, events per kind (a few lines).
std::string timeline_summary(const timeline& t);

/// `chorus track`: check, read every run, track, write the outputs asked for. Warnings go to
/// `warnings` (the CLI prints them on stderr). Returns the timeline.
timeline run_track(const std::vector<std::string>& inputs, const track_options& opt,
                   const track_outputs& out);

}  // namespace chorus
