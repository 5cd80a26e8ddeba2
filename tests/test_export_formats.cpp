// chorus export, line by line on a five-account input whose graph is known (one cluster of four
// identical accounts): XML escaping, CSV quoting and the replacement of bytes that are not
// valid UTF-8 (or that XML forbids) in handles, optional columns, --min-size, overwrite rules,
// and damaged results files. The expected text is written out by hand.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/outputs/evidence.hpp"
#include "chorus/outputs/export.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::cli_test::exists;
using chorus::cli_test::slurp;
using chorus::test::message_of;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

// Handles: XML specials; tab, newline, CR; a leading space and a comma; a control character
// (valid UTF-8, forbidden in XML) before 3-, 4- and 2-byte characters.
const std::vector<std::string> kHandles = {"a&b<c>\"d'e", "t\tn\nr\r", " lead,comma",
                                           "\x01\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9", "alone"};

// Rows 0-3 identical in both views, row 4 unrelated: one cluster {0, 1, 2, 3} with 6 edges of
// similarity 1 and 2 co-active bins each; ids 1000 + 3 * row.
void write_input(const std::string& path, const std::vector<std::string>* handles) {
  h5::handle f = h5::create(path);
  h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{1000, 1003, 1006, 1009, 1012});
  const float e[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, -1};
  auto de = h5::create_dataset<float>(f, "/embedding", {5, 2});
  h5::write_rows(de, 0, 5, e);
  const std::int32_t a[20] = {1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 2, 0, 0, 5, 0, 1};
  auto da = h5::create_dataset<std::int32_t>(f, "/activity", {5, 4});
  h5::write_rows(da, 0, 5, a);
  if (handles) h5::write_strings(f, "/accounts/handle", *handles);
}

// Replace (or, with an empty vector and `remove_only`, delete) a dataset of a results file.
template <typename T>
void replace(const std::string& file, const std::string& name, const std::vector<T>& v,
             bool remove_only = false) {
  h5::handle f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  ASSERT_TRUE(f.valid()) << file;
  ASSERT_GE(H5Ldelete(f.get(), name.c_str(), H5P_DEFAULT), 0) << name;
  if (!remove_only) h5::write_vector(f, name, v);
}
void replace_strings(const std::string& file, const std::string& name,
                     const std::vector<std::string>& v) {
  h5::handle f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  ASSERT_GE(H5Ldelete(f.get(), name.c_str(), H5P_DEFAULT), 0) << name;
  h5::write_strings(f, name, v);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::size_t p = 0;
  while (p < s.size()) {
    std::size_t q = s.find('\n', p);
    if (q == std::string::npos) q = s.size();
    v.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return v;
}

class ExportFormats : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("exportf_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    in = dir + "/in.h5";
    res = dir + "/res.h5";
    write_input(in, &kHandles);
    detect(in, res, true);
  }
  void detect(const std::string& input, const std::string& out, bool evidence) {
    detect_options d;
    d.input = input;
    d.output = out;
    d.threads = 1;
    d.evidence = evidence;
    d.force = true;
    d.min_activity = 0;  // a toy input: 4 bins of a few posts each
    run_detect(d);
    h5::handle f = h5::open_read(out);
    ASSERT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/members")),
              (std::vector<std::int64_t>{0, 1, 2, 3}));
    ASSERT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src")),
              (std::vector<std::int64_t>{0, 0, 0, 1, 1, 2}));
  }
  std::string copy(const std::string& name) {
    const std::string p = dir + "/" + name;
    std::filesystem::copy_file(res, p, std::filesystem::copy_options::overwrite_existing);
    return p;
  }
  std::string dir, in, res;
};

const char* kEdges[6][2] = {{"0", "1"}, {"0", "2"}, {"0", "3"}, {"1", "2"}, {"1", "3"}, {"2", "3"}};

TEST_F(ExportFormats, GraphmlEscapesHandles) {
  const std::string out = dir + "/g.graphml";
  export_results(res, "graphml", out, 2, false);
  const auto l = lines(slurp(out));
  const std::string escaped[4] = {"a&amp;b&lt;c&gt;&quot;d&apos;e", "t&#9;n&#10;r&#13;",
                                  " lead,comma", kFFFD + "\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9"};
  std::vector<std::string> want_nodes;
  for (int i = 0; i < 4; ++i)
    want_nodes.push_back(
        "    <node id=\"n" + std::to_string(i) + "\"><data key=\"row\">" + std::to_string(i) +
        "</data><data key=\"account_id\">" + std::to_string(1000 + 3 * i) +
        "</data><data key=\"handle\">" + escaped[i] +
        "</data><data key=\"cluster\">0</data><data key=\"degree\">3</data></node>");
  std::vector<std::string> want_edges;
  for (auto& e : kEdges)
    want_edges.push_back(std::string("    <edge source=\"n") + e[0] + "\" target=\"n" + e[1] +
                         "\"><data key=\"sim_embedding\">1</data><data key=\"sim_activity\">1"
                         "</data><data key=\"coactive_count\">2</data></edge>");
  const auto node0 = std::find(l.begin(), l.end(), want_nodes[0]);
  ASSERT_NE(node0, l.end()) << slurp(out);
  EXPECT_EQ(std::vector<std::string>(node0, node0 + 4), want_nodes);
  EXPECT_EQ(std::vector<std::string>(node0 + 4, node0 + 10), want_edges);
  EXPECT_EQ(std::vector<std::string>(node0 + 10, l.end()),
            (std::vector<std::string>{"  </graph>", "</graphml>"}));
  EXPECT_NE(std::find(l.begin(), l.end(),
                      "  <key id=\"handle\" for=\"node\" attr.name=\"handle\" "
                      "attr.type=\"string\"/>"),
            l.end());
}

TEST_F(ExportFormats, GexfLabelsNodesByHandleOrId) {
  const std::string out = dir + "/g.gexf";
  export_results(res, "gexf", out, 1, false);
  std::string text = slurp(out);
  EXPECT_NE(text.find("      <node id=\"0\" label=\"a&amp;b&lt;c&gt;&quot;d&apos;e\"><attvalues>"
                      "<attvalue for=\"row\" value=\"0\"/><attvalue for=\"account_id\" "
                      "value=\"1000\"/><attvalue for=\"handle\" value=\"a&amp;b&lt;c&gt;&quot;d"
                      "&apos;e\"/><attvalue for=\"cluster\" value=\"0\"/><attvalue for=\"degree\" "
                      "value=\"3\"/></attvalues></node>\n"),
            std::string::npos)
      << text;
  for (int k = 0; k < 6; ++k)
    EXPECT_NE(text.find("      <edge id=\"" + std::to_string(k) + "\" source=\"" + kEdges[k][0] +
                        "\" target=\"" + kEdges[k][1] +
                        "\"><attvalues><attvalue for=\"sim_embedding\" value=\"1\"/><attvalue "
                        "for=\"sim_activity\" value=\"1\"/><attvalue for=\"coactive_count\" "
                        "value=\"2\"/></attvalues></edge>\n"),
              std::string::npos)
        << k << text;
  EXPECT_EQ(text.find("<node id=\"4\""), std::string::npos) << "the lone account is not exported";
  const std::string tail = "    </edges>\n  </graph>\n</gexf>\n";
  ASSERT_GT(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);

  // without evidence: no handles, no co-active counts; nodes are labelled by account id
  const std::string bare = dir + "/bare.h5";
  detect(in, bare, false);
  export_results(bare, "gexf", out, 1, true);
  text = slurp(out);
  EXPECT_NE(text.find("<node id=\"2\" label=\"1006\"><attvalues><attvalue for=\"row\" value=\"2\"/>"
                      "<attvalue for=\"account_id\" value=\"1006\"/><attvalue for=\"cluster\" "
                      "value=\"0\"/>"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("handle"), std::string::npos);
  EXPECT_EQ(text.find("coactive_count"), std::string::npos);
  export_results(bare, "graphml", dir + "/bare.graphml", 1, false);
  const std::string g = slurp(dir + "/bare.graphml");
  EXPECT_EQ(g.find("handle"), std::string::npos);
  EXPECT_EQ(g.find("coactive_count"), std::string::npos);
  EXPECT_NE(g.find("<edge source=\"n1\" target=\"n3\"><data key=\"sim_embedding\">1</data><data "
                   "key=\"sim_activity\">1</data></edge>"),
            std::string::npos)
      << g;
}

TEST_F(ExportFormats, CsvQuotesWhatNeedsQuoting) {
  const std::string out = dir + "/csv";
  export_results(res, "csv", out, 2, false);
  EXPECT_EQ(lines(slurp(out + "/members.csv")),
            (std::vector<std::string>{
                "cluster,row,account_id,handle,degree", "0,0,1000,\"a&b<c>\"\"d'e\",3",
                "0,1,1003,\"t\tn", "r\r\",3", "0,2,1006,\" lead,comma\",3",
                "0,3,1009," + kFFFD + "\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9,3"}));
  std::vector<std::string> want_edges = {
      "src,dst,src_account_id,dst_account_id,cluster,sim_embedding,sim_activity,coactive_count"};
  for (auto& e : kEdges)
    want_edges.push_back(std::string(e[0]) + "," + e[1] + "," +
                         std::to_string(1000 + 3 * std::stoi(e[0])) + "," +
                         std::to_string(1000 + 3 * std::stoi(e[1])) + ",0,1,1,2");
  EXPECT_EQ(lines(slurp(out + "/edges.csv")), want_edges);
  const auto c = lines(slurp(out + "/clusters.csv"));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0],
            "cluster,size,edges,density,mean_sim_embedding,min_sim_embedding,mean_sim_activity,"
            "min_sim_activity,activity_synchrony");
  EXPECT_EQ(c[1].rfind("0,4,6,1,", 0), 0u) << c[1];
  // the similarity columns are 1 up to rounding
  std::stringstream row(c[1].substr(8));
  std::string field;
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(std::getline(row, field, ',')) << c[1];
    EXPECT_NEAR(std::stod(field), 1.0, 1e-6) << c[1];
  }

  // numbers that are not finite, and optional datasets that are absent
  const std::string odd = copy("odd.h5");
  replace<double>(odd, "/clusters/density", {std::numeric_limits<double>::infinity()});
  replace<double>(odd, "/clusters/min_sim_activity", {-std::numeric_limits<double>::infinity()});
  replace<double>(odd, "/clusters/activity_synchrony", {}, true);
  replace<std::int64_t>(odd, "/clusters/edges", {}, true);
  export_results(odd, "csv", dir + "/odd", 1, false);
  const auto o = lines(slurp(dir + "/odd/clusters.csv"));
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[1].rfind("0,4,-1,inf,", 0), 0u) << o[1];
  EXPECT_EQ(o[1].substr(o[1].size() - 6), ",-inf,") << o[1];
}

TEST_F(ExportFormats, TruthColumnsWhenTheInputHasTruth) {
  const std::string with_truth = dir + "/truth_in.h5", out = dir + "/truth_res.h5";
  write_input(with_truth, nullptr);
  {
    h5::handle f(H5Fopen(with_truth.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    h5::write_vector(f, "/truth/cluster", std::vector<std::int64_t>{5, 5, 5, -1, -1});
  }
  detect(with_truth, out, true);
  export_results(out, "csv", dir + "/csv", 1, false);
  const auto c = lines(slurp(dir + "/csv/clusters.csv"));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NE(c[0].find(",activity_synchrony,truth_best,truth_precision,truth_recall"),
            std::string::npos);
  // found {0,1,2,3}, planted {0,1,2}: best 5, precision 3/4, recall 1
  EXPECT_EQ(c[1].substr(c[1].size() - 9), ",5,0.75,1") << c[1];
  // no handles in the input: no handle column
  EXPECT_EQ(lines(slurp(dir + "/csv/members.csv"))[0], "cluster,row,account_id,degree");
}

TEST_F(ExportFormats, InvalidBytesInStoredHandlesAreReplaced) {
  const std::string bad = copy("bad.h5");
  replace_strings(bad, "/evidence/cluster_member_handles",
                  {"\xC0\xAF\xEF\xBF\xBF",              // overlong 2-byte; U+FFFF
                   "\xE0\x80\xAF\xED\xA0\x80\xE2\x41",  // overlong 3-byte; surrogate; bad
                   "\xEF\xBF\xBE\xF0\x80\x80\x80",      // U+FFFE; overlong 4-byte
                   "\xF4\x90\x80\x80x\xFF\xE2\x82"});   // > U+10FFFF; FF; truncated
  export_results(bad, "csv", dir + "/csv", 2, false);
  auto rep = [](int k) {
    std::string s;
    for (int i = 0; i < k; ++i) s += kFFFD;
    return s;
  };
  EXPECT_EQ(
      lines(slurp(dir + "/csv/members.csv")),
      (std::vector<std::string>{"cluster,row,account_id,handle,degree", "0,0,1000," + rep(5) + ",3",
                                "0,1,1003," + rep(7) + "A,3", "0,2,1006," + rep(7) + ",3",
                                "0,3,1009," + rep(4) + "x" + rep(3) + ",3"}));
  // handles that do not match the members one to one are left out
  const std::string short_h = copy("short.h5");
  replace_strings(short_h, "/evidence/cluster_member_handles", {"x", "y", "z"});
  export_results(short_h, "graphml", dir + "/short.graphml", 2, false);
  EXPECT_EQ(slurp(dir + "/short.graphml").find("key=\"handle\""), std::string::npos);
}

TEST_F(ExportFormats, MinSizeSelectsClusters) {
  export_results(res, "csv", dir + "/csv", 5, false);
  EXPECT_EQ(lines(slurp(dir + "/csv/clusters.csv")).size(), 1u);
  EXPECT_EQ(lines(slurp(dir + "/csv/members.csv")).size(), 1u);
  EXPECT_EQ(lines(slurp(dir + "/csv/edges.csv")).size(), 1u);
  export_results(res, "graphml", dir + "/g.graphml", 5, false);
  EXPECT_EQ(slurp(dir + "/g.graphml").find("<node"), std::string::npos);
  export_results(res, "graphml", dir + "/g.graphml", 4, true);
  EXPECT_NE(slurp(dir + "/g.graphml").find("<node id=\"n3\""), std::string::npos);
}

TEST_F(ExportFormats, OptionsAndOutputsAreChecked) {
  const std::string g = dir + "/g.graphml";
  EXPECT_EQ(message_of([&] { export_results(res, "dot", g, 2, false); }),
            "unknown export format 'dot' (graphml, gexf, csv)");
  EXPECT_EQ(message_of([&] { export_results(res, "csv", g, 0, false); }),
            "--min-size must be >= 1, got 0");
  EXPECT_EQ(message_of([&] { export_results(res, "gexf", "", 2, false); }),
            "export needs an output path");
  EXPECT_EQ(message_of([&] { export_results(res, "graphml", dir, 2, true); }),
            "output '" + dir + "' is a directory");
  { std::ofstream(g) << "keep"; }
  EXPECT_EQ(message_of([&] { export_results(res, "graphml", g, 2, false); }),
            "output '" + g + "' exists (use --force to overwrite)");
  EXPECT_EQ(slurp(g), "keep");
  export_results(res, "graphml", g, 2, true);
  EXPECT_NE(slurp(g).find("</graphml>"), std::string::npos);
  // csv: a file where the directory should be; files already there; a missing parent
  EXPECT_EQ(message_of([&] { export_results(res, "csv", g, 2, true); }),
            "csv output '" + g + "' exists and is not a directory");
  export_results(res, "csv", dir + "/csv", 2, false);
  EXPECT_EQ(message_of([&] { export_results(res, "csv", dir + "/csv", 2, false); }),
            "output '" + dir + "/csv/clusters.csv' exists (use --force to overwrite)");
  export_results(res, "csv", dir + "/csv", 2, true);
  EXPECT_NE(message_of([&] {
              export_results(res, "csv", dir + "/no/csv", 2, false);
            }).find("cannot create output directory '" + dir + "/no/csv'"),
            std::string::npos);
  EXPECT_FALSE(exists(dir + "/no"));
  // an input file is not a results file
  EXPECT_EQ(message_of([&] { export_results(in, "csv", dir + "/x", 2, false); }),
            "'" + in + "' is not a chorus results file (no chorus_results attribute)");
  EXPECT_FALSE(exists(dir + "/x"));
}

TEST_F(ExportFormats, DamagedResultsAreRefused) {
  struct damage {
    const char* name;
    std::function<void(const std::string&)> apply;
    std::string message;
  };
  const std::vector<damage> cases = {
      {"labels",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/labels", {0, 0, 0, 0});
       },
       "' is damaged: /labels and /accounts/id differ in length"},
      {"offsets",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/clusters/offsets", {0, 3});
       },
       "' is damaged: cluster CSR is inconsistent"},
      {"offsets_count",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/clusters/offsets", {0, 2, 4});
       },
       "' is damaged: cluster CSR is inconsistent"},
      {"member",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/clusters/members", {0, 1, 2, 7});
       },
       "' is damaged: member row 7 out of range"},
      {"member_negative",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/clusters/members", {-1, 1, 2, 3});
       },
       "' is damaged: member row -1 out of range"},
      {"edge",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/edges/dst", {1, 2, 3, 2, 3, 5});
       },
       "results file is damaged: edge 5 has rows out of range"},
      {"edge_negative",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/edges/src", {0, 0, -2, 1, 1, 2});
       },
       "results file is damaged: edge 2 has rows out of range"},
  };
  for (const auto& c : cases) {
    const std::string p = copy(std::string("damaged_") + c.name + ".h5");
    c.apply(p);
    const std::string out = dir + "/" + c.name + ".graphml";
    const std::string msg = message_of([&] { export_results(p, "graphml", out, 1, false); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.name << ": " << msg;
    EXPECT_FALSE(exists(out)) << c.name;
  }
}

// add_evidence refuses a results file and an input that do not belong together, or a damaged
// results file, naming what differs; and replaces an earlier /evidence with the same content.
TEST_F(ExportFormats, EvidenceRefusesMismatchedFiles) {
  const std::vector<std::int32_t> counts = [&] {
    h5::handle f = h5::open_read(res);
    return h5::read_all<std::int32_t>(h5::open_dataset(f, "/evidence/edge_coactive_count"));
  }();
  EXPECT_EQ(counts, std::vector<std::int32_t>(6, 2));
  add_evidence(res, in);  // again: replaced, identical
  {
    h5::handle f = h5::open_read(res);
    EXPECT_EQ(h5::read_all<std::int32_t>(h5::open_dataset(f, "/evidence/edge_coactive_count")),
              counts);
  }
  struct damage {
    const char* name;
    std::function<void(const std::string&)> apply;
    std::string message;
  };
  const std::vector<damage> cases = {
      {"ids",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/accounts/id", {1000, 1003, 77, 1009, 1012});
       },
       "' row 2 has account id 1006 but the results say 77: not the input of this results file"},
      {"labels",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/labels", {0, 0, 0, 0});
       },
       "' is damaged: /labels has 4 rows, /accounts/id 5"},
      {"table", [](const std::string& p) { replace<std::int64_t>(p, "/clusters/offsets", {0}); },
       "' is damaged: cluster table and labels differ"},
      {"member",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/clusters/members", {0, 1, 2, 4});
       },
       "' is damaged: member row 4"},
      {"lengths",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/edges/dst", {1, 2, 3, 2, 3});
       },
       "' is damaged: /edges datasets differ in length"},
      {"edge",
       [](const std::string& p) {
         replace<std::int64_t>(p, "/edges/src", {0, 0, 0, 1, 1, 4});
       },
       "' is damaged: edge 5 (4, 3) does not join two members of one cluster"},
  };
  for (const auto& c : cases) {
    const std::string p = copy(std::string("ev_") + c.name + ".h5");
    c.apply(p);
    const std::string msg = message_of([&] { add_evidence(p, in); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.name << ": " << msg;
  }
  // an input whose activity has the wrong number of rows
  const std::string other = dir + "/other_in.h5";
  std::filesystem::copy_file(in, other);
  replace<std::int32_t>(other, "/activity", {1, 2, 3, 4, 5});
  EXPECT_NE(message_of([&] {
              add_evidence(res, other);
            }).find("input '" + other + "': /activity must be [5, T]"),
            std::string::npos);
}

// Fixed-length handles as h5py writes numpy 'S' arrays (null-padded, no terminator when a
// handle fills the width): accepted when valid UTF-8, and kept whole in the evidence and the
// exports. (Read as null-terminated, "caf\xc3\xa9" in S5 lost its last byte and the input was
// refused as invalid UTF-8, and "alice" became "alic".)
TEST(InputHandles, FullWidthFixedLengthHandlesStayWhole) {
  const std::string dir = test::scratch_dir("input_handles_fixed");
  const std::string in = dir + "/in.h5", res = dir + "/res.h5";
  {
    h5::handle f = h5::create(in);
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{1, 2, 3, 4});
    auto d = h5::create_dataset<float>(f, "/embedding", {4, 2});
    const float x[8] = {1, 1, 1, 1, 1, 1, 1, -1};
    h5::write_rows(d, 0, 4, x);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 5);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hsize_t n = 4;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t ds =
        H5Dcreate2(f.get(), "/accounts/handle", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char bytes[20] = {'c', 'a', 'f', '\xc3', '\xa9', 'b', 'o', 'b', 0, 0,
                            'a', 'l', 'i', 'c',    'e',    'e', 'v', 'e', 0, 0};
    H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
  }
  EXPECT_NO_THROW(check_handles(in));
  detect_options o;
  o.input = in;
  o.output = res;
  o.threads = 1;
  ASSERT_NO_THROW(run_detect(o));
  export_results(res, "csv", dir + "/csv", 2, false);
  EXPECT_EQ(lines(slurp(dir + "/csv/members.csv")),
            (std::vector<std::string>{"cluster,row,account_id,handle,degree", "0,0,1,caf\xc3\xa9,2",
                                      "0,1,2,bob,2", "0,2,3,alice,2"}));
}

// The input side of handles: only valid UTF-8 is accepted; the first bad byte is named.
TEST(InputHandles, Utf8IsValidatedByteByByte) {
  const std::string dir = test::scratch_dir("input_handles");
  struct one {
    std::string handle;
    long bad_offset;  // -1: valid
  };
  const std::vector<one> cases = {
      {"\xF4\x8F\xBF\xBF", -1},   // U+10FFFF, the largest code point
      {"\xED\x9F\xBF", -1},       // U+D7FF, just below the surrogates
      {"\xE0\xA0\x80", -1},       // U+0800, the smallest 3-byte form
      {"\xF0\x90\x80\x80", -1},   // U+10000, the smallest 4-byte form
      {"ok\xF4\x90\x80\x80", 2},  // above U+10FFFF
      {"\xED\xA0\x80", 0},        // a surrogate
      {"ab\xE0\x9F\xBF", 2},      // overlong 3-byte
      {"\xF0\x8F\xBF\xBF", 0},    // overlong 4-byte
      {"abc\xE2\x82", 3},         // truncated at the end
      {"\xE2\x28\xA1", 0},        // bad second byte
      {"\xF0\x90\x28\xBC", 0},    // bad third byte
      {"\xC1\xBF", 0},            // C1 lead
      {"x\xF5\x80\x80\x80", 1},   // F5 lead
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const std::string p = dir + "/h" + std::to_string(k) + ".h5";
    {
      h5::handle f = h5::create(p);
      h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{11, 12, 13});
      auto d = h5::create_dataset<float>(f, "/embedding", {3, 2});
      const float x[6] = {1, 0, 0, 1, 1, 1};
      h5::write_rows(d, 0, 3, x);
      h5::write_strings(f, "/accounts/handle", {"fine", "also fine", cases[k].handle});
    }
    if (cases[k].bad_offset < 0) {
      EXPECT_NO_THROW(check_handles(p, 2)) << k;
    } else {
      const std::string msg = message_of([&] { check_handles(p, 2); });
      EXPECT_EQ(msg,
                "/accounts/handle row 2 (account id 13) is not valid UTF-8 (bad byte at "
                "offset " +
                    std::to_string(cases[k].bad_offset) + "): re-encode the handles as UTF-8")
          << k;
    }
  }
  // a file without handles has nothing to check
  const std::string none = dir + "/none.h5";
  {
    h5::handle f = h5::create(none);
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{1});
  }
  EXPECT_NO_THROW(check_handles(none, 1));
}

}  // namespace
