// chorus: the one source of every default a job uses (the CLI, the library's option structs and
// the README read them from here).
#pragma once

#include <cstdint>

namespace chorus::defaults {

constexpr double threshold = 0.8;           ///< embedding (or fused) threshold
constexpr double threshold_activity = 0.8;  ///< activity threshold
constexpr double weight = 0.5;              ///< fused: weight of the embedding view
constexpr double min_activity = 5;          ///< posts an account needs to be in the activity view
/// Share of a view's rows that cannot get edges above which a run warns.
constexpr double invalid_share_warning = 0.10;
constexpr std::int64_t max_edges = 200'000'000;  ///< --max-edges
constexpr std::int64_t tile_rows = 512;          ///< CPU tile rows (accounts)
constexpr std::int64_t tile_cols = 2048;         ///< CPU tile columns, a multiple of tile_rows
constexpr double checkpoint_interval = 300;      ///< seconds between checkpoints

}  // namespace chorus::defaults
