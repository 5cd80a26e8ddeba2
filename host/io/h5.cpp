// chorus: HDF5 RAII layer.
#include "chorus/io/h5.hpp"

#include <hdf5.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "chorus/core/error.hpp"

namespace chorus::h5 {

static_assert(sizeof(hid_t) == sizeof(hid), "hid_t must be 64-bit (HDF5 >= 1.10)");

handle& handle::operator=(handle&& o) noexcept {
  if (this != &o) {
    this->~handle();
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

handle::~handle() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      break;
  }
  id_ = -1;
}

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
handle checked(hid_t id, const std::string& what) {
  if (id < 0) CHORUS_THROW(runtime_failure, "HDF5: ", what);
  return handle(id);
}
void check(herr_t rc, const std::string& what) {
  if (rc < 0) CHORUS_THROW(runtime_failure, "HDF5: ", what);
}
}  // namespace

namespace {
// Collects the descriptions on HDF5's error stack (to tell a truncated file from other damage).
herr_t collect_error(unsigned, const H5E_error2_t* e, void* out) {
  if (e && e->desc) static_cast<std::string*>(out)->append(e->desc).append("; ");
  return 0;
}
std::string error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &text);
  return text;
}
}  // namespace

handle open_read(const std::string& path) {
  quiet();
  struct stat st {};
  CHORUS_EXPECTS(stat(path.c_str(), &st) == 0, "cannot open input file '", path,
                 "': no such file or not readable");
  CHORUS_EXPECTS(!S_ISDIR(st.st_mode), "input '", path, "' is a directory, not an HDF5 file");
  {
    std::ifstream f(path, std::ios::binary);
    CHORUS_EXPECTS(f.good(), "cannot open input file '", path, "': no such file or not readable");
  }
  htri_t is = H5Fis_hdf5(path.c_str());
  CHORUS_EXPECTS(is > 0, "'", path, "' is not an HDF5 file (or it is truncated)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    // HDF5 compares the end of file with the end address its superblock records.
    const std::string why = error_stack_text();
    CHORUS_EXPECTS(why.find("truncated") == std::string::npos, "'", path,
                   "' is truncated (shorter than its HDF5 superblock says): re-copy the file");
    CHORUS_THROW(input_error, "cannot open HDF5 file '", path,
                 "' (damaged superblock, or locked by a writer?)");
  }
  return handle(id);
}

handle create(const std::string& path) {
  quiet();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CHORUS_EXPECTS(id >= 0, "cannot create output file '", path,
                 "' (directory missing or not writable?)");
  return handle(id);
}

handle open_rw(const std::string& path) {
  quiet();
  htri_t is = H5Fis_hdf5(path.c_str());
  CHORUS_EXPECTS(is > 0, "'", path, "' is not an HDF5 file (or it is missing or truncated)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  CHORUS_EXPECTS(id >= 0, "cannot open '", path,
                 "' for writing (read-only, or open in another process?)");
  return handle(id);
}

bool exists(const handle& file, const std::string& path) {
  std::string partial;
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t next = path.find('/', pos + 1);
    if (next == std::string::npos) next = path.size();
    partial = path.substr(0, next);
    if (partial != "/" && !partial.empty()) {
      if (H5Lexists(file.get(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next;
  }
  return true;
}

std::vector<std::string> children(const handle& file, const std::string& group) {
  H5G_info_t gi;
  check(H5Gget_info_by_name(file.get(), group.c_str(), &gi, H5P_DEFAULT),
        "cannot list '" + group + "'");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < gi.nlinks && i < 4096; ++i) {  // a hostile file's count is not trusted
    const ssize_t len = H5Lget_name_by_idx(file.get(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, i,
                                           nullptr, 0, H5P_DEFAULT);
    if (len < 0 || len > 4096) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    if (H5Lget_name_by_idx(file.get(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, i, &name[0],
                           name.size(), H5P_DEFAULT) < 0)
      continue;
    name.resize(static_cast<std::size_t>(len));
    names.push_back(name);
  }
  return names;
}

handle open_group(const handle& file, const std::string& path) {
  CHORUS_EXPECTS(exists(file, path), "group '", path, "' is missing");
  hid_t id = H5Gopen2(file.get(), path.c_str(), H5P_DEFAULT);
  CHORUS_EXPECTS(id >= 0, "'", path, "' is not a group");
  return handle(id);
}

handle open_dataset(const handle& file, const std::string& path) {
  CHORUS_EXPECTS(exists(file, path), "dataset '", path, "' is missing");
  H5O_info_t oi;
#if H5_VERSION_GE(1, 12, 0)
  herr_t rc = H5Oget_info_by_name3(file.get(), path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT);
#else
  herr_t rc = H5Oget_info_by_name2(file.get(), path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
  CHORUS_EXPECTS(rc >= 0 && oi.type == H5O_TYPE_DATASET, "'", path, "' is not a dataset");
  hid_t id = H5Dopen2(file.get(), path.c_str(), H5P_DEFAULT);
  CHORUS_EXPECTS(id >= 0, "cannot open dataset '", path, "'");
  return handle(id);
}

dataset_info describe(const handle& dset) {
  dataset_info info;
  handle space = checked(H5Dget_space(dset.get()), "get dataspace");
  int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, "dataspace rank");
  info.dims.resize(rank);
  std::vector<hsize_t> d(rank);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  for (int i = 0; i < rank; ++i) info.dims[i] = d[i];
  handle type = checked(H5Dget_type(dset.get()), "get datatype");
  info.elem_size = H5Tget_size(type.get());
  switch (H5Tget_class(type.get())) {
    case H5T_FLOAT:
      info.cls = kind::floating;
      break;
    case H5T_INTEGER:
      info.cls = kind::integer;
      info.is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
      break;
    case H5T_STRING:
      info.cls = kind::string;
      break;
    case H5T_COMPOUND:
      info.type_name = "compound";
      break;
    case H5T_ENUM:
      info.type_name = "enum";
      break;
    case H5T_ARRAY:
      info.type_name = "array";
      break;
    case H5T_VLEN:
      info.type_name = "variable-length sequence";
      break;
    case H5T_OPAQUE:
      info.type_name = "opaque";
      break;
    case H5T_BITFIELD:
      info.type_name = "bitfield";
      break;
    case H5T_REFERENCE:
      info.type_name = "reference";
      break;
    default:
      info.type_name = "unknown type class";
  }
  return info;
}

std::string name_of(const handle& obj) {
  char buf[512];
  const ssize_t len = H5Iget_name(obj.get(), buf, sizeof buf);
  if (len <= 0) return "?";
  return std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(len), sizeof buf - 1));
}

handle create_group(const handle& file, const std::string& path) {
  handle lcpl = checked(H5Pcreate(H5P_LINK_CREATE), "lcpl");
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return checked(H5Gcreate2(file.get(), path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                 "create group " + path);
}

void remove(const handle& loc, const std::string& path) {
  check(H5Ldelete(loc.get(), path.c_str(), H5P_DEFAULT), "cannot remove " + path);
}

namespace {
// A link creation property list that creates missing parent groups.
handle parents_lcpl() {
  handle lcpl = checked(H5Pcreate(H5P_LINK_CREATE), "lcpl");
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}
// A variable-length UTF-8 string type.
handle utf8_string_type() {
  handle type = checked(H5Tcopy(H5T_C_S1), "copy type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "string type size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string type cset");
  return type;
}
}  // namespace

template <>
hid native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}
template <>
hid native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
hid native_type<std::int8_t>() {
  return H5T_NATIVE_INT8;
}
template <>
hid native_type<std::uint16_t>() {
  return H5T_NATIVE_UINT16;
}

namespace {
// Select rows [row0, row0+nrows) of a rank-1/2 dataset; returns (file space, memory space).
std::pair<handle, handle> select_rows(const handle& dset, std::uint64_t row0, std::uint64_t nrows) {
  handle fspace = checked(H5Dget_space(dset.get()), "get dataspace");
  int rank = H5Sget_simple_extent_ndims(fspace.get());
  CHORUS_ENSURES(rank == 1 || rank == 2, "rank ", rank);
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(fspace.get(), dims, nullptr);
  CHORUS_ENSURES(row0 + nrows <= dims[0], "rows ", row0, "+", nrows, " > ", dims[0]);
  hsize_t start[2] = {row0, 0};
  hsize_t count[2] = {nrows, rank == 2 ? dims[1] : 1};
  check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        "select hyperslab");
  handle mspace = checked(H5Screate_simple(rank, count, nullptr), "memory space");
  return {std::move(fspace), std::move(mspace)};
}
}  // namespace

template <typename T>
void read_rows(const handle& dset, std::uint64_t row0, std::uint64_t nrows, T* out) {
  if (nrows == 0) return;
  auto [fspace, mspace] = select_rows(dset, row0, nrows);
  if (H5Dread(dset.get(), native_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0)
    CHORUS_THROW(input_error, "cannot read ", name_of(dset), " rows ", row0, "..", row0 + nrows,
                 " (file truncated or damaged, or a type that cannot convert)");
}

template <typename T>
std::vector<T> read_all(const handle& dset) {
  dataset_info info = describe(dset);
  CHORUS_EXPECTS(info.rank() == 1, "expected a rank-1 dataset, found rank ", info.rank());
  std::vector<T> v(info.dims[0]);
  read_rows<T>(dset, 0, info.dims[0], v.data());
  return v;
}

std::vector<std::string> read_strings(const handle& dset) {
  dataset_info info = describe(dset);
  CHORUS_EXPECTS(info.rank() == 1 && info.cls == kind::string, "expected rank-1 strings");
  return read_strings(dset, 0, info.dims[0]);
}

std::vector<std::string> read_strings(const handle& dset, std::uint64_t row0, std::uint64_t nrows) {
  dataset_info info = describe(dset);
  CHORUS_EXPECTS(info.rank() == 1 && info.cls == kind::string, "expected rank-1 strings");
  std::vector<std::string> out(nrows);
  if (nrows == 0) return out;
  auto [fspace, mspace] = select_rows(dset, row0, nrows);
  handle ftype = checked(H5Dget_type(dset.get()), "get type");
  if (H5Tis_variable_str(ftype.get()) > 0) {
    handle mtype = checked(H5Tcopy(H5T_C_S1), "copy type");
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    std::vector<char*> ptrs(nrows, nullptr);
    if (H5Dread(dset.get(), mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, ptrs.data()) <
        0) {
      H5Dvlen_reclaim(mtype.get(), mspace.get(), H5P_DEFAULT, ptrs.data());
      CHORUS_THROW(input_error, "cannot read strings of ", name_of(dset), " rows ", row0, "..",
                   row0 + nrows, " (file truncated or damaged)");
    }
    for (std::uint64_t i = 0; i < nrows; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    H5Dvlen_reclaim(mtype.get(), mspace.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t sz = H5Tget_size(ftype.get());
    CHORUS_EXPECTS(sz > 0 && sz <= (1u << 20), name_of(dset), " has fixed-length strings of ", sz,
                   " bytes (at most 2^20 supported)");
    handle mtype = checked(H5Tcopy(H5T_C_S1), "copy type");
    H5Tset_size(mtype.get(), sz);
    // null-padded, not null-terminated: a string that fills all sz bytes (h5py's 'S' arrays are
    // H5T_STR_NULLPAD) must keep its last byte; strnlen below finds the end either way
    H5Tset_strpad(mtype.get(), H5T_STR_NULLPAD);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    std::vector<char> buf(nrows * sz);
    if (H5Dread(dset.get(), mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data()) < 0)
      CHORUS_THROW(input_error, "cannot read strings of ", name_of(dset), " rows ", row0, "..",
                   row0 + nrows, " (file truncated or damaged)");
    for (std::uint64_t i = 0; i < nrows; ++i)
      out[i] = std::string(buf.data() + i * sz, strnlen(buf.data() + i * sz, sz));
  }
  return out;
}

template <typename T>
handle create_dataset(const handle& loc, const std::string& path,
                      const std::vector<std::uint64_t>& dims, std::uint64_t chunk_rows,
                      int deflate) {
  CHORUS_ENSURES(dims.size() == 1 || dims.size() == 2, "rank ", dims.size());
  hsize_t d[2] = {dims[0], dims.size() == 2 ? dims[1] : 1};
  handle space = checked(H5Screate_simple(static_cast<int>(dims.size()), d, nullptr), "space");
  handle lcpl = parents_lcpl();
  handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), "dcpl");
  if (chunk_rows > 0 && d[0] > 0 && d[1] > 0) {
    hsize_t c[2] = {std::min<hsize_t>(chunk_rows, d[0]), d[1]};
    H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), c);
    if (deflate > 0) {
      H5Pset_shuffle(dcpl.get());
      H5Pset_deflate(dcpl.get(), static_cast<unsigned>(deflate));
    }
  }
  return checked(H5Dcreate2(loc.get(), path.c_str(), native_type<T>(), space.get(), lcpl.get(),
                            dcpl.get(), H5P_DEFAULT),
                 "create dataset " + path);
}

template <typename T>
handle create_extendible(const handle& loc, const std::string& path, std::uint64_t chunk_rows,
                         int deflate) {
  CHORUS_ENSURES(chunk_rows > 0, "an extendible dataset needs chunks");
  hsize_t d0 = 0, maxd = H5S_UNLIMITED, chunk = chunk_rows;
  handle space = checked(H5Screate_simple(1, &d0, &maxd), "space");
  handle lcpl = parents_lcpl();
  handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), "dcpl");
  check(H5Pset_chunk(dcpl.get(), 1, &chunk), "chunk");
  if (deflate > 0) {
    check(H5Pset_shuffle(dcpl.get()), "shuffle");
    check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(deflate)), "deflate");
  }
  return checked(H5Dcreate2(loc.get(), path.c_str(), native_type<T>(), space.get(), lcpl.get(),
                            dcpl.get(), H5P_DEFAULT),
                 "create dataset " + path);
}

template <typename T>
void write_rows(const handle& dset, std::uint64_t row0, std::uint64_t nrows, const T* data) {
  if (nrows == 0) return;
  auto [fspace, mspace] = select_rows(dset, row0, nrows);
  check(H5Dwrite(dset.get(), native_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, data),
        "write rows (disk full?)");
}

template <typename T>
void append_rows(const handle& dset, std::uint64_t& rows, std::uint64_t nrows, const T* data) {
  if (nrows == 0) return;
  hsize_t n = rows + nrows;
  check(H5Dset_extent(dset.get(), &n), "extend dataset");
  write_rows<T>(dset, rows, nrows, data);
  rows += nrows;
}

template <typename T>
void write_vector(const handle& loc, const std::string& path, const std::vector<T>& v) {
  handle d = create_dataset<T>(loc, path, {v.size()}, v.size() > 65536 ? 65536 : 0,
                               v.size() > 65536 ? 1 : 0);
  write_rows<T>(d, 0, v.size(), v.data());
}

handle create_strings(const handle& loc, const std::string& path, std::uint64_t rows,
                      std::uint64_t chunk_rows) {
  handle type = utf8_string_type();
  hsize_t n = rows;
  handle space = checked(H5Screate_simple(1, &n, nullptr), "space");
  handle lcpl = parents_lcpl();
  handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), "dcpl");
  if (rows > 0 && chunk_rows > 0) {
    hsize_t c = std::min<hsize_t>(chunk_rows, rows);
    check(H5Pset_chunk(dcpl.get(), 1, &c), "string chunk");
  }
  return checked(H5Dcreate2(loc.get(), path.c_str(), type.get(), space.get(), lcpl.get(),
                            dcpl.get(), H5P_DEFAULT),
                 "create dataset " + path);
}

void write_strings(const handle& dset, std::uint64_t row0, const std::vector<std::string>& v) {
  if (v.empty()) return;
  handle type = utf8_string_type();
  std::vector<const char*> ptrs(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) ptrs[i] = v[i].c_str();
  auto [fspace, mspace] = select_rows(dset, row0, v.size());
  check(H5Dwrite(dset.get(), type.get(), mspace.get(), fspace.get(), H5P_DEFAULT, ptrs.data()),
        "write strings (disk full?)");
}

void write_strings(const handle& loc, const std::string& path, const std::vector<std::string>& v) {
  write_strings(create_strings(loc, path, v.size()), 0, v);
}

namespace {
handle scalar_attr(const handle& obj, const std::string& name, hid_t type) {
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  handle space = checked(H5Screate(H5S_SCALAR), "scalar space");
  return checked(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                 "create attribute " + name);
}
}  // namespace

void set_attr(const handle& obj, const std::string& name, const std::string& value) {
  handle type = checked(H5Tcopy(H5T_C_S1), "copy type");
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  handle a = scalar_attr(obj, name, type.get());
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  check(H5Awrite(a.get(), type.get(), buf.data()), "write attribute " + name);
}
void set_attr(const handle& obj, const std::string& name, double value) {
  handle a = scalar_attr(obj, name, H5T_NATIVE_DOUBLE);
  check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}
void set_attr(const handle& obj, const std::string& name, std::int64_t value) {
  handle a = scalar_attr(obj, name, H5T_NATIVE_INT64);
  check(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), "write attribute " + name);
}

bool get_attr(const handle& obj, const std::string& name, std::string& value) {
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return false;
  handle a = checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "open attribute");
  handle ftype = checked(H5Aget_type(a.get()), "attribute type");
  if (H5Tget_class(ftype.get()) != H5T_STRING) return false;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    char* p = nullptr;
    check(H5Aread(a.get(), ftype.get(), &p), "read attribute");
    value = p ? p : "";
    free(p);
  } else {
    std::size_t sz = H5Tget_size(ftype.get());
    std::vector<char> buf(sz + 1, '\0');
    check(H5Aread(a.get(), ftype.get(), buf.data()), "read attribute");
    value = std::string(buf.data(), strnlen(buf.data(), sz));
  }
  return true;
}
bool get_attr(const handle& obj, const std::string& name, double& value) {
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return false;
  handle a = checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "open attribute");
  return H5Aread(a.get(), H5T_NATIVE_DOUBLE, &value) >= 0;
}
bool get_attr(const handle& obj, const std::string& name, std::int64_t& value) {
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return false;
  handle a = checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "open attribute");
  return H5Aread(a.get(), H5T_NATIVE_INT64, &value) >= 0;
}

std::vector<std::string> attr_names(const handle& obj) {
  std::vector<std::string> names;
  H5O_info_t oi;
#if H5_VERSION_GE(1, 12, 0)
  H5Oget_info3(obj.get(), &oi, H5O_INFO_NUM_ATTRS);
#else
  H5Oget_info2(obj.get(), &oi, H5O_INFO_NUM_ATTRS);
#endif
  for (hsize_t i = 0; i < oi.num_attrs; ++i) {
    char buf[256];
    ssize_t len = H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, buf,
                                     sizeof buf, H5P_DEFAULT);
    if (len < 0)
      len = H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf,
                               H5P_DEFAULT);
    if (len >= 0) names.emplace_back(buf);
  }
  return names;
}

template <typename T>
void create_virtual_concat(const handle& loc, const std::string& path,
                           const std::vector<virtual_source>& sources, T fill) {
  hsize_t total = 0;
  for (const auto& s : sources) total += s.rows;
  handle space = checked(H5Screate_simple(1, &total, nullptr), "space");
  handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), "dcpl");
  check(H5Pset_fill_value(dcpl.get(), native_type<T>(), &fill), "fill value");
  hsize_t off = 0;
  for (const auto& s : sources) {
    if (s.rows == 0) continue;
    hsize_t count = s.rows;
    handle src_space = checked(H5Screate_simple(1, &count, nullptr), "source space");
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &off, nullptr, &count, nullptr),
          "select virtual rows");
    check(
        H5Pset_virtual(dcpl.get(), space.get(), s.file.c_str(), s.dataset.c_str(), src_space.get()),
        "map virtual source " + s.file);
    off += count;
  }
  check(H5Sselect_all(space.get()), "select all");
  handle lcpl = parents_lcpl();
  handle d = checked(H5Dcreate2(loc.get(), path.c_str(), native_type<T>(), space.get(), lcpl.get(),
                                dcpl.get(), H5P_DEFAULT),
                     "create virtual dataset " + path);
}

std::vector<std::string> virtual_files(const handle& dset) {
  std::vector<std::string> out;
  handle dcpl = checked(H5Dget_create_plist(dset.get()), "dataset creation properties");
  if (H5Pget_layout(dcpl.get()) != H5D_VIRTUAL) return out;
  size_t count = 0;
  check(H5Pget_virtual_count(dcpl.get(), &count), "virtual count");
  for (size_t k = 0; k < count; ++k) {
    const ssize_t len = H5Pget_virtual_filename(dcpl.get(), k, nullptr, 0);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Pget_virtual_filename(dcpl.get(), k, &name[0], name.size());
    name.resize(static_cast<std::size_t>(len));
    out.push_back(name);
  }
  return out;
}

void flush(const handle& file) { check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush"); }

#define CHORUS_H5_INSTANTIATE(T)                                                               \
  template void read_rows<T>(const handle&, std::uint64_t, std::uint64_t, T*);                 \
  template std::vector<T> read_all<T>(const handle&);                                          \
  template handle create_dataset<T>(const handle&, const std::string&,                         \
                                    const std::vector<std::uint64_t>&, std::uint64_t, int);    \
  template void write_rows<T>(const handle&, std::uint64_t, std::uint64_t, const T*);          \
  template handle create_extendible<T>(const handle&, const std::string&, std::uint64_t, int); \
  template void append_rows<T>(const handle&, std::uint64_t&, std::uint64_t, const T*);        \
  template void write_vector<T>(const handle&, const std::string&, const std::vector<T>&);     \
  template void create_virtual_concat<T>(const handle&, const std::string&,                    \
                                         const std::vector<virtual_source>&, T);
CHORUS_H5_INSTANTIATE(float)
CHORUS_H5_INSTANTIATE(double)
CHORUS_H5_INSTANTIATE(std::int64_t)
CHORUS_H5_INSTANTIATE(std::uint64_t)
CHORUS_H5_INSTANTIATE(std::int32_t)
CHORUS_H5_INSTANTIATE(std::uint8_t)
CHORUS_H5_INSTANTIATE(std::int8_t)
CHORUS_H5_INSTANTIATE(std::uint16_t)

}  // namespace chorus::h5
