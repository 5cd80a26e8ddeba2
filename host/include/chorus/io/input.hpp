// chorus: reading and validating an input file, and preparing its views for scoring.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {

/// What an input file holds, validated (shapes, dtypes, lengths) without reading the data.
struct input_info {
  std::string path;
  std::uint64_t file_size = 0;
  std::int64_t n = 0;
  bool has_embedding = false, has_activity = false, has_handles = false, has_truth = false;
  std::int64_t dim = 0, bins = 0;
  std::string embedding_dtype, activity_dtype;
  /// dtype of /accounts/id: an integer type ("int64", "uint32", ...), or "string": string ids,
  /// which chorus turns into int64 ids with account_id_of_string (datasets/SCHEMA.md).
  std::string id_dtype;
  bool string_ids() const { return id_dtype == "string"; }
  /// Top-level datasets and groups chorus does not read, by path, each followed by the name it
  /// probably meant when one is close ("/embeddings -> /embedding"); a job warns about them,
  /// since a misnamed view silently changes the analysis.
  std::vector<std::string> unrecognised;
};

/// Open `path` and validate its layout (datasets/SCHEMA.md). Throws input_error on any problem.
/// A job calls it once and hands the result to open_input / load_input.
input_info inspect_input(const std::string& path);

/// Check that every /accounts/handle, and every string /accounts/id, is valid UTF-8 (the message
/// names the first bad row; an empty string id is refused too).
void check_handles(const std::string& path, std::int64_t block_rows = 16384);

/// The int64 account id chorus derives from a string account id: FNV-1a 64 of its UTF-8 bytes
/// with the top bit cleared, so always >= 0 (datasets/SCHEMA.md gives the same in Python).
std::int64_t account_id_of_string(const std::string& s);
/// Account ids of rows [row0, row0 + rows) of the input file `f`: integer ids as stored
/// (converted to int64), string ids through account_id_of_string. Validates nothing (open_input
/// does): for readers that check a file against ids chorus already loaded from it.
std::vector<std::int64_t> read_account_ids(const h5::handle& f, std::uint64_t row0,
                                           std::uint64_t rows);
/// The input dataset that names accounts for people: "/accounts/handle" when `f` has it,
/// "/accounts/id" when the ids are strings (they serve as handles), "" otherwise.
std::string account_names_dataset(const h5::handle& f);
/// A dataset's element type as chorus names it: "float32", "int64", "uint8", "string",
/// "compound", ...
std::string dtype_name(const h5::dataset_info& di);

/// inspect_input (and check_handles, whose variable-length strings HDF5 reads from its global
/// heap) in a child process first: a file that crashes the HDF5 library itself gives
/// input_error (exit code 2) instead of a crash. Returns normally when the file passes (with
/// `crash_only`, whenever the library did not crash: for callers that accept other files too).
void probe_input_isolated(const std::string& path, bool crash_only = false);
/// inspect_input in a child process (as probe_input_isolated): the layout the child found,
/// handed back so that a job inspects its input once. Falls back to inspect_input in-process
/// when no child can be started. Throws as inspect_input, or input_error when HDF5 crashed.
input_info inspect_input_isolated(const std::string& path);

/// A matrix the caller holds (chorus's Python package: a numpy array), read where it is.
struct memory_matrix {
  /// Element types read in place (activity counts are int32 as chorus ingest writes them).
  enum class element { f32, f64, i32 };
  const void* data = nullptr;  ///< null: absent
  element type = element::f32;
  std::int64_t rows = 0, cols = 0;
  std::int64_t row_stride = 0;  ///< elements from one row to the next (>= cols)
  bool present() const { return data != nullptr; }
  std::size_t element_size() const { return type == element::f64 ? 8 : 4; }
  const char* dtype() const {
    return type == element::f64 ? "float64" : type == element::i32 ? "int32" : "float32";
  }
};

/// Row `r` of `m` as float64 (exact for every element type) into out[0, m.cols).
void memory_row(const memory_matrix& m, std::int64_t r, double* out);

/// An input the caller holds in memory: the content of an input file (datasets/SCHEMA.md)
/// without the file. The matrices are read in place and must outlive the run.
struct memory_input {
  std::string name = "<arrays>";        ///< stands for the input path in messages and results
  std::vector<std::int64_t> ids;        ///< integer account ids, or empty with string_ids
  std::vector<std::string> string_ids;  ///< string ids (hashed by account_id_of_string)
  std::vector<std::string> handles;     ///< /accounts/handle, or empty
  std::vector<std::int64_t> truth;      ///< /truth/cluster, or empty
  memory_matrix embedding, activity;    ///< /embedding and /activity (raw counts)
};

/// What `m` holds, validated (lengths agree, ids given one way); input_info::path is m.name and
/// file_size the bytes of its ids and matrices.
input_info inspect_memory(const memory_input& m);

/// 64-bit hash of a memory input's ids and matrix rows (its identity in results).
std::uint64_t memory_checksum(const memory_input& m);

/// Options of load_input.
struct load_options {
  bool embedding = true;  ///< load and normalise /embedding
  bool activity = true;   ///< load, transform, centre and normalise /activity
  activity_transform transform = activity_transform::none;
  std::int64_t block_rows = 16384;  ///< rows per HDF5 hyperslab read
  /// Load view rows [row_begin, N) only (a rank of a multi-process job, whose pairs all have
  /// i >= row_begin); ids, truth and validation of the ids cover all rows.
  std::int64_t row_begin = 0;
  bool checksum = true;  ///< hash the file's bytes (loaded_input::checksum; 0 when false)
  /// Activity rows whose raw counts sum to less are left out (all zero, invalid); 0: none.
  double min_activity = 0;
};

/// A loaded input: ids, prepared views, optional truth.
struct loaded_input {
  input_info info;
  std::vector<std::int64_t> ids;
  view_matrix embedding, activity;
  /// Activity rows left out by load_options::min_activity (counted in activity.invalid_rows).
  std::int64_t below_min_activity = 0;
  std::vector<std::int64_t> truth;  ///< empty when the input has no /truth/cluster
  std::uint64_t checksum = 0;       ///< 64-bit hash of the file's bytes
};

class row_feed;

/// The first half of load_input, for the file `info` describes: `info` must come from
/// inspect_input(info.path) (not inspected again: only checked, from the file's metadata, to
/// still describe the file: the shapes of /accounts/id, the views, /accounts/handle and
/// /truth/cluster). Refuses a load larger than this machine's memory; reads ids (duplicates and
/// ids above 2^63-1 refused; string ids hashed by account_id_of_string, refused when empty, not
/// UTF-8, duplicated or when two hash alike), checks handles (UTF-8) and reads truth, and sizes
/// the views (rows all zero and invalid until read_views fills them).
loaded_input open_input(const input_info& info, const load_options& opt);
/// open_input(inspect_input(path), opt).
loaded_input open_input(const std::string& path, const load_options& opt);

/// The second half: read and prepare the views' rows block by block (both views interleaved),
/// then the checksum (when opt.checksum). After each block, rows below the published count are
/// final in every view: `feed` (may be null) lets scoring run while the file is read. Stops
/// early, leaving the rest unread, once feed->cancelled(). Throws input_error as load_input.
void read_views(loaded_input& in, const load_options& opt, row_feed* feed = nullptr);

/// Read the views the run needs, block by block, validating values (NaN/Inf name the first bad
/// row; duplicate ids name both rows). Memory: one fp32 copy per view plus one block.
/// open_input(info, opt) then read_views; `info` from inspect_input(info.path).
loaded_input load_input(const input_info& info, const load_options& opt);
/// load_input(inspect_input(path), opt).
loaded_input load_input(const std::string& path, const load_options& opt);

/// open_input for an input in memory (ids validated, views sized); read_views(in, opt, feed, m)
/// then fills the views from `m`.
loaded_input open_input(const memory_input& m, const load_options& opt);
void read_views(loaded_input& in, const load_options& opt, row_feed* feed, const memory_input& m);

/// load_input for an input in memory: the same validation (duplicate or bad string ids, handles
/// not UTF-8, NaN/Inf rows) and the same prepared rows, bit for bit, as from a file holding the
/// same values; the matrices are read in place, a row at a time per thread.
loaded_input load_input(const memory_input& m, const load_options& opt);

/// 64-bit hash of a file's bytes (input identity recorded in results).
std::uint64_t file_checksum(const std::string& path);

/// Checked a * b for sizes that grow with N*d or N^2; throws input_error on overflow.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what);

}  // namespace chorus
