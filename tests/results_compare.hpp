// Test helper: two results files compared dataset for dataset (every dataset but /ranks, the
// per-process record), values by bit pattern: what "the same results" means for exactness.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"

namespace chorus::test {

// One dataset's values in a portable form: integers as int64 or uint64 text, floats as float64
// bytes (NaN compared by bit pattern), strings as they are.
inline std::vector<std::string> values_of(const h5::handle& d) {
  const h5::dataset_info di = h5::describe(d);
  std::uint64_t count = 1;
  for (auto x : di.dims) count *= x;
  const std::uint64_t rows = di.dims.empty() ? 1 : di.dims[0];
  std::vector<std::string> v;
  if (di.cls == h5::kind::string) {
    v = h5::read_strings(d);
  } else if (di.cls == h5::kind::floating) {
    std::vector<double> x(count);
    if (count) h5::read_rows(d, 0, rows, x.data());
    for (double y : x) v.emplace_back(reinterpret_cast<const char*>(&y), sizeof y);
  } else if (!di.is_signed) {
    std::vector<std::uint64_t> x(count);
    if (count) h5::read_rows(d, 0, rows, x.data());
    for (auto y : x) v.push_back(std::to_string(y));
  } else {
    std::vector<std::int64_t> x(count);
    if (count) h5::read_rows(d, 0, rows, x.data());
    for (auto y : x) v.push_back(std::to_string(y));
  }
  return v;
}

// Every dataset under `group`, its subgroups included (/clusters/null/<model>/...).
inline void collect_datasets(const h5::handle& f, const std::string& group,
                             std::map<std::string, std::vector<std::string>>& out) {
  for (const std::string& name : h5::children(f, group)) {
    const std::string p = group + "/" + name;
    h5::handle d;
    try {
      d = h5::open_dataset(f, p);
    } catch (const chorus::input_error&) {  // a group
      collect_datasets(f, p, out);
      continue;
    }
    out[p] = values_of(d);
  }
}

// Every dataset of a results file but /ranks.
inline std::map<std::string, std::vector<std::string>> datasets_of(const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  h5::handle f = h5::open_read(path);
  for (const std::string& group : {"/accounts", "/edges", "/clusters", "/evidence"})
    if (h5::exists(f, group)) collect_datasets(f, group, out);
  out["/labels"];
  for (auto y : h5::read_all<std::int64_t>(h5::open_dataset(f, "/labels")))
    out["/labels"].push_back(std::to_string(y));
  return out;
}

// The update's results against the full run's: the same datasets with the same values.
inline void expect_same_results(const std::string& full, const std::string& update) {
  const auto a = datasets_of(full), b = datasets_of(update);
  std::vector<std::string> names_a, names_b;
  for (const auto& kv : a) names_a.push_back(kv.first);
  for (const auto& kv : b) names_b.push_back(kv.first);
  ASSERT_EQ(names_a, names_b);
  for (const auto& kv : a) {
    const auto& other = b.at(kv.first);
    ASSERT_EQ(kv.second.size(), other.size()) << kv.first;
    for (std::size_t i = 0; i < kv.second.size(); ++i)
      ASSERT_EQ(kv.second[i], other[i]) << kv.first << "[" << i << "] differs";
  }
}

}  // namespace chorus::test
