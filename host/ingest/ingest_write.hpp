// chorus ingest (private): writing the input file, the truth table and pooled post embeddings.
#pragma once

#include <string>
#include <vector>

#include "accounts.hpp"
#include "activity.hpp"
#include "chorus/ingest/ingest.hpp"
#include "post_spool.hpp"

namespace chorus::ingest {

/// Write the input file (through a temporary file renamed into place; nothing is left on error).
void write_input(const ingest_options& o, const account_table& accounts, const post_spool& spool,
                 const account_selection& sel, const bin_plan& plan,
                 const std::vector<float>& content, ingest_summary& s);

/// Mean of the per-post vectors of `path` (HDF5: /post_id int64 or strings, /embedding [P, d])
/// per kept account, L2-normalised; rows without a matched post stay zero.
std::vector<float> pool_post_embeddings(const std::string& path, const post_spool& spool,
                                        const account_selection& sel, ingest_summary& s);

}  // namespace chorus::ingest
