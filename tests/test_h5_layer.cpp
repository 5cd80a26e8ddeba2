// The HDF5 layer (chorus/io/h5.hpp) for every element type it is instantiated for, every type
// class it names, fixed- and variable-length strings, attributes, virtual datasets and its
// errors. Files are written or checked with the HDF5 C API directly where the layer itself is
// under test.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::test::message_of;

namespace {

template <typename T>
struct type_facts;
template <>
struct type_facts<float> {
  static constexpr h5::kind cls = h5::kind::floating;
  static constexpr bool is_signed = true;
};
template <>
struct type_facts<double> : type_facts<float> {};
template <>
struct type_facts<std::int64_t> {
  static constexpr h5::kind cls = h5::kind::integer;
  static constexpr bool is_signed = true;
};
template <>
struct type_facts<std::int32_t> : type_facts<std::int64_t> {};
template <>
struct type_facts<std::int8_t> : type_facts<std::int64_t> {};
template <>
struct type_facts<std::uint64_t> {
  static constexpr h5::kind cls = h5::kind::integer;
  static constexpr bool is_signed = false;
};
template <>
struct type_facts<std::uint8_t> : type_facts<std::uint64_t> {};
template <>
struct type_facts<std::uint16_t> : type_facts<std::uint64_t> {};

template <typename T>
std::vector<T> values(std::size_t n, int salt) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<T>((i * 37 + static_cast<std::size_t>(salt)) % 101);
  return v;
}

template <typename T>
void round_trip(const std::string& dir, const char* name) {
  SCOPED_TRACE(name);
  const std::string path = dir + "/" + name + ".h5", shard = dir + "/" + name + "_shard.h5";
  {
    h5::handle f = h5::create(path);
    // small (contiguous) and large (chunked and deflated) rank-1 datasets
    h5::write_vector(f, "/small", values<T>(10, 1));
    h5::write_vector(f, "/g/large", values<T>(70000, 2));
    h5::write_vector(f, "/empty", std::vector<T>{});
    // rank 2, chunked and compressed, written in two blocks
    auto d = h5::create_dataset<T>(f, "/matrix", {7, 3}, 4, 1);
    const auto m = values<T>(21, 3);
    h5::write_rows(d, 0, 5, m.data());
    h5::write_rows(d, 5, 2, m.data() + 15);
    h5::write_rows<T>(d, 7, 0, nullptr);  // nothing to write
  }
  {
    h5::handle s = h5::create(shard);
    h5::write_vector(s, "/part", values<T>(6, 4));
  }
  {
    h5::handle f = h5::open_read(path);
    EXPECT_EQ(h5::read_all<T>(h5::open_dataset(f, "/small")), values<T>(10, 1));
    EXPECT_EQ(h5::read_all<T>(h5::open_dataset(f, "/g/large")), values<T>(70000, 2));
    EXPECT_TRUE(h5::read_all<T>(h5::open_dataset(f, "/empty")).empty());
    h5::handle d = h5::open_dataset(f, "/matrix");
    const h5::dataset_info di = h5::describe(d);
    EXPECT_EQ(di.dims, (std::vector<std::uint64_t>{7, 3}));
    EXPECT_EQ(di.rank(), 2);
    EXPECT_EQ(di.cls, type_facts<T>::cls);
    EXPECT_EQ(di.elem_size, sizeof(T));
    if (di.cls == h5::kind::integer) EXPECT_EQ(di.is_signed, type_facts<T>::is_signed);
    std::vector<T> rows(6);
    h5::read_rows(d, 3, 2, rows.data());
    const auto m = values<T>(21, 3);
    EXPECT_EQ(rows, std::vector<T>(m.begin() + 9, m.begin() + 15));
    EXPECT_EQ(h5::name_of(d), "/matrix");
    EXPECT_TRUE(h5::virtual_files(d).empty());
  }
  {
    // a virtual dataset over a shard, the file itself and an empty source; then a missing one
    h5::handle f = h5::create(dir + "/" + name + "_vds.h5");
    h5::write_vector(f, "/own", values<T>(3, 5));
    h5::create_virtual_concat<T>(f, "/all",
                                 {{name + std::string("_shard.h5"), "/part", 6},
                                  {".", "/own", 3},
                                  {"nowhere.h5", "/part", 0}},
                                 T{0});
    h5::create_virtual_concat<T>(f, "/lost", {{"missing_shard.h5", "/part", 4}}, T{9});
  }
  {
    h5::handle f = h5::open_read(dir + "/" + name + "_vds.h5");
    std::vector<T> want = values<T>(6, 4);
    const auto own = values<T>(3, 5);
    want.insert(want.end(), own.begin(), own.end());
    EXPECT_EQ(h5::read_all<T>(h5::open_dataset(f, "/all")), want);
    EXPECT_EQ(h5::virtual_files(h5::open_dataset(f, "/all")),
              (std::vector<std::string>{name + std::string("_shard.h5"), "."}));
    EXPECT_EQ(h5::read_all<T>(h5::open_dataset(f, "/lost")), std::vector<T>(4, T{9}));
  }
}

TEST(H5Layer, EveryElementTypeRoundTrips) {
  const std::string dir = test::scratch_dir("h5_types");
  round_trip<float>(dir, "float");
  round_trip<double>(dir, "double");
  round_trip<std::int64_t>(dir, "int64");
  round_trip<std::uint64_t>(dir, "uint64");
  round_trip<std::int32_t>(dir, "int32");
  round_trip<std::uint8_t>(dir, "uint8");
  round_trip<std::int8_t>(dir, "int8");
  round_trip<std::uint16_t>(dir, "uint16");
}

// A rank-1 dataset of `type` with 2 elements (zeros), made with the C API.
void raw_dataset(hid_t file, const char* name, hid_t type, const void* data = nullptr) {
  hsize_t n = 2;
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0) << name;
  if (data) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(space);
}

TEST(H5Layer, DescribeNamesEveryTypeClass) {
  const std::string dir = test::scratch_dir("h5_classes");
  const std::string path = dir + "/classes.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t compound = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(compound, "x", 0, H5T_NATIVE_DOUBLE);
    raw_dataset(f, "/compound", compound);
    hid_t en = H5Tenum_create(H5T_NATIVE_INT);
    int v0 = 0, v1 = 1;
    H5Tenum_insert(en, "no", &v0);
    H5Tenum_insert(en, "yes", &v1);
    raw_dataset(f, "/enum", en);
    hsize_t three = 3;
    hid_t arr = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &three);
    raw_dataset(f, "/array", arr);
    hid_t vl = H5Tvlen_create(H5T_NATIVE_INT);
    raw_dataset(f, "/vlen", vl);
    hid_t op = H5Tcreate(H5T_OPAQUE, 4);
    H5Tset_tag(op, "blob");
    raw_dataset(f, "/opaque", op);
    raw_dataset(f, "/bitfield", H5T_NATIVE_B8);
    raw_dataset(f, "/reference", H5T_STD_REF_OBJ);
    raw_dataset(f, "/uint16", H5T_STD_U16LE);
    for (hid_t t : {compound, en, arr, vl, op}) H5Tclose(t);
    H5Fclose(f);
  }
  h5::handle f = h5::open_read(path);
  const std::pair<const char*, const char*> named[] = {
      {"/compound", "compound"},  {"/enum", "enum"},
      {"/array", "array"},        {"/vlen", "variable-length sequence"},
      {"/opaque", "opaque"},      {"/bitfield", "bitfield"},
      {"/reference", "reference"}};
  for (const auto& [ds, want] : named) {
    const h5::dataset_info di = h5::describe(h5::open_dataset(f, ds));
    EXPECT_EQ(di.cls, h5::kind::other) << ds;
    EXPECT_EQ(di.type_name, want) << ds;
    EXPECT_EQ(di.dims, std::vector<std::uint64_t>{2}) << ds;
  }
  const h5::dataset_info u = h5::describe(h5::open_dataset(f, "/uint16"));
  EXPECT_EQ(u.cls, h5::kind::integer);
  EXPECT_FALSE(u.is_signed);
  EXPECT_EQ(u.elem_size, 2u);
  EXPECT_TRUE(u.type_name.empty());
}

TEST(H5Layer, FixedAndVariableLengthStrings) {
  const std::string dir = test::scratch_dir("h5_strings");
  const std::string path = dir + "/s.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    // fixed length 4: "ab" (null-padded), "wxyz" (no terminator), "" ; 3 rows
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hsize_t n = 3;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "/fixed", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char bytes[12] = {'a', 'b', 0, 0, 'w', 'x', 'y', 'z', 0, 0, 0, 0};
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes);
    H5Dclose(d);
    // variable length with a null entry
    hid_t v = H5Tcopy(H5T_C_S1);
    H5Tset_size(v, H5T_VARIABLE);
    d = H5Dcreate2(f, "/variable", v, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* ptrs[3] = {"first", nullptr, "third"};
    H5Dwrite(d, v, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs);
    H5Dclose(d);
    // fixed length beyond what chorus accepts (2^20 + 1 bytes per string)
    hid_t big = H5Tcopy(H5T_C_S1);
    H5Tset_size(big, (1u << 20) + 1);
    hsize_t one = 1;
    hid_t s1 = H5Screate_simple(1, &one, nullptr);
    d = H5Dcreate2(f, "/huge", big, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    // space-padded (Fortran style), full width and short
    hid_t sp = H5Tcopy(H5T_C_S1);
    H5Tset_size(sp, 4);
    H5Tset_strpad(sp, H5T_STR_SPACEPAD);
    hsize_t two = 2;
    hid_t s2 = H5Screate_simple(1, &two, nullptr);
    d = H5Dcreate2(f, "/spaced", sp, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char sbytes[8] = {'a', 'b', ' ', ' ', 'w', 'x', 'y', 'z'};
    H5Dwrite(d, sp, H5S_ALL, H5S_ALL, H5P_DEFAULT, sbytes);
    H5Dclose(d);
    H5Sclose(s2);
    for (hid_t x : {t, v, big, sp}) H5Tclose(x);
    H5Sclose(space);
    H5Sclose(s1);
    H5Fclose(f);
  }
  h5::handle f = h5::open_read(path);
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/fixed")),
            (std::vector<std::string>{"ab", "wxyz", ""}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/fixed"), 1, 1),
            (std::vector<std::string>{"wxyz"}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/spaced")),
            (std::vector<std::string>{"ab", "wxyz"}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/variable")),
            (std::vector<std::string>{"first", "", "third"}));
  EXPECT_TRUE(h5::read_strings(h5::open_dataset(f, "/variable"), 3, 0).empty());
  try {
    h5::read_strings(h5::open_dataset(f, "/huge"));
    ADD_FAILURE() << "2^20 + 1 byte strings were accepted";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("/huge has fixed-length strings of 1048577 bytes"),
              std::string::npos)
        << e.what();
  }
  // written by the layer: variable-length UTF-8, read back
  {
    h5::handle w = h5::create(dir + "/w.h5");
    h5::write_strings(w, "/a/b", {"x", "", "\xc3\xa9t\xc3\xa9"});
    h5::write_strings(w, "/none", {});
  }
  h5::handle w = h5::open_read(dir + "/w.h5");
  EXPECT_EQ(h5::read_strings(h5::open_dataset(w, "/a/b")),
            (std::vector<std::string>{"x", "", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_TRUE(h5::read_strings(h5::open_dataset(w, "/none")).empty());
  EXPECT_THROW(h5::read_strings(h5::open_dataset(h5::open_read(path), "/fixed"), 2, 5),
               runtime_failure);  // past the end: an internal check
}

// Datasets that grow by appended rows, string columns written block by block, opening a file
// read-write and removing a link: contents and the creation properties (chunks, filters, maximum
// extent, string type) the results and generated files rely on.
TEST(H5Layer, ExtendibleStringColumnsAndRemoval) {
  const std::string dir = test::scratch_dir("h5_grow");
  const std::string path = dir + "/g.h5";
  {
    h5::handle f = h5::create(path);
    h5::handle g = h5::create_extendible<std::int32_t>(f, "/a/grow", 4, 1);
    std::uint64_t rows = 0;
    const std::vector<std::int32_t> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    h5::append_rows(g, rows, 3, x.data());
    h5::append_rows<std::int32_t>(g, rows, 0, nullptr);
    h5::append_rows(g, rows, 6, x.data() + 3);
    EXPECT_EQ(rows, 9u);
    h5::handle s = h5::create_strings(f, "/names", 5, 2);
    h5::write_strings(s, 0, {"a", "\xc3\xa9"});
    h5::write_strings(s, 2, {"c", "", "e"});
    h5::write_strings(s, 5, {});
    h5::create_strings(f, "/none", 0, 2);
    h5::write_strings(f, "/plain", {"x"});
  }
  {
    h5::handle f = h5::open_read(path);
    EXPECT_EQ(h5::read_all<std::int32_t>(h5::open_dataset(f, "/a/grow")),
              (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/names")),
              (std::vector<std::string>{"a", "\xc3\xa9", "c", "", "e"}));
    EXPECT_TRUE(h5::read_strings(h5::open_dataset(f, "/none")).empty());
    auto layout = [&](const char* name, hsize_t& chunk, int& filters, hsize_t& maxd) {
      h5::handle d = h5::open_dataset(f, name);
      h5::handle dcpl(H5Dget_create_plist(d.get()));
      chunk = 0;
      if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) H5Pget_chunk(dcpl.get(), 1, &chunk);
      filters = H5Pget_nfilters(dcpl.get());
      h5::handle space(H5Dget_space(d.get()));
      hsize_t dim = 0;
      H5Sget_simple_extent_dims(space.get(), &dim, &maxd);
    };
    hsize_t chunk = 0, maxd = 0;
    int filters = 0;
    layout("/a/grow", chunk, filters, maxd);
    EXPECT_EQ(chunk, 4u);
    EXPECT_EQ(filters, 2);  // shuffle and deflate
    EXPECT_EQ(maxd, H5S_UNLIMITED);
    layout("/names", chunk, filters, maxd);
    EXPECT_EQ(chunk, 2u);
    EXPECT_EQ(filters, 0);
    EXPECT_EQ(maxd, 5u);
    layout("/none", chunk, filters, maxd);
    EXPECT_EQ(chunk, 0u) << "an empty string column is not chunked";
    h5::handle t(H5Dget_type(h5::open_dataset(f, "/names").get()));
    EXPECT_GT(H5Tis_variable_str(t.get()), 0);
    EXPECT_EQ(H5Tget_cset(t.get()), H5T_CSET_UTF8);
  }
  {
    h5::handle f = h5::open_rw(path);
    h5::remove(f, "/a");
    EXPECT_FALSE(h5::exists(f, "/a/grow"));
    EXPECT_THROW(h5::remove(f, "/a"), runtime_failure);
    h5::write_vector<std::int64_t>(f, "/a/again", {7});
  }
  h5::handle f = h5::open_read(path);
  EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/a/again")),
            (std::vector<std::int64_t>{7}));
  std::ofstream(dir + "/text.h5") << "not hdf5";
  EXPECT_THROW(h5::open_rw(dir + "/text.h5"), input_error);
  EXPECT_THROW(h5::open_rw(dir + "/missing.h5"), input_error);
}

TEST(H5Layer, Attributes) {
  const std::string dir = test::scratch_dir("h5_attrs");
  const std::string path = dir + "/a.h5", ordered = dir + "/ordered.h5";
  {
    h5::handle f = h5::create(path);
    h5::set_attr(f, "zeta", std::string("first"));
    h5::set_attr(f, "alpha", 2.5);
    h5::set_attr(f, "count", std::int64_t{-7});
    h5::set_attr(f, "empty", std::string());
    h5::set_attr(f, "zeta", std::string("replaced"));  // an existing attribute is replaced
    // a variable-length string attribute, as h5py writes them
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f.get(), "vlen", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = "from h5py";
    H5Awrite(a, t, &text);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  h5::handle f = h5::open_read(path);
  std::string s;
  double d = 0;
  std::int64_t i = 0;
  EXPECT_TRUE(h5::get_attr(f, "zeta", s));
  EXPECT_EQ(s, "replaced");
  EXPECT_TRUE(h5::get_attr(f, "empty", s));
  EXPECT_EQ(s, "");
  EXPECT_TRUE(h5::get_attr(f, "vlen", s));
  EXPECT_EQ(s, "from h5py");
  EXPECT_TRUE(h5::get_attr(f, "alpha", d));
  EXPECT_EQ(d, 2.5);
  EXPECT_TRUE(h5::get_attr(f, "count", i));
  EXPECT_EQ(i, -7);
  EXPECT_TRUE(h5::get_attr(f, "count", d));  // converted by HDF5
  EXPECT_EQ(d, -7.0);
  EXPECT_FALSE(h5::get_attr(f, "alpha", s)) << "a number is not read as text";
  EXPECT_FALSE(h5::get_attr(f, "absent", s));
  EXPECT_FALSE(h5::get_attr(f, "absent", d));
  EXPECT_FALSE(h5::get_attr(f, "absent", i));
  EXPECT_FALSE(h5::get_attr(f, "zeta", d)) << "text does not convert to a number";
  // every name once (the order is HDF5's when creation order is not tracked)
  auto names = h5::attr_names(f);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "count", "empty", "vlen", "zeta"}));
  // with tracked creation order: in creation order
  {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    h5::handle o(H5Fcreate(ordered.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
    H5Pclose(fcpl);
    h5::set_attr(o, "b", 1.0);
    h5::set_attr(o, "a", 2.0);
    h5::set_attr(o, "c", std::string("x"));
  }
  EXPECT_EQ(h5::attr_names(h5::open_read(ordered)), (std::vector<std::string>{"b", "a", "c"}));
}

TEST(H5Layer, ErrorsAreChorusErrors) {
  const std::string dir = test::scratch_dir("h5_errors");
  const std::string path = dir + "/e.h5";
  {
    h5::handle f = h5::create(path);
    h5::create_group(f, "/grp/sub");
    auto d = h5::create_dataset<float>(f, "/grp/m", {2, 2});
    const float x[4] = {1, 2, 3, 4};
    h5::write_rows(d, 0, 2, x);
    h5::write_strings(f, "/names", {"a", "b"});
    h5::flush(f);
    // a rank-3 dataset
    hsize_t dims[3] = {2, 2, 2};
    hid_t sp = H5Screate_simple(3, dims, nullptr);
    hid_t r3 =
        H5Dcreate2(f.get(), "/cube", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(r3);
    H5Sclose(sp);
  }
  h5::handle f = h5::open_read(path);
  EXPECT_TRUE(h5::exists(f, "/grp/sub"));
  EXPECT_TRUE(h5::exists(f, "/"));
  EXPECT_FALSE(h5::exists(f, "/nothing/below"));
  EXPECT_FALSE(h5::exists(f, "/grp/nothing"));
  EXPECT_EQ(message_of([&] { h5::open_dataset(f, "/grp/x"); }), "dataset '/grp/x' is missing");
  EXPECT_EQ(message_of([&] { h5::open_dataset(f, "/grp/sub"); }), "'/grp/sub' is not a dataset");
  EXPECT_EQ(message_of([&] { h5::read_all<float>(h5::open_dataset(f, "/grp/m")); }),
            "expected a rank-1 dataset, found rank 2");
  EXPECT_EQ(message_of([&] { h5::read_strings(h5::open_dataset(f, "/grp/m")); }),
            "expected rank-1 strings");
  const std::string conv = message_of([&] { h5::read_all<double>(h5::open_dataset(f, "/names")); });
  EXPECT_EQ(conv.rfind("cannot read /names rows 0..2", 0), 0u) << conv;
  std::vector<float> out(8);
  EXPECT_THROW(h5::read_rows(h5::open_dataset(f, "/cube"), 0, 1, out.data()), runtime_failure);
  EXPECT_THROW(h5::read_rows(h5::open_dataset(f, "/grp/m"), 1, 2, out.data()), runtime_failure);
  EXPECT_EQ(h5::describe(h5::open_dataset(f, "/cube")).rank(), 3);
  // create: a missing directory; open: a directory, a missing file
  EXPECT_NE(message_of([&] {
              h5::create(dir + "/no/such/dir.h5");
            }).find("cannot create output file '" + dir + "/no/such/dir.h5'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { h5::open_read(dir); }).find("is a directory, not an HDF5 file"),
            std::string::npos);
  EXPECT_NE(message_of([&] { h5::open_read(dir + "/absent.h5"); }).find("no such file"),
            std::string::npos);
  {
    h5::handle w = h5::create(dir + "/w.h5");
    EXPECT_THROW(h5::create_dataset<float>(w, "/r3", {1, 2, 3}), runtime_failure);
    h5::create_dataset<float>(w, "/dup", {1});
    EXPECT_THROW(h5::create_dataset<float>(w, "/dup", {1}), runtime_failure);  // HDF5 refuses
  }
  // handles: moves leave the source empty; self-move keeps the object
  h5::handle a = h5::open_dataset(f, "/grp/m");
  h5::handle b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(b.valid());
  h5::handle& alias = b;
  b = std::move(alias);
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(h5::name_of(b), "/grp/m");
  a = std::move(b);
  EXPECT_TRUE(a.valid());
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(h5::name_of(h5::handle()), "?");
}

}  // namespace
