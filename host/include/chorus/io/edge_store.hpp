// chorus: the edge list of a run, kept in memory up to a cap and spilled to disk past it.
//
// Edges arrive in any order (tiles finish out of order). When the in-memory buffer passes its
// cap it is sorted by (src, dst) and written as a run file; readers get every edge in (src, dst)
// order through a k-way merge of the runs and the buffer, a chunk at a time, so a graph larger
// than memory is written without ever holding it whole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"

namespace chorus {

class edge_store {
 public:
  /// `cap_edges` 0: never spill. Run files go to `spill_dir` (created, removed at destruction).
  explicit edge_store(std::uint64_t cap_edges = 0, std::string spill_dir = "");
  ~edge_store();
  edge_store(const edge_store&) = delete;
  edge_store& operator=(const edge_store&) = delete;

  /// Add edges (any order).
  void append(const edge* e, std::size_t count);
  void append(const std::vector<edge>& v) { append(v.data(), v.size()); }
  /// Edges stored so far.
  std::uint64_t size() const { return total_; }
  /// True when some edges live in run files.
  bool spilled() const { return !runs_.empty(); }
  /// Visit every edge in (src, dst) order, in chunks of at most `chunk` edges.
  void for_each_sorted(const std::function<void(const edge*, std::size_t)>& fn,
                       std::size_t chunk = 1 << 16);
  /// All edges in (src, dst) order in memory (refused with limit_error when spilled).
  std::vector<edge> take_sorted();

 private:
  void spill();
  std::uint64_t cap_, total_ = 0;
  std::string dir_;
  std::vector<edge> buf_;
  std::vector<std::string> runs_;
  std::vector<std::uint64_t> run_sizes_;
};

}  // namespace chorus
