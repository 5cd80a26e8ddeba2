// chorus export: GraphML / GEXF / CSV round trips (counts), overwrite rules, bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/outputs/evidence.hpp"
#include "chorus/outputs/export.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}
std::size_t lines(const std::string& text) { return count_of(text, "\n"); }

struct expected {
  std::int64_t nodes = 0, edges = 0, clusters = 0;
};

expected expect_for(const std::string& results, std::int64_t min_size) {
  h5::handle f = h5::open_read(results);
  auto size = h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/size"));
  auto labels = h5::read_all<std::int64_t>(h5::open_dataset(f, "/labels"));
  auto src = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src"));
  expected x;
  for (auto s : size)
    if (s >= min_size) x.nodes += s, ++x.clusters;
  for (auto s : src) x.edges += size[labels[s]] >= min_size;
  return x;
}

}  // namespace

TEST(Export, RoundTripCounts) {
  const std::string dir = test::scratch_dir("export");
  const generate_options g = test::generated(dir + "/in.h5", 3000, 32, 48, 5, 5);
  detect_options d;
  d.input = g.out;
  d.output = dir + "/res.h5";
  d.threads = 2;
  run_detect(d);
  add_evidence(d.output, d.input);

  for (std::int64_t min_size : {1, 20}) {
    expected x = expect_for(d.output, min_size);
    ASSERT_GT(x.edges, 0);
    const std::string tag = std::to_string(min_size);
    export_results(d.output, "graphml", dir + "/g" + tag + ".graphml", min_size, false);
    std::string gm = slurp(dir + "/g" + tag + ".graphml");
    EXPECT_EQ(count_of(gm, "<node "), static_cast<std::size_t>(x.nodes));
    EXPECT_EQ(count_of(gm, "<edge "), static_cast<std::size_t>(x.edges));
    EXPECT_NE(gm.find("attr.name=\"handle\""), std::string::npos);
    EXPECT_NE(gm.find("attr.name=\"coactive_count\""), std::string::npos);

    export_results(d.output, "gexf", dir + "/g" + tag + ".gexf", min_size, false);
    std::string gx = slurp(dir + "/g" + tag + ".gexf");
    EXPECT_EQ(count_of(gx, "<node "), static_cast<std::size_t>(x.nodes));
    EXPECT_EQ(count_of(gx, "<edge "), static_cast<std::size_t>(x.edges));
    // GEXF 1.2: Debian 12's networkx (2.8.8) cannot read 1.3 (tests/py/check_exports.py reads it)
    EXPECT_NE(gx.find("version=\"1.2\""), std::string::npos);
    EXPECT_NE(gx.find("xmlns=\"http://www.gexf.net/1.2draft\""), std::string::npos);

    const std::string csv = dir + "/csv" + tag;
    export_results(d.output, "csv", csv, min_size, false);
    EXPECT_EQ(lines(slurp(csv + "/clusters.csv")), static_cast<std::size_t>(x.clusters + 1));
    EXPECT_EQ(lines(slurp(csv + "/members.csv")), static_cast<std::size_t>(x.nodes + 1));
    EXPECT_EQ(lines(slurp(csv + "/edges.csv")), static_cast<std::size_t>(x.edges + 1));
  }

  // overwrite rules and bad input (exit code 2)
  EXPECT_THROW(export_results(d.output, "graphml", dir + "/g1.graphml", 1, false), input_error);
  EXPECT_NO_THROW(export_results(d.output, "graphml", dir + "/g1.graphml", 1, true));
  EXPECT_THROW(export_results(d.output, "csv", dir + "/csv1", 1, false), input_error);
  EXPECT_NO_THROW(export_results(d.output, "csv", dir + "/csv1", 1, true));
  EXPECT_THROW(export_results(d.output, "dot", dir + "/x.dot", 1, false), input_error);
  EXPECT_THROW(export_results(d.output, "gexf", dir + "/x.gexf", 0, false), input_error);
  EXPECT_THROW(export_results(g.out, "gexf", dir + "/x.gexf", 1, false), input_error);
  EXPECT_THROW(export_results(dir + "/missing.h5", "gexf", dir + "/x.gexf", 1, false), input_error);
  EXPECT_THROW(export_results(d.output, "gexf", dir + "/no/such/dir/x.gexf", 1, false),
               input_error);
  // no temporary files are left behind
  std::string ls;
  {
    std::string cmd =
        "ls -a '" + dir + "' '" + dir + "/csv1' | grep -c '\\.tmp\\.' > '" + dir + "/ls.txt'";
    (void)std::system(cmd.c_str());
    ls = slurp(dir + "/ls.txt");
  }
  EXPECT_EQ(ls, "0\n");
}
