// chorus: a thin RAII layer over the HDF5 C API (serial HDF5 1.10+). Errors become chorus
// exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chorus::h5 {

using hid = std::int64_t;  ///< hid_t is int64_t in HDF5 >= 1.10

/// Owns one HDF5 identifier (file, group, dataset, dataspace, type, property list, attribute).
class handle {
 public:
  handle() = default;
  explicit handle(hid id) : id_(id) {}
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  handle(handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  handle& operator=(handle&& o) noexcept;
  ~handle();
  hid get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }

 private:
  hid id_ = -1;
};

/// Element class of a dataset, as far as chorus cares.
enum class kind { floating, integer, string, other };

/// Shape and element type of one dataset.
struct dataset_info {
  std::vector<std::uint64_t> dims;  ///< extent per dimension
  kind cls = kind::other;
  std::size_t elem_size = 0;  ///< bytes per element in the file
  bool is_signed = true;      ///< integers only
  std::string type_name;      ///< HDF5 type class for messages ("compound", "enum", ...)
  int rank() const { return static_cast<int>(dims.size()); }
};

/// Silence HDF5's own error printing for the life of the process (chorus reports errors itself).
void quiet();

/// Open an existing file read-only; throws input_error with a clear message when it is missing
/// or not an HDF5 file.
handle open_read(const std::string& path);
/// Create (truncate) a file for writing.
handle create(const std::string& path);
/// Open an existing file read-write; throws input_error when it is missing, not an HDF5 file,
/// or cannot be opened for writing.
handle open_rw(const std::string& path);
/// True when the file holds a link at `path` (intermediate groups checked one by one).
bool exists(const handle& file, const std::string& path);
/// Open a group (to read its attributes); throws input_error when it is missing or not a group.
handle open_group(const handle& file, const std::string& path);
/// Open a dataset; throws input_error naming `path` when it is missing or not a dataset.
handle open_dataset(const handle& file, const std::string& path);
/// Names of the links in `group` ("/" for the root), in name order (at most 4096).
std::vector<std::string> children(const handle& file, const std::string& group);
/// Describe a dataset.
dataset_info describe(const handle& dset);
/// Create a group and its missing parents.
handle create_group(const handle& file, const std::string& path);
/// Remove the link `path` (a dataset or a group with everything under it); the space it held
/// is not reclaimed. Throws runtime_failure when it cannot.
void remove(const handle& loc, const std::string& path);

/// Native element types chorus reads and writes.
template <typename T>
hid native_type();

/// Read rows [row0, row0+nrows) of a rank-1 or rank-2 dataset into `out` (row-major, converted
/// to T by HDF5). For rank 1, ncols must be 1.
template <typename T>
void read_rows(const handle& dset, std::uint64_t row0, std::uint64_t nrows, T* out);

/// Read a whole rank-1 dataset.
template <typename T>
std::vector<T> read_all(const handle& dset);

/// Read a rank-1 variable- or fixed-length string dataset.
std::vector<std::string> read_strings(const handle& dset);
/// Read rows [row0, row0+nrows) of a rank-1 string dataset (for validating in blocks).
std::vector<std::string> read_strings(const handle& dset, std::uint64_t row0, std::uint64_t nrows);

/// Full path of an open object (e.g. "/embedding"), for messages; "?" when unknown.
std::string name_of(const handle& obj);

/// Create a dataset of shape dims (rank 1 or 2) with element type T, chunked and compressed when
/// `chunk_rows` > 0. Returns the open dataset for write_rows.
template <typename T>
handle create_dataset(const handle& loc, const std::string& path,
                      const std::vector<std::uint64_t>& dims, std::uint64_t chunk_rows = 0,
                      int deflate = 0);

/// One source of a virtual dataset: the rank-1 dataset `dataset` of length `rows` in `file`
/// (a path relative to the virtual dataset's file is found next to it).
struct virtual_source {
  std::string file, dataset;
  std::uint64_t rows = 0;
};

/// Create a rank-1 virtual dataset (HDF5 VDS) of element type T that concatenates `sources` in
/// order; readers (h5py included) see one dataset. Sources of zero rows are skipped. `fill` is
/// what readers get where a source file cannot be found.
template <typename T>
void create_virtual_concat(const handle& loc, const std::string& path,
                           const std::vector<virtual_source>& sources, T fill);

/// Source files of a virtual dataset (empty when `dset` is not virtual), as stored (relative
/// paths are relative to the virtual dataset's file).
std::vector<std::string> virtual_files(const handle& dset);

/// Create a rank-1 dataset of element type T that starts empty and grows without limit
/// (chunks of `chunk_rows`, which must be > 0; shuffled and deflated at level `deflate` when
/// `deflate` > 0). Fill it with append_rows.
template <typename T>
handle create_extendible(const handle& loc, const std::string& path, std::uint64_t chunk_rows,
                         int deflate = 0);

/// Write rows [row0, row0+nrows) of a rank-1 or rank-2 dataset from row-major `data`.
template <typename T>
void write_rows(const handle& dset, std::uint64_t row0, std::uint64_t nrows, const T* data);

/// Grow a dataset made by create_extendible from `rows` to `rows + nrows` rows, write `data`
/// there and advance `rows`.
template <typename T>
void append_rows(const handle& dset, std::uint64_t& rows, std::uint64_t nrows, const T* data);

/// Convenience: create and fill a rank-1 dataset.
template <typename T>
void write_vector(const handle& loc, const std::string& path, const std::vector<T>& v);

/// Write a rank-1 variable-length UTF-8 string dataset.
void write_strings(const handle& loc, const std::string& path, const std::vector<std::string>& v);
/// Create a rank-1 variable-length UTF-8 string dataset of `rows` rows, chunked (uncompressed)
/// by `chunk_rows` when both are > 0, for write_strings below.
handle create_strings(const handle& loc, const std::string& path, std::uint64_t rows,
                      std::uint64_t chunk_rows = 0);
/// Write rows [row0, row0 + v.size()) of a dataset made by create_strings.
void write_strings(const handle& dset, std::uint64_t row0, const std::vector<std::string>& v);

/// Scalar attributes on a file, group or dataset (`obj` is any open object).
void set_attr(const handle& obj, const std::string& name, const std::string& value);
void set_attr(const handle& obj, const std::string& name, double value);
void set_attr(const handle& obj, const std::string& name, std::int64_t value);
/// Read attributes; return false when absent.
bool get_attr(const handle& obj, const std::string& name, std::string& value);
bool get_attr(const handle& obj, const std::string& name, double& value);
bool get_attr(const handle& obj, const std::string& name, std::int64_t& value);
/// Names of all attributes on an object.
std::vector<std::string> attr_names(const handle& obj);

/// Flush a file to disk.
void flush(const handle& file);

}  // namespace chorus::h5
