// chorus: a campaign SERIES -- D daily input files of one evolving population with a known
// history of planted campaigns (births, growth, merges, splits, deaths) and organic churn.
//
// `generate_series` writes `<base>.day01.h5` ... `<base>.dayDD.h5` in chorus' input layout plus
// `<base>.events.csv`, the planted history. An account's row is a pure function of (seed, its
// key, its version, its look), never of the day or the row it sits in, so an account that did
// not change has bit-identical /embedding and /activity rows on consecutive days. The model and
// the formats are described in datasets/GENERATOR.md ("Campaign series (--days)").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chorus {

/// Parameters of one campaign series.
struct series_options {
  std::int64_t accounts = 20000;  ///< N on day 1 (>= 100 x clusters)
  int dim = 64;                   ///< embedding dimension (>= 16)
  int bins = 0;                   ///< hourly activity bins over the whole window; 0 = 24 x days
  int clusters = 8;               ///< campaigns on day 1 (>= 5: one per kind of event)
  std::uint64_t seed = 1;
  int days = 7;                 ///< D, number of daily files (2..60)
  std::string out;              ///< base path: "d/s.h5" -> d/s.day01.h5 ..., d/s.events.csv
  bool force = false;           ///< overwrite existing outputs
  bool handles = true;          ///< write /accounts/handle
  double join_share = 0.01;     ///< new organic accounts per day, as a share of N (day 1)
  double leave_share = 0.003;   ///< organic accounts leaving per day, share of the day's accounts
  double change_share = 0.005;  ///< organic accounts redrawn per day, share of the organic ones
};

/// One planted event, one row of the events CSV.
struct series_event {
  int day = 1;                   ///< 1-based day on which the event is visible
  std::string event;             ///< birth, growth, merge, split or death
  std::int64_t campaign = -1;    ///< the campaign the sizes are about
  std::int64_t other = -1;       ///< merge: the absorbed one; split: the new one; birth from a
                                 ///< split: the original; else -1
  std::int64_t size_before = 0;  ///< truth size of `campaign` on day - 1 (0 for a birth)
  std::int64_t size_after = 0;   ///< truth size of `campaign` on `day`
};

/// Per-day changes against the previous day (all 0 on day 1).
struct series_day {
  std::string path;  ///< the day's input file
  std::string date;  ///< "YYYY-MM-DD"
  std::int64_t accounts = 0;
  std::int64_t joined = 0;     ///< accounts new today (appended rows)
  std::int64_t left = 0;       ///< accounts of yesterday missing today
  std::int64_t changed = 0;    ///< accounts kept whose rows were redrawn (new version)
  std::int64_t campaigns = 0;  ///< live campaigns
};

/// What was written.
struct series_summary {
  std::vector<series_day> days;
  std::vector<series_event> events;
  std::string events_path;  ///< the events CSV
  int dim = 0, bins = 0;
};

/// The paths a series with base `out` and `days` days writes: the daily files, then the events
/// CSV. "d/s.h5" (or "d/s.hdf5", or "d/s") gives d/s.day01.h5 ... and d/s.events.csv.
std::vector<std::string> series_paths(const std::string& out, int days);

/// Generate a campaign series. Every file is written under "<path>.tmp.<pid>" and all are
/// renamed only when every one is complete; on failure no file of the series is left behind.
/// All paths are checked before anything is written. progress(fraction in [0,1]) is called from
/// the calling thread, if set; it may throw to cancel. Throws input_error for bad options or an
/// existing output without force, runtime_failure for I/O failures.
series_summary generate_series(const series_options& opt,
                               const std::function<void(double)>& progress = {});

}  // namespace chorus
